"""The executor's Ray back end: jobs as Ray tasks on a cluster of one node or many.

``connect_ray`` joins a running cluster by its address, after a quick look that something
answers there (a wrong address is one line within seconds, not Ray's retries), or starts a
cluster of one node on this machine (``local-ray``). ``run_ray`` sends each job as a task
asking for its CPUs and GPUs. The channel back (a Ray queue actor) lives on the caller's
own node, so that losing a worker node cannot take it down. A job whose worker or node
died runs again from the caller, up to ``jobs.RETRIES`` times, with the arguments it gives
then (``jobs.renewed``: a sweep's run continues from the last checkpoint that reached the
caller), not Ray's own retry, which would start it from its first arguments.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import socket
import sys
from collections.abc import Iterator, Sequence

from deepsets.core.jobs import RETRIES, Channel, Job, Outcome, _call, renewed, shared_by
from deepsets.core.progress import Progress
from deepsets.core.shared import SharedRef

log = logging.getLogger(__name__)

#: How long ``connect_ray`` waits for an address to answer before it says nothing does.
ANSWER_SECONDS = 5.0


def check_cluster(cluster: str | None) -> None:
    """The errors ``connect_ray`` raises before it connects, for a caller to raise before
    it writes anything: no Ray installed, ``local-ray`` with authentication turned off, an
    address where nothing answers."""
    if cluster is None:
        return
    if cluster == "local-ray" and os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        raise ValueError("--cluster local-ray keeps Ray's token authentication on; "
                         "unset RAY_AUTH_MODE=disabled")
    if importlib.util.find_spec("ray") is None:
        raise ValueError("--cluster needs Ray: pip install 'deepsets[ray]'")
    if cluster not in ("local-ray", "auto"):
        check_address(cluster)


@functools.cache  # once a process: a sweep checks before it writes, and again to connect
def check_address(cluster: str) -> None:
    """That something answers at ``cluster`` (``check_answers``) and, at a cluster's control
    store (``HOST:PORT``), takes this machine's token (``check_token``). Raises
    ValueError; an address that passed is not tried again."""
    check_answers(cluster)
    if not cluster.startswith("ray://"):
        check_token(cluster)


def check_answers(cluster: str) -> None:
    """A ValueError, at once, where nothing listens at the address ``HOST:PORT`` or
    ``ray://HOST:PORT`` (Ray itself would retry for a minute and more)."""
    host, _, port = cluster.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--cluster {cluster}: give HOST:PORT, ray://HOST:PORT, auto or "
                         "local-ray")
    try:
        socket.create_connection((host.strip("[]"), int(port)), ANSWER_SECONDS).close()
    except OSError as err:
        raise ValueError(f"no Ray cluster answers at {cluster} "
                         f"({err.strerror or type(err).__name__})") from None


def check_token(cluster: str) -> None:
    """A ValueError, at once, where the cluster at ``HOST:PORT`` refuses this machine's
    token (Ray's connection would retry for 20 s and more, printing a warning a second):
    one call to its control store (GCS), Ray's own warning silenced."""
    import ray
    from ray._raylet import GcsClient  # Ray's client of a cluster's control store

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)  # Ray's C++ writes its warning there
        GcsClient(address=cluster)
    except ray.exceptions.AuthenticationError:
        raise ValueError(f"the Ray cluster at {cluster} refuses this machine's token: give "
                         "it the cluster's with RAY_AUTH_TOKEN, or copy the head's "
                         "~/.ray/auth_token here") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def connect_ray(cluster: str, cpus: int | None = None) -> bool:
    """Connect to the Ray ``cluster``, or start one (``local-ray``); True if started here.

    ``local-ray`` starts a new instance of its own (never one running here already),
    binds every Ray server to 127.0.0.1 (Ray's own loopback-only mode, set before Ray is
    imported) and keeps Ray's token authentication on, which Ray turns on by default for a
    local instance.
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
        ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                 log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"PYTHONPATH": path}})
        return True
    try:
        ray.init(address=cluster, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as err:  # no cluster, or it refused us
        raise ValueError(f"cannot connect to the Ray cluster at {cluster}: "
                         f"{str(err).strip().splitlines()[0]}") from None
    return False


def unimportable(error: BaseException) -> ImportError | None:
    """Where a node could not import the package (or what a job's arguments need) before the
    job began: an ImportError naming the module's error and the node, from Ray's message
    (``ray::_call() (pid=..., ip=10.0.0.7)`` and its traceback's last line); else None. A
    job that began has its own error, which says where it ran (``jobs._call``)."""
    cause = getattr(error, "cause", None)
    text = str(error)
    last = [line.strip() for line in text.splitlines() if line.strip()][-1:] or [""]
    if hasattr(cause, "worker_traceback") or \
            not last[0].startswith(("ImportError", "ModuleNotFoundError")):
        return None
    failure = ImportError(f"the node cannot import the package: {last[0]}")
    found = re.search(r"ip=([^,)\s]+)", text)
    failure.node = found.group(1) if found else None  # type: ignore[attr-defined]
    return failure


def run_ray(jobs: Sequence[Job], cluster: str, progress: Progress | None
            ) -> Iterator[Outcome]:
    """Run ``jobs`` as Ray tasks on ``cluster``; yield each ``Outcome`` as it finishes.
    Leaving early (an exception, Ctrl-C) cancels every task still running, on any node."""
    import ray
    from ray.util.queue import Empty as RayEmpty
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    started = connect_ray(cluster)
    jobs = shared_by(jobs, lambda key, made: SharedRef(ray.put(made)))
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": here})
    channel = Channel(jobs, progress, queue, RayEmpty)
    call = ray.remote(_call)
    # what a task fails with when its worker or its node is gone (or killed for memory)
    lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
            ray.exceptions.LocalRayletDiedError, ray.exceptions.ObjectLostError,
            ray.exceptions.OutOfMemoryError)

    def submit(job: Job) -> ray.ObjectRef:
        return call.options(num_cpus=job.cpus, num_gpus=job.gpus, max_retries=0).remote(
            job.fn, job.args, job.key, progress is not None, job.folder is not None, queue)

    running = {submit(job): job for job in jobs}
    tries = dict.fromkeys((job.key for job in jobs), 0)
    try:
        while running:
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.1)
            channel.drain()
            for ref in done:
                job = running.pop(ref)
                try:
                    value, node = ray.get(ref)
                except ray.exceptions.RayTaskError as err:  # the job raised: its own error
                    outcome = Outcome(job.key, error=unimportable(err) or err.cause or err)
                except lost as err:  # its worker or its node died
                    if tries[job.key] < RETRIES:
                        tries[job.key] += 1
                        log.warning("%s lost its worker or node (%s); it runs again with "
                                    "what reached here", job.key, type(err).__name__)
                        channel.drain()  # the checkpoints it shipped before it died
                        fresh = renewed(job)
                        running[submit(fresh)] = fresh
                        continue
                    outcome = Outcome(job.key, error=RuntimeError(
                        f"{job.key}: {type(err).__name__}: {str(err).splitlines()[0]}"))
                except ray.exceptions.RayError as err:  # Ray's own failure: said as it is
                    outcome = Outcome(job.key, error=RuntimeError(
                        f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"))
                else:
                    outcome = Outcome(job.key, value, node=node)
                channel.finished.add(job.key)
                yield outcome
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        channel.drain()
        ray.kill(queue.actor)
        if started:
            ray.shutdown()
