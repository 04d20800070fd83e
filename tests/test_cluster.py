"""Sweeps on a Ray cluster of several nodes, all on this machine: Ray's own test cluster
(``ray.cluster_utils.Cluster``), a head that runs nothing and two worker nodes of one CPU,
each with its own raylet and object store, every server on 127.0.0.1. The sweep is the
command a user runs, pointed at the cluster by its address.

Runs land on both worker nodes and equal the local back end's byte for byte; a worker node
lost mid-sweep costs only the epochs after the last checkpoint that reached the driver;
Ctrl-C on the driver leaves nothing of the sweep running on the cluster, and the same
command resumes; a wrong address is one line within seconds; a node that cannot import a
plug-in fails that run alone, naming the node and the module."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import checkpoint_epoch, wait_for
from test_iterating import NET

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from cluster_costs import local_cluster, lose, running_tasks, task_nodes  # noqa: E402

from deepsets.core.runfolder import load_checkpoint

pytest.importorskip("ray")

TINY = ["--tasks", "sum,max", "--models", "deepsets,lstm", "--seeds", "1", "--epochs", "1",
        "--n-train", "500", "--n-per-card", "50", "--cards", "5,10"]
#: A model whose training steps take 30 ms at least on any machine: its runs are cut
#: mid-way however fast the CPU (a built-in model's 8 epochs took 0.5 s on CI's).
SLOWNET = "import time\n" + NET + """

class Slow(Net):
    def forward(self, x):
        if self.training:
            time.sleep(0.03)
        return super().forward(x)
"""
#: Two runs long enough to be cut: 8 epochs of 20 steps, 0.6 s each at least.
LONG = ["--tasks", "sum,max", "--models", "slownet:Slow", "--seeds", "1", "--epochs", "8",
        "--n-train", "1280", "--n-per-card", "50", "--cards", "5,10"]


#: A cluster's head of its own, with token authentication and a token of the test's, in a
#: process of its own (Ray reads a process's authentication settings once): it prints its
#: address, and stops when its input closes.
TOKEN_HEAD = """import os, sys
os.environ.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="token")
from ray.cluster_utils import Cluster
head = Cluster(initialize_head=True, head_node_args={"num_cpus": 0,
                                                     "include_dashboard": False})
print(head.address, flush=True)
sys.stdin.read()
head.shutdown()
"""
#: A node's environment in which ``clusternet`` does not import, as where it is not
#: installed: every process of this machine can read the driver's folder, every node's too.
NOT_HERE = {"CLUSTERNET_MISSING": "1"}
CLUSTERNET = """import os

if os.environ.get("CLUSTERNET_MISSING"):
    raise ImportError("No module named 'clusternet' on this node")
""" + NET


@pytest.fixture(scope="module")
def cluster():
    """A head without CPUs and two worker nodes of one CPU each, on which the plug-in
    module ``clusternet`` does not import (``NOT_HERE``)."""
    head = local_cluster(env_vars=NOT_HERE)
    yield head
    head.shutdown()


def sweep(out, *argv, cluster=None, **popen):
    """``deepsets compare`` in a process of its own, as a user runs it."""
    command = [sys.executable, "-m", "deepsets", "compare", *argv, "--out", str(out)]
    if cluster is not None:
        command += ["--cluster", cluster.address]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def finished(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out, err


def nodes_of(out):
    return {json.loads(p.read_text())["node"] for p in Path(out).glob("*/node.json")}


def test_runs_land_on_both_nodes_and_equal_the_local_back_end(cluster, tmp_path):
    finished(sweep(tmp_path / "local", *TINY, "--jobs", "2"))
    finished(sweep(tmp_path / "ray", *TINY, cluster=cluster))
    assert (tmp_path / "ray" / "results.csv").read_bytes() == \
        (tmp_path / "local" / "results.csv").read_bytes()
    assert (tmp_path / "ray" / "reach.csv").read_bytes() == \
        (tmp_path / "local" / "reach.csv").read_bytes()
    assert len(nodes_of(tmp_path / "ray")) == 2  # "127.0.0.1 <id>": both worker nodes
    assert all(n.startswith("127.0.0.1 ") for n in nodes_of(tmp_path / "ray"))


def one_line_within_seconds(out, address, env=None):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "deepsets", "compare", *TINY, "--out",
                           str(out), "--cluster", address],
                          capture_output=True, text=True, timeout=60, env=env)
    assert time.monotonic() - start < 15
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()
    return proc.stderr


def test_a_wrong_address_or_a_refused_token_is_one_line_within_seconds(tmp_path):
    err = one_line_within_seconds(tmp_path / "x", "127.0.0.1:1")
    assert "no Ray cluster answers at 127.0.0.1:1" in err
    token = {**os.environ, "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    head = subprocess.Popen([sys.executable, "-c", TOKEN_HEAD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=token)
    try:
        address = head.stdout.readline().strip()
        wrong = {**token, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
        err = one_line_within_seconds(tmp_path / "y", address, wrong)
        assert f"the Ray cluster at {address} refuses this machine's token" in err
    finally:
        head.communicate(timeout=60)


def test_local_ray_beside_a_running_cluster_starts_one_of_its_own(cluster):
    """Ray, given no address, joins any instance running on the machine (another
    environment's sweep); local-ray never does."""
    probe = ("import ray\nfrom deepsets.core.cluster import connect_ray\n"
             "connect_ray('local-ray', cpus=1)\n"
             "print(ray.get_runtime_context().gcs_address, len(ray.nodes()))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    address, nodes = done.stdout.split()
    assert address != cluster.address and nodes == "1"


def long_sweep(tmp_path, out, *argv, **options):
    """``LONG`` from ``tmp_path``, where ``slownet`` imports; its two checkpoints."""
    (tmp_path / "slownet.py").write_text(SLOWNET)
    proc = sweep(out, *LONG, *argv, cwd=tmp_path, **options)
    return proc, [out / f"{task}-slownet.Slow-seed0" / "slownet.Slow.pt" for task in
                  ("sum", "max")]


def test_ctrl_c_on_the_driver_stops_every_task_and_the_same_command_resumes(cluster, tmp_path):
    out = tmp_path / "cut"
    first, checkpoints = long_sweep(tmp_path, out, cluster=cluster)
    wait_for(lambda: all(checkpoint_epoch(c) >= 1 for c in checkpoints))
    assert running_tasks()
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert first.returncode == 130
    wait_for(lambda: not running_tasks(), timeout=15)  # nothing of it left on any node
    epochs = [checkpoint_epoch(c) for c in checkpoints]
    _, err = finished(long_sweep(tmp_path, out, "--resume", cluster=cluster)[0])
    assert "2 continue where they stopped" in err
    for checkpoint, cut in zip(checkpoints, epochs, strict=True):
        history = json.loads((checkpoint.parent / "history.json").read_text())
        assert len(next(iter(history.values()))) == 8 and cut < 8


def test_a_node_lost_mid_sweep_costs_only_what_had_not_reached_the_driver(cluster, tmp_path):
    # the uninterrupted sweep, in local workers at the same time: the runs mostly sleep
    whole, _ = long_sweep(tmp_path, tmp_path / "whole", "--jobs", "2")
    out = tmp_path / "lost"
    proc, checkpoints = long_sweep(tmp_path, out, cluster=cluster)
    wait_for(lambda: all(checkpoint_epoch(c) >= 1 for c in checkpoints))
    reached = {c: load_checkpoint(c) for c in checkpoints}
    lose(cluster, *next(iter(task_nodes(cluster).items())))
    cluster.add_node(num_cpus=1, env_vars=NOT_HERE)
    _, err = finished(proc)
    finished(whole)
    assert "sum-slownet.Slow-seed0 lost its worker or node (" in err or \
        "max-slownet.Slow-seed0 lost its worker or node (" in err  # WorkerCrashed, NodeDied
    assert "it runs again with what reached here" in err
    assert (out / "results.csv").read_bytes() == (tmp_path / "whole" / "results.csv").read_bytes()
    for checkpoint, state in reached.items():  # each run kept what reached the driver
        history = json.loads((checkpoint.parent / "history.json").read_text())
        own = next(iter(history.values()))
        assert own[:state["epoch"]] == state["history"]


def test_a_node_that_cannot_import_a_plugin_or_the_package_fails_those_runs_naming_it(
        cluster, tmp_path):
    (tmp_path / "clusternet.py").write_text(CLUSTERNET)  # the driver imports it
    argv = ["--tasks", "sum,max", "--models", "deepsets,clusternet:Net", "--seeds", "1",
            "--epochs", "1", "--n-train", "500", "--n-per-card", "50", "--cards", "5"]
    stdout, err = sweep(tmp_path / "plugin", *argv, cluster=cluster,
                        cwd=tmp_path).communicate(timeout=240)
    failed = sorted(line.strip() for line in stdout.splitlines()
                    if line.strip().startswith("failed:"))
    assert [line.split(":")[1].strip() for line in failed] == [
        "max-clusternet.Net-seed0", "sum-clusternet.Net-seed0"], err
    for line in failed:
        assert "cannot import clusternet" in line and "(on node 127.0.0.1 " in line
    assert sorted(p.parent.name for p in (tmp_path / "plugin").glob("*/node.json")) == [
        "max-deepsets-seed0", "sum-deepsets-seed0"]  # the others finished

    fake = tmp_path / "fake" / "deepsets"  # a node whose deepsets does not import
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('deepsets is not installed here')")
    for node in list(cluster.worker_nodes):
        cluster.remove_node(node)
    cluster.add_node(num_cpus=1, env_vars={"PYTHONPATH": str(fake.parent)})
    stdout, err = sweep(tmp_path / "package", *TINY, cluster=cluster).communicate(timeout=240)
    failed = [line.strip() for line in stdout.splitlines() if line.strip().startswith("failed:")]
    assert len(failed) == 4, err
    for line in failed:
        assert "deepsets is not installed here" in line and "(on node 127.0.0.1)" in line
