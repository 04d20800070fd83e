"""Independent jobs side by side (``run_jobs``): in local worker processes (the default:
spawned, no server, no Ray import), in threads of this process (for work that runs outside
Python's lock) or on a Ray cluster (``connect_ray``).

A job is a picklable function called in a worker as ``fn(*args, progress=..., outbox=...,
stop=...)``. What it reports and the files it ships come back through a channel and the
caller replays and writes them, so workers need no shared filesystem. Outcomes come back
as jobs finish, each with the value or the job's own exception; a job whose worker died
runs again, up to ``RETRIES`` times. An argument many jobs share (``shared.Shared``: a
sweep's training sets) is made once, here, and each job gets it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from deepsets.core.cluster import run_ray
from deepsets.core.failures import located
from deepsets.core.jobs import (
    RETRIES,
    Channel,
    Job,
    Outcome,
    _call,
    _start_worker,
    renewed,
    shared_by,
)
from deepsets.core.progress import EventStop, Outbox, Progress, QueueProgress
from deepsets.core.shared import to_file

log = logging.getLogger(__name__)


def run_jobs(jobs: Sequence[Job], workers: int = 1, progress: Progress | None = None,
             cluster: str | None = None, threads: bool = False) -> Iterator[Outcome]:
    """Run ``jobs``; yield each ``Outcome`` as it finishes.

    Locally in up to ``workers`` processes (or, with ``threads``, threads), or
    on the Ray ``cluster``. With ``progress``, the jobs' own reports are
    replayed on it; without, they run silently. Leaving early (an exception,
    Ctrl-C) cancels the jobs not started and stops the ones running.
    """
    if threads:
        yield from _run_threads(shared_by(jobs, lambda key, made: made), workers, progress)
    elif cluster is None:
        with tempfile.TemporaryDirectory(prefix="deepsets-shared-") as folder:
            yield from _run_local(shared_by(jobs, to_file(Path(folder))), workers, progress)
    else:
        yield from run_ray(jobs, cluster, progress)


def _completed(futures: dict[Future, Job], channel: Channel) -> Iterator[tuple[Job, Future]]:
    """Each future with its job as it completes; the jobs' reports handled meanwhile."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
        channel.drain()
        for future in done:
            yield futures[future], future


def _run_threads(jobs: Sequence[Job], workers: int, progress: Progress | None
                 ) -> Iterator[Outcome]:
    inbox: SimpleQueue = SimpleQueue()
    channel = Channel(jobs, progress, inbox, Empty)
    stop = threading.Event()

    def call(job: Job) -> Any:  # a thread job writes its own files; it stops once told to
        job_progress = QueueProgress(inbox, tag=job.key) if progress is not None else Progress()
        try:
            return job.fn(*job.args, progress=job_progress, outbox=Outbox(),
                          stop=EventStop(stop))
        except Exception as err:
            located(err)
            raise
        finally:
            job_progress.flush()

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        for job, future in _completed({pool.submit(call, job): job for job in jobs}, channel):
            error = future.exception()
            channel.finished.add(job.key)
            yield Outcome(job.key, None if error else future.result(), error)
    finally:
        stop.set()  # the jobs still running stop at their next step
        pool.shutdown(wait=True, cancel_futures=True)
        channel.drain()


def _run_local(jobs: Sequence[Job], workers: int, progress: Progress | None
               ) -> Iterator[Outcome]:
    ctx = mp.get_context("spawn")
    channel = Channel(jobs, progress, None, Empty)
    tries = dict.fromkeys((job.key for job in jobs), 0)
    todo = list(jobs)
    while todo:  # a worker that died takes the pool down: its jobs run again in a new one
        retry: list[Job] = []
        # A new queue for every pool, read by a thread of its own: a worker killed while
        # writing leaves half a message, on which a read would wait forever. Only that
        # thread waits; the pool's jobs run again, with a new queue.
        queue = ctx.Queue()
        queue.cancel_join_thread()  # our one message (_END) may wait on a dead writer's lock
        channel.queue = inbox = SimpleQueue()
        reader = threading.Thread(target=_forward, args=(queue, inbox), daemon=True)
        reader.start()
        pool = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx,
                                   initializer=_start_worker, initargs=(queue,))
        finished = False
        try:
            futures = {pool.submit(_call, job.fn, job.args, job.key, progress is not None,
                                   job.folder is not None): job for job in todo}
            for job, future in _completed(futures, channel):
                error = future.exception()
                if isinstance(error, BrokenProcessPool) and tries[job.key] < RETRIES:
                    tries[job.key] += 1
                    retry.append(job)
                    continue
                channel.finished.add(job.key)
                value, node = (None, "") if error else future.result()
                yield Outcome(job.key, value, error, node)
            finished = True
        finally:
            pool.shutdown(wait=finished, cancel_futures=True)
            queue.put(_END)  # after all the workers' messages: the reader stops there
            reader.join(timeout=5 if finished else 0.5)
            channel.drain()
            if not finished:
                for pid in channel.pids:  # workers still inside a job: stop them now
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
        if retry:  # the checkpoints their workers shipped are in their folders now
            log.warning("a worker process died: %d jobs run again with what reached here "
                        "(%s)", len(retry), ", ".join(job.key for job in retry[:3])
                        + (", ..." if len(retry) > 3 else ""))
        todo = [renewed(job) for job in retry]


_END = "end"  # the last message on a local queue


def _forward(queue, inbox: SimpleQueue) -> None:
    """Move the workers' messages to ``inbox`` until ``_END`` (or, on half a message, wait)."""
    while (item := queue.get()) != _END:
        inbox.put(item)
