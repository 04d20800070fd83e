"""A failed job's own story, told where it failed: its traceback and the line of the
user's code it failed in.

A job's exception travels from a worker process or a cluster node back to the caller by
pickling, which drops its traceback. ``located`` writes the traceback as text onto the
exception in the worker (``worker_traceback``), with the place it failed (``where``):
the deepest frame of the user's own code, e.g. ``mymodels/bug.py:17``. Both travel with
the exception (its ``__dict__`` is pickled), so the caller can print the whole traceback
(``--debug``) or end the failure's one line with ``(at mymodels/bug.py:17)``.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from pathlib import Path

#: Where library code lives: the standard library, installed packages, this package.
_LIBRARIES = tuple(str(Path(p).resolve()) + os.sep for p in {
    sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
    sysconfig.get_paths()["platlib"], str(Path(__file__).resolve().parents[1])})


def _shown(path: str, line: int) -> str:
    """``path:line``, the path relative to the current folder when it lies inside it."""
    try:
        path = os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) \
            else path
    except (OSError, ValueError):
        pass
    return f"{path}:{line}"


def where(error: BaseException) -> str | None:
    """The place ``error`` was raised in the user's code (a plug-in's file and line): the
    deepest frame of its traceback outside the libraries; None when it never reached the
    user's code (then the traceback tells)."""
    own = [f for f in traceback.extract_tb(error.__traceback__)
           if not str(Path(f.filename).resolve()).startswith(_LIBRARIES)
           and not f.filename.startswith("<")]
    return _shown(own[-1].filename, own[-1].lineno or 0) if own else None


def located(error: BaseException, node: str | None = None) -> BaseException:
    """``error`` with its traceback as text (``worker_traceback``), ``where`` it failed and
    the ``node`` it ran on (a cluster's), written onto it so that they survive pickling;
    returns it."""
    try:
        error.worker_traceback = "".join(traceback.format_exception(error))
        error.where = where(error)
        error.node = node
    except AttributeError:  # an exception that takes no attributes: it goes as it is
        pass
    return error


def traceback_text(error: BaseException) -> str:
    """The traceback of ``error`` where it was raised: the worker's, else its own."""
    return getattr(error, "worker_traceback", None) or "".join(
        traceback.format_exception(error))


def one_line(error: BaseException) -> str:
    """An exception as one line: its type, the first line of its message and, where they
    are known, the place it was raised and the cluster's node it ran on:
    ``RuntimeError: ... (at mymodels/bug.py:17, on node 10.0.0.7 3f2a1c9e)``."""
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    place, node = getattr(error, "where", None), getattr(error, "node", None)
    places = [text for known, text in ((place, f"at {place}"), (node, f"on node {node}"))
              if known]
    return f"{line} ({', '.join(places)})" if places else line
