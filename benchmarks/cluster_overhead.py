"""Ray's cost per run: many tiny runs through a multi-node Ray cluster on this machine
against the local back end, each a whole `deepsets compare` process as a user runs it.

The cluster is Ray's own test cluster (``ray.cluster_utils.Cluster``): a head that runs
nothing and two worker nodes of one CPU each, every server on 127.0.0.1; the local back end
gets the same two CPUs (``--jobs 2``). Each run trains one epoch on 100 sets and scores
20 sets, so what a run costs besides its work is most of its time. Prints, for each back
end, the wall time, runs per second, the driver's peak memory (``/usr/bin/time``), and
the cluster's cost per run over the local back end's.

    python benchmarks/cluster_overhead.py [--runs 48] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tiny(runs: int) -> list[str]:
    """A sweep of ``runs`` tiny runs: the sum task, DeepSets, one seed a run."""
    return ["--tasks", "sum", "--models", "deepsets", "--seeds", str(runs), "--epochs", "1",
            "--n-train", "100", "--n-per-card", "20", "--cards", "5"]


def timed(argv: list[str], out: Path) -> tuple[float, int]:
    """The wall seconds and the peak memory (KiB) of ``deepsets compare ARGV``."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "deepsets", "compare", *argv, "--out", str(out)]
    timer = ["/usr/bin/time", "-f", "maxrss %M"] if Path("/usr/bin/time").exists() else []
    start = time.perf_counter()
    done = subprocess.run(timer + command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    peak = re.search(r"maxrss (\d+)", done.stderr)
    return seconds, int(peak.group(1)) if peak else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=48, help="tiny runs per sweep")
    parser.add_argument("--repeat", type=int, default=2, help="sweeps per back end, best kept")
    args = parser.parse_args()

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray server on 127.0.0.1
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    ray_constants.ENABLE_RAY_CLUSTER = False
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                            "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    backends = {"local, --jobs 2": ["--jobs", "2"],
                "cluster, 2 nodes": ["--cluster", cluster.address]}
    measured = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(args.repeat):  # interleaved: the machine's drift hits both
                for name, flags in backends.items():
                    seconds, peak = timed(tiny(args.runs) + flags, Path(folder) / "sweep")
                    best = measured.get(name, (float("inf"), 0))
                    measured[name] = min(best, (seconds, peak))
    finally:
        cluster.shutdown()
    local = measured["local, --jobs 2"][0]
    print(f"{args.runs} tiny runs, best of {args.repeat} (python {sys.version.split()[0]})\n")
    print("| back end | wall time (s) | runs per second | per run (s) | driver peak (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, peak) in measured.items():
        print(f"| {name} | {seconds:.1f} | {args.runs / seconds:.2f} | "
              f"{seconds / args.runs:.3f} | {peak / 1024:.0f} |")
    cluster_seconds = measured["cluster, 2 nodes"][0]
    print(f"\nthe cluster's cost per run over the local back end's: "
          f"{(cluster_seconds - local) / args.runs:+.3f} s "
          f"({cluster_seconds / local:.2f}x the wall time)")


if __name__ == "__main__":
    main()
