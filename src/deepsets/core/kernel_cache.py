"""The compiled kernels' cache (``load_or_build``): one build per source and torch
installation, shared by any number of processes and environments, any of which may be
killed at any moment.

A build compiles in a private scratch folder and is renamed into place, so a reader finds
a finished build or nothing; the key names the source, torch's version and location,
Python and the CPU; one build at a time under an ``fcntl.flock`` that dies with its
holder, and a bounded, announced wait; a build prunes what it supersedes. The cache is
``$DEEPSETS_CACHE``, else ``$XDG_CACHE_HOME/deepsets``, else ``~/.cache/deepsets``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import torch

try:
    import fcntl
except ImportError:  # no flock on this platform: two builds at once only cost time
    fcntl = None

log = logging.getLogger(__name__)

#: Moves the cache (the folder that holds the ``kernels-*`` builds).
CACHE = "DEEPSETS_CACHE"
#: What a finished build records: its library, and what it was built for.
RECORD = "build.json"
#: How often a waiting process looks at the lock again, in seconds.
POLL = 0.2


class Unavailable(Exception):
    """Why there is no compiled library, in words that complete "PyTorch's kernels (...)"."""


def cache_root() -> Path:
    """``$DEEPSETS_CACHE``, else ``$XDG_CACHE_HOME/deepsets``, else ``~/.cache/deepsets``."""
    if os.environ.get(CACHE):
        return Path(os.environ[CACHE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deepsets"


def cpu_signature() -> str:
    """What the compiled code depends on about this CPU: its model and instruction sets."""
    lines = []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "flags")):
                    lines.append(line.strip())
                if len(lines) == 2:
                    break
    except OSError:
        pass
    return platform.machine() + "|" + "|".join(lines)


def torch_installation() -> str:
    """The folder of the torch this process imported: one build per installation."""
    return str(Path(torch.__file__).resolve().parent)


def target() -> dict:
    """What a build is for besides its source: recorded in it, and part of its key."""
    return {"torch": torch_installation(), "torch_version": torch.__version__,
            "python": sys.version, "cpu": cpu_signature()}


def build_key(source: str, cflags: list[str]) -> str:
    """The name of the build of ``source`` with ``cflags`` for this process's torch."""
    parts = [source, *cflags, *target().values()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_or_build(name: str, source_file: Path, cflags: list[str], *, wait: float,
                  root: Path | None = None) -> tuple[ModuleType, str]:
    """The extension ``name`` compiled from ``source_file``, and how it was had ("cached
    in DIR", "built in N s in DIR"); builds it the first time.

    Raises ``Unavailable`` when the source cannot be read, the build fails or another
    process's build of it outlasts ``wait`` seconds; KeyboardInterrupt passes through.
    """
    try:
        source = Path(source_file).read_text()
    except (OSError, UnicodeError) as err:
        raise Unavailable(f"the compiled ones' source cannot be read: {err}") from err
    root = cache_root() if root is None else Path(root)
    folder = root / f"kernels-{build_key(source, cflags)}"
    module = import_built(folder)
    if module is not None:
        return module, f"cached in {folder}"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise Unavailable(f"the cache cannot be written: {err}") from err
    with build_lock(folder, wait):
        module = import_built(folder)  # built by the process we waited for
        if module is not None:
            return module, f"cached in {folder}"
        discard(folder)  # a build that does not import (files changed under it): again
        began = time.perf_counter()
        try:
            module = build(name, source_file.name, source, cflags, folder)
        except Exception as err:  # no compiler, no ninja, a failed build
            raise Unavailable(f"the compiled ones did not build: {err}") from err
        prune(root, folder)
    return module, f"built in {time.perf_counter() - began:.0f} s in {folder}"


def import_built(folder: Path) -> ModuleType | None:
    """The library of the finished build ``folder``, imported; None when there is none
    (or it no longer imports)."""
    try:
        library = folder / json.loads((folder / RECORD).read_text())["library"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    spec = importlib.util.spec_from_file_location(library.name.split(".")[0], library)
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError) as err:
        log.warning("deepsets: the cached kernels in %s do not load (%s)", folder, err)
        return None
    return module


@contextmanager
def build_lock(folder: Path, wait: float) -> Iterator[None]:
    """Hold ``folder``'s lock file for the block. When another process holds it, say so in
    one line and wait for it, at most ``wait`` seconds (then ``Unavailable``)."""
    if fcntl is None:
        yield
        return
    path = Path(f"{folder}.lock")
    with open(path, "a") as lock:  # "a": created if missing, never truncated
        if not try_lock(lock):
            log.warning("deepsets: waiting for another process to finish building the "
                        "training kernels in %s (at most %.0f s)", folder, wait)
            deadline = time.monotonic() + wait
            while not try_lock(lock):
                if time.monotonic() >= deadline:
                    raise Unavailable(f"another process was still building the compiled "
                                      f"ones after {wait:.0f} s") from None
                time.sleep(POLL)
        try:
            yield
        finally:
            # Held, so no build is under way. Whoever takes the lock after this
            # (through this file or a new one) looks for the finished build first.
            path.unlink(missing_ok=True)
    # closing the file released the lock


def try_lock(lock) -> bool:
    """Take the flock of the open file ``lock`` if no other holder has it."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def build(name: str, file_name: str, source: str, cflags: list[str], folder: Path
          ) -> ModuleType:
    """Compile ``source`` in a scratch folder beside ``folder``, rename it into place and
    return the library it imported."""
    from torch.utils.cpp_extension import load as compile_and_load

    if shutil.which("ninja") is None:  # the ninja package's, when the venv is not on PATH
        import ninja

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    log.warning("deepsets: compiling the training kernels (once for this torch; under a "
                "minute) into %s", folder)
    scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}.build-", dir=folder.parent))
    scratch.chmod(0o755)  # as any folder of the cache (mkdtemp makes it private)
    try:
        copy = scratch / file_name  # the very text the key was made from
        copy.write_text(source)
        module = compile_and_load(name, [str(copy)], extra_cflags=cflags,
                                  build_directory=str(scratch), verbose=False)
        record = {"library": Path(module.__file__).name, **target(),
                  "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
                  "cflags": cflags}
        (scratch / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        try:
            os.rename(scratch, folder)
        except OSError:
            if import_built(folder) is None:  # not another build that got there first
                raise
        return module
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already once renamed


def superseded(folder: Path, mine: dict) -> bool:
    """Whether the finished build ``folder`` is one the current build replaces: built for
    the same torch installation on the same CPU, for a torch installation that is gone,
    or of the older layout (no record)."""
    try:
        built_for = json.loads((folder / RECORD).read_text())
        installation, cpu = built_for["torch"], built_for["cpu"]
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return (installation, cpu) == (mine["torch"], mine["cpu"]) or not Path(installation).is_dir()


def prune(root: Path, current: Path) -> list[Path]:
    """Remove from ``root`` what the build ``current`` supersedes (``superseded``), the
    scratch folders of builds that died and lock files left alone; returns what went.
    Call it holding ``current``'s lock."""
    mine, removed = target(), []
    entries = sorted(root.glob("kernels-*"))
    for entry in entries:
        base, _, kind = entry.name.partition(".")
        if base == current.name and kind in ("", "lock"):
            continue
        if kind == "" and entry.is_dir():
            gone = superseded(entry, mine) and discard(entry)
        elif kind.startswith("build-"):
            # a build of ours that died (we hold our lock), another's whose lock is free
            gone = base == current.name or not locked_elsewhere(root / f"{base}.lock")
            gone = gone and discard(entry)
        elif kind.startswith("trash-"):  # a removal that was cut off
            gone = discard(entry)
        else:
            continue
        if gone:
            removed.append(entry)
    for lock in root.glob("kernels-*.lock"):  # a lock whose builds are all gone
        base = lock.name.removesuffix(".lock")
        alone = all(entry == lock for entry in root.glob(f"{base}*"))
        if base != current.name and alone and not locked_elsewhere(lock):
            lock.unlink(missing_ok=True)
            removed.append(lock)
    return removed


def locked_elsewhere(lock_file: Path) -> bool:
    """Whether a live process holds ``lock_file`` (a build in progress)."""
    if fcntl is None:
        return False
    try:
        with open(lock_file) as lock:
            return not try_lock(lock)
    except OSError:  # no such file: no one holds it
        return False


def discard(folder: Path) -> bool:
    """Remove ``folder`` (False when it is not there): renamed aside first, so that no
    reader ever sees part of a build."""
    if not folder.name.partition(".")[2].startswith("trash-"):
        aside = folder.with_name(f"{folder.name}.trash-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.rename(folder, aside)
        except FileNotFoundError:
            return False
        folder = aside
    shutil.rmtree(folder, ignore_errors=True)
    return True
