"""Independent jobs side by side in local worker processes: a lab's models, a sweep's runs.

A job is a picklable function and its arguments. Each runs in a worker
process started fresh (``spawn``: no inherited threads or locks) as
``fn(*args, progress=...)``; its progress reaches the caller's ``Progress``
through a queue. Results come back as jobs finish, each as an ``Outcome``
holding the value or the exception the job raised (the original type), so
the caller decides whether one failure stops the others.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from queue import Empty
from typing import Any

from deepsets.progress import Progress, QueueProgress, replay


@dataclass(frozen=True)
class Job:
    """``fn(*args, progress=...)`` under the name ``key``."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()


@dataclass(frozen=True)
class Outcome:
    """What a job returned, or the exception it raised."""

    key: str
    value: Any = None
    error: BaseException | None = None


_QUEUE = None  # a worker's channel back to the caller, set when the worker starts


def _start_worker(queue) -> None:
    global _QUEUE
    _QUEUE = queue
    queue.put(("worker", os.getpid()))


def _call(fn: Callable[..., Any], args: tuple, report: bool) -> Any:
    progress = QueueProgress(_QUEUE) if report else Progress()
    try:
        return fn(*args, progress=progress)
    finally:
        progress.flush()


def run_jobs(jobs: Sequence[Job], workers: int, progress: Progress | None = None
             ) -> Iterator[Outcome]:
    """Run ``jobs`` in up to ``workers`` processes; yield each ``Outcome`` as it finishes.

    With ``progress``, the jobs' own reports (bars, epoch lines) are replayed
    on it; without, the jobs run silently. Leaving early (an exception, Ctrl-C)
    cancels the jobs not started and stops the workers.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    pids: list[int] = []

    def drain() -> None:
        while True:
            try:
                event = queue.get_nowait()
            except Empty:
                return
            if event[0] == "worker":
                pids.append(event[1])
            elif progress is not None:
                replay(event, progress)

    pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx,
                               initializer=_start_worker, initargs=(queue,))
    finished = False
    try:
        futures = {pool.submit(_call, job.fn, job.args, progress is not None): job.key
                   for job in jobs}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                error = future.exception()
                yield Outcome(futures[future], None if error else future.result(), error)
        drain()
        finished = True
    finally:
        pool.shutdown(wait=finished, cancel_futures=True)
        if not finished:
            drain()
            for pid in pids:  # workers still inside a job: stop them now
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
