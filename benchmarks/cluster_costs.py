"""What a multi-node Ray cluster costs a sweep, measured on this machine: Ray's cost per run
(many tiny runs through the cluster against the local back end), and what losing a node
mid-sweep costs. Each sweep is a whole `deepsets compare` process as a user runs it.

The cluster is Ray's own test cluster (``ray.cluster_utils.Cluster``): a head that runs
nothing and two worker nodes of one CPU each, every server on 127.0.0.1; the local back end
gets the same two CPUs (``--jobs 2``). Each run trains one epoch on 100 sets and scores
20 sets, so what a run costs besides its work is most of its time. Two sweep sizes
separate what a sweep pays once (starting, connecting, the outputs) from what each run
costs (the slope). Prints, for each back end and size, the wall time, runs per second,
the driver's CPU time and peak memory (``/usr/bin/time``); then each back end's cost per
run and once.

A node is lost as a machine is: every process on it killed at once (``lose``). The tests
of the cluster (tests/test_cluster.py) use this module's cluster and node loss.

    python benchmarks/cluster_costs.py [--runs 24,96] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def local_cluster(**worker_args):
    """Ray's test cluster on this machine: a head that runs nothing and two worker nodes of
    one CPU each (``worker_args`` for both), every server on 127.0.0.1."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray's loopback-only mode
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    ray_constants.ENABLE_RAY_CLUSTER = False
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                            "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1, **worker_args)
    return cluster


def running_tasks() -> list[int]:
    """The processes of this machine running a sweep's task (Ray names them ray::_call)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::_call"):
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def task_nodes(cluster) -> dict:
    """The worker nodes running a sweep's task now, each with the processes that run one
    (``running_tasks``): those its raylet started."""
    def parent(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

    raylets = {node.all_processes["raylet"][0].process.pid: node
               for node in cluster.worker_nodes}
    found: dict = {}
    for pid in running_tasks():
        if parent(pid) in raylets:
            found.setdefault(raylets[parent(pid)], []).append(pid)
    return found


def lose(cluster, node, tasks) -> None:
    """Lose ``node`` as a machine is lost: every process on it gone at once, its tasks'
    included (a raylet stopped alone leaves its workers to finish what they run)."""
    for pid in tasks:
        os.kill(pid, signal.SIGKILL)
    cluster.remove_node(node, allow_graceful=False)


def tiny(runs: int) -> list[str]:
    """A sweep of ``runs`` tiny runs: the sum task, DeepSets, one seed a run."""
    return ["--tasks", "sum", "--models", "deepsets", "--seeds", str(runs), "--epochs", "1",
            "--n-train", "100", "--n-per-card", "20", "--cards", "5"]


def timed(argv: list[str], out: Path) -> tuple[float, float, int]:
    """The wall seconds, the driver's CPU seconds (with its local workers') and its peak
    memory (KiB) of ``deepsets compare ARGV``."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "deepsets", "compare", *argv, "--out", str(out)]
    timer = ["/usr/bin/time", "-f", "usage %M %U %S"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    done = subprocess.run(timer + command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    usage = re.search(r"usage (\d+) ([\d.]+) ([\d.]+)", done.stderr)
    if usage is None:
        return seconds, float("nan"), 0
    return seconds, float(usage.group(2)) + float(usage.group(3)), int(usage.group(1))


#: A sweep of two runs that train for seconds, 6 epochs each; the Set Transformer's node
#: is lost once its checkpoint of epoch 3 reached the driver.
LOSS = ["--tasks", "sum", "--models", "set-transformer,gru", "--seeds", "1", "--epochs", "6",
        "--n-train", "20000", "--n-per-card", "100", "--cards", "5,10"]


def epoch_of(checkpoint: Path) -> int:
    from deepsets.core.runfolder import load_checkpoint

    try:
        return load_checkpoint(checkpoint)["epoch"]
    except ValueError:  # not written yet
        return 0


def node_loss(cluster, folder: Path) -> tuple[float, float, str]:
    """The wall time of the ``LOSS`` sweep on ``cluster`` uninterrupted, then with the node
    of a run lost (``lose``) once the Set Transformer's checkpoint of epoch 3 reached the
    driver, and which run lost its node."""
    address = ["--cluster", cluster.address]
    whole = timed(LOSS + address, folder / "whole")[0]
    out = folder / "lost"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "deepsets", "compare", *LOSS, *address,
                             "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = out / "sum-set-transformer-seed0" / "set-transformer.pt"
    while epoch_of(checkpoint) < 3:
        time.sleep(0.05)
    lose(cluster, *next(iter(task_nodes(cluster).items())))
    cluster.add_node(num_cpus=1)
    _, err = proc.communicate()
    lost = time.perf_counter() - start
    which = re.search(r"(\S+) lost its worker or node", err)
    return whole, lost, which.group(1) if which else "none (no run was cut)"


def overhead(cluster, folder: Path, sizes: tuple[int, int], repeat: int) -> None:
    """Print the tiny runs' table and each back end's cost per run and once."""
    backends = {"local, --jobs 2": ["--jobs", "2"],
                "cluster, 2 nodes": ["--cluster", cluster.address]}
    measured: dict[tuple[str, int], tuple[float, float, int]] = {}
    for _ in range(repeat):  # interleaved: the machine's drift hits all alike
        for runs in sizes:
            for name, flags in backends.items():
                got = timed(tiny(runs) + flags, folder / "sweep")
                best = measured.get((name, runs), (float("inf"), 0.0, 0))
                measured[name, runs] = min(best, got)
    print(f"tiny runs, best of {repeat} (python {sys.version.split()[0]})\n")
    print("| back end | runs | wall time (s) | runs per second | driver CPU (s) | "
          "driver peak (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for (name, runs), (seconds, cpu, peak) in measured.items():
        print(f"| {name} | {runs} | {seconds:.1f} | {runs / seconds:.2f} | {cpu:.1f} | "
              f"{peak / 1024:.0f} |")
    print()
    small, large = sizes
    for name in backends:
        slope = (measured[name, large][0] - measured[name, small][0]) / (large - small)
        once = measured[name, small][0] - slope * small
        print(f"{name}: {slope:.3f} s per run on 2 CPUs ({2 * slope:.3f} CPU-s), "
              f"{once:.1f} s once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="24,96", help="two sweep sizes, in tiny runs")
    parser.add_argument("--repeat", type=int, default=2, help="sweeps per back end, best kept")
    args = parser.parse_args()
    small, large = map(int, args.runs.split(","))
    cluster = local_cluster()
    try:
        with tempfile.TemporaryDirectory() as folder:
            overhead(cluster, Path(folder), (small, large), args.repeat)
            whole, lost, which = node_loss(cluster, Path(folder))
    finally:
        cluster.shutdown()
    print(f"\na node lost mid-sweep ({' '.join(LOSS)}): {which} lost its node; the sweep "
          f"took {lost:.1f} s against {whole:.1f} s uninterrupted ({lost - whole:+.1f} s)")


if __name__ == "__main__":
    main()
