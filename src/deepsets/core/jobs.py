"""What the executor's back ends share: a job (``Job``), its outcome (``Outcome``), the
call that runs it in a worker (``_call``: its progress and the files it saves go back
through a channel, and its exception carries its traceback and the node it ran on), and
the caller's end of that channel (``Channel``), which replays the progress and writes the
files, so workers need no shared filesystem.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from deepsets.core.failures import located
from deepsets.core.progress import Outbox, Progress, QueueOutbox, QueueProgress, Stop, replay
from deepsets.core.runfolder import write_bytes
from deepsets.core.shared import Shared, handles, value

#: How often a job runs again whose worker process died (killed, node lost).
RETRIES = 3


@dataclass(frozen=True)
class Job:
    """``fn(*args, progress=..., outbox=..., stop=...)`` (a ``Progress``, an ``Outbox``, a
    ``Stop``) under the name ``key``, asking for ``cpus`` and ``gpus``.

    With ``folder``, the files the job saves (``outbox.saved``) are written
    there by the caller. With ``again``, a job whose worker died runs again with the
    arguments it gives then (a sweep's run: the checkpoints that reached the caller), not
    those it started with (``renewed``).
    """

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    cpus: int = 1
    gpus: int = 0
    folder: Path | None = None
    again: Callable[[], tuple] | None = None


def renewed(job: Job) -> Job:
    """``job`` to run again after its worker died: with the arguments ``job.again`` gives
    now, each shared argument the one already made and handed out."""
    if job.again is None:
        return job
    return replace(job, args=tuple(old if isinstance(new, Shared) else new
                                   for old, new in zip(job.args, job.again(), strict=True)))


@dataclass(frozen=True)
class Outcome:
    """What a job returned, or the exception it raised."""

    key: str
    value: Any = None
    error: BaseException | None = None
    node: str = ""  # where it ran (``node_name``)


_CHANNEL = None  # a local worker's queue back to the caller, set when the worker starts


def _start_worker(channel) -> None:
    global _CHANNEL
    _CHANNEL = channel
    channel.put((None, ("worker", os.getpid())))


def cluster_node() -> str | None:
    """The Ray node this process runs on, by its address and the start of its id
    (``127.0.0.1 3f2a1c9e``); None off a cluster."""
    if "ray" not in sys.modules:  # a local worker never imports Ray
        return None
    import ray

    if not ray.is_initialized():
        return None
    return f"{ray.util.get_node_ip_address()} {ray.get_runtime_context().get_node_id()[:8]}"


def node_name() -> str:
    """Where a job ran: its Ray node, else this machine's name."""
    return cluster_node() or socket.gethostname()


def _call(fn: Callable[..., Any], args: tuple, key: str, report: bool, ship: bool,
          channel=None) -> tuple[Any, str]:
    """A job in a worker: ``fn`` with a progress and an outbox that talk to the caller;
    its value and the node it ran on. An exception carries its traceback as text and the
    node (``failures.located``)."""
    channel = channel if channel is not None else _CHANNEL
    progress = QueueProgress(channel, tag=key) if report else Progress()
    outbox = QueueOutbox(channel, tag=key) if ship else Outbox()
    try:
        return fn(*map(value, args), progress=progress, outbox=outbox, stop=Stop()), \
            node_name()
    except Exception as err:  # its traceback as text: pickling back drops the frames
        located(err, cluster_node())
        raise
    finally:
        progress.flush()


class Channel:
    """The caller's end: replays a worker's progress and writes the files it ships."""

    def __init__(self, jobs: Sequence[Job], progress: Progress | None, queue,
                 empty: type[Exception]) -> None:
        self.queue, self.empty = queue, empty  # the workers' queue; what an empty get raises
        self.folders = {job.key: job.folder for job in jobs}
        self.progress = progress
        self.finished: set[str] = set()  # jobs whose outcome is in: late files are stale
        self.pids: list[int] = []

    def handle(self, item: tuple) -> None:
        key, event = item
        if event[0] == "worker":
            self.pids.append(event[1])
        elif event[0] == "saved":
            folder = self.folders.get(key)
            if folder is not None and key not in self.finished:
                _, name, data = event
                write_bytes(folder / name, data)
        elif self.progress is not None:
            replay(event, self.progress)

    def drain(self) -> None:
        """Handle everything the workers have sent so far."""
        while True:
            try:
                self.handle(self.queue.get_nowait())
            except self.empty:
                return


def shared_by(jobs: Sequence[Job], put: Callable[[str, Any], Any]) -> list[Job]:
    """``jobs`` with each shared argument (``shared.Shared``) made once and ``put``."""
    return [replace(job, args=args) for job, args in
            zip(jobs, handles([job.args for job in jobs], put), strict=True)]
