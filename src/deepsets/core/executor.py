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

import importlib.util
import multiprocessing as mp
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from deepsets.core.failures import located
from deepsets.core.progress import (
    EventStop,
    Outbox,
    Progress,
    QueueOutbox,
    QueueProgress,
    Stop,
    replay,
)
from deepsets.core.runfolder import write_bytes
from deepsets.core.shared import SharedRef, handles, to_file, value

#: How often a job runs again whose worker process died (killed, node lost).
RETRIES = 3


@dataclass(frozen=True)
class Job:
    """``fn(*args, progress=..., outbox=..., stop=...)`` (a ``Progress``, an ``Outbox``, a
    ``Stop``) under the name ``key``, asking for ``cpus`` and ``gpus``.

    With ``folder``, the files the job saves (``outbox.saved``) are written
    there by the caller.
    """

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    cpus: int = 1
    gpus: int = 0
    folder: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """What a job returned, or the exception it raised."""

    key: str
    value: Any = None
    error: BaseException | None = None


_CHANNEL = None  # a local worker's queue back to the caller, set when the worker starts


def _start_worker(channel) -> None:
    global _CHANNEL
    _CHANNEL = channel
    channel.put((None, ("worker", os.getpid())))


def _call(fn: Callable[..., Any], args: tuple, key: str, report: bool, ship: bool,
          channel=None) -> Any:
    """A job in a worker: ``fn`` with a progress and an outbox that talk to the caller."""
    channel = channel if channel is not None else _CHANNEL
    progress = QueueProgress(channel, tag=key) if report else Progress()
    outbox = QueueOutbox(channel, tag=key) if ship else Outbox()
    try:
        return fn(*map(value, args), progress=progress, outbox=outbox, stop=Stop())
    except Exception as err:  # its traceback as text: pickling back drops the frames
        located(err)
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
        yield from _run_ray(jobs, cluster, progress)


def shared_by(jobs: Sequence[Job], put: Callable[[str, Any], Any]) -> list[Job]:
    """``jobs`` with each shared argument (``shared.Shared``) made once and ``put``."""
    return [replace(job, args=args) for job, args in
            zip(jobs, handles([job.args for job in jobs], put), strict=True)]


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
                yield Outcome(job.key, None if error else future.result(), error)
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
        todo = retry


_END = "end"  # the last message on a local queue


def _forward(queue, inbox: SimpleQueue) -> None:
    """Move the workers' messages to ``inbox`` until ``_END`` (or, on half a message, wait)."""
    while (item := queue.get()) != _END:
        inbox.put(item)


def check_cluster(cluster: str | None) -> None:
    """The errors ``connect_ray`` raises before it connects, for a caller to raise before
    it writes anything: no Ray installed, ``local-ray`` with authentication turned off."""
    if cluster is None:
        return
    if cluster == "local-ray" and os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        raise ValueError("--cluster local-ray keeps Ray's token authentication on; "
                         "unset RAY_AUTH_MODE=disabled")
    if importlib.util.find_spec("ray") is None:
        raise ValueError("--cluster needs Ray: pip install 'deepsets[ray]'")


def connect_ray(cluster: str, cpus: int | None = None) -> bool:
    """Connect to the Ray ``cluster``, or start one (``local-ray``); True if started here.

    ``local-ray`` binds every Ray server to 127.0.0.1 (Ray's own loopback-only
    mode, set before Ray is imported) and keeps Ray's token authentication on,
    which Ray turns on by default for a local instance.
    """
    check_cluster(cluster)
    if cluster == "local-ray":
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray's servers: 127.0.0.1
    import ray

    if ray.is_initialized():
        return False
    if cluster == "local-ray":
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # read at start-up, if Ray came in before
        # the workers import what this process can: the package, plug-in models
        path = os.pathsep.join(p for p in sys.path if p)
        ray.init(address="local",  # a new instance: never one running here already
                 num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
        return True
    try:
        ray.init(address=cluster, log_to_driver=False, configure_logging=False)
    except ConnectionError as err:
        raise ValueError(f"cannot connect to the Ray cluster at {cluster}: {err}") from None
    return False


def _run_ray(jobs: Sequence[Job], cluster: str, progress: Progress | None
             ) -> Iterator[Outcome]:
    import ray
    from ray.util.queue import Empty as RayEmpty
    from ray.util.queue import Queue

    started = connect_ray(cluster)
    jobs = shared_by(jobs, lambda key, made: SharedRef(ray.put(made)))
    queue = Queue(actor_options={"num_cpus": 0})
    channel = Channel(jobs, progress, queue, RayEmpty)
    call = ray.remote(_call)
    refs = {call.options(num_cpus=job.cpus, num_gpus=job.gpus, max_retries=RETRIES)
            .remote(job.fn, job.args, job.key, progress is not None, job.folder is not None,
                    queue): job.key for job in jobs}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.1)
            channel.drain()
            for ref in done:
                key = refs[ref]
                channel.finished.add(key)
                try:
                    yield Outcome(key, ray.get(ref))
                except ray.exceptions.RayTaskError as err:  # the job raised: its own error
                    yield Outcome(key, error=err.cause if err.cause is not None else err)
                except ray.exceptions.RayError as err:  # its worker died every try
                    yield Outcome(key, error=RuntimeError(f"{key}: {type(err).__name__}: "
                                                          f"{str(err).splitlines()[0]}"))
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        channel.drain()
        ray.kill(queue.actor)
        if started:
            ray.shutdown()
