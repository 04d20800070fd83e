"""Values that many jobs read, made once: a sweep's training sets, one per (task, seed), for
every model's run.

A job's arguments may hold ``Shared(key, make)``. ``executor.run_jobs`` makes each key's
value once, in the caller, and hands each job a handle to it (``handles``):

- threads of the caller: the value itself;
- local worker processes: the value pickled once into a private folder of the caller
  (``SharedFile``), read by a worker the first time one of its jobs needs it and kept
  for its next jobs (``value``);
- Ray: the value put once in the object store (``SharedRef``), which shares it between
  the workers of a node (its arrays are read in place).

A worker turns a handle back into the value with ``value``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Shared:
    """A value that ``make`` makes, the same for every job that names ``key``."""

    key: str
    make: Callable[[], Any]


@dataclass(frozen=True)
class SharedFile:
    """A shared value pickled in a file of the caller's (local workers)."""

    path: str


@dataclass(frozen=True)
class SharedRef:
    """A shared value in Ray's object store."""

    ref: Any


def handles(arg_lists: Sequence[tuple], put: Callable[[str, Any], Any]) -> list[tuple]:
    """Each tuple of job arguments with every ``Shared`` replaced by ``put(key, value)``,
    each key's value made (and put) once."""
    made: dict[str, Any] = {}

    def handle(arg: Any) -> Any:
        if not isinstance(arg, Shared):
            return arg
        if arg.key not in made:
            made[arg.key] = put(arg.key, arg.make())
        return made[arg.key]
    return [tuple(handle(a) for a in args) for args in arg_lists]


def to_file(folder: Path) -> Callable[[str, Any], SharedFile]:
    """A ``put`` for local workers: each value pickled into ``folder``, one file a key."""
    def put(key: str, value: Any) -> SharedFile:
        path = Path(folder) / f"{len(list(Path(folder).iterdir()))}.pickle"
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        return SharedFile(str(path))
    return put


@lru_cache(maxsize=2)  # a worker runs the runs of one (task, seed) one after another
def _read(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


def value(arg: Any) -> Any:
    """A job's argument as the job reads it: a shared value's handle turned back into the
    value (read once per worker), any other argument as it is."""
    if isinstance(arg, SharedFile):
        return _read(arg.path)
    if isinstance(arg, SharedRef):
        import ray

        return ray.get(arg.ref)
    return arg
