"""deepsets compare: quick sweeps on both back ends, runs that fail alone and resume,
plug-in models, the cost projection, and the summary's numbers."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import checkpoint_epoch, run_main

from deepsets.api import sweep_config
from deepsets.cli import main
from deepsets.core.settings import CompareConfig
from deepsets.sweep.compare import dispatch_order, run_name
from deepsets.sweep.costs import wall_time
from deepsets.sweep.summary import stats, summary

ROOT = Path(__file__).resolve().parents[1]
# small enough for seconds, long enough (several epochs) to be cut off in the middle
SMALL = ["--tasks", "sum", "--models", "deepsets,gru", "--seeds", "1", "--epochs", "3",
         "--n-train", "3000", "--n-per-card", "50", "--cards", "5,20"]


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_quick_sweep(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--quick", "--tasks", "sum,unique", "--models", "deepsets-max,gru",
            "--jobs", "2", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "24 rows from 8 runs, 0 failed" in stdout
    rows = read_rows(out / "results.csv")
    assert len(rows) == 2 * 2 * 2 * 3  # tasks x models x seeds x sizes
    assert {r["task"] for r in rows} == {"sum", "unique"} and {r["status"] for r in rows} == {"ok"}
    assert all(0 <= float(r["acc"]) <= 1 and float(r["mae"]) >= 0 for r in rows)
    # the driver wrote each run folder from what the worker shipped
    run = out / "sum-gru-seed1"
    results = json.loads((run / "results.json").read_text())
    mine = [r for r in rows if r["task"] == "sum" and r["model"] == "gru" and r["seed"] == "1"]
    assert [float(r["acc"]) for r in mine] == results["gru"]["acc"]
    assert {"config.json", "gru.pt", "history.json", "results.csv"} <= {
        p.name for p in run.iterdir()}
    text = (out / "summary.md").read_text()
    assert "## Task unique: accuracy" in text and "## Task sum: mean absolute error" in text
    assert "| deepsets-max | gru |" in text and "Failed runs" not in text
    for task in ("sum", "unique"):
        assert (out / f"accuracy_{task}.png").read_bytes()[:4] == b"\x89PNG"
    # the same command again (with --resume, as users do) reuses every finished run
    before = (run / "results.json").stat().st_mtime_ns
    assert main([*argv, "--resume"]) == 0
    assert (run / "results.json").stat().st_mtime_ns == before


def test_a_failing_run_fails_alone(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = run_main(["compare", "--quick", "--seeds", "1", "--tasks", "sum,images", "--models",
                    "deepsets", "--model", "plugins:DigitsOnly", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 1
    assert "failed: images-plugins.DigitsOnly-seed0: ValueError: DigitsOnly takes digit " \
           "tokens, not 1797 images" in stdout
    done = sorted(line for line in err.splitlines() if line.startswith("done: "))
    assert done == ["done: images-deepsets-seed0", "done: sum-deepsets-seed0",
                    "done: sum-plugins.DigitsOnly-seed0"]  # no terminal, no bar: a log
    rows = read_rows(out / "results.csv")
    status = {(r["task"], r["model"]): r["status"] for r in rows}
    assert status == {("sum", "deepsets"): "ok", ("images", "deepsets"): "ok",
                      ("sum", "plugins:DigitsOnly"): "ok",
                      ("images", "plugins:DigitsOnly"): "failed"}
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 3 and all(r["acc"] == "" and "DigitsOnly" in r["error"]
                                    for r in failed)
    text = (out / "summary.md").read_text()
    assert "## Failed runs: 1" in text and "`images-plugins.DigitsOnly-seed0`" in text
    assert (out / "sum-plugins.DigitsOnly-seed0" / "results.json").exists()


def test_example_plugin_model_joins_a_quick_sweep(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the example is imported from the current folder, as python -m
    out = tmp_path / "cmp"
    assert main(["compare", "--quick", "--tasks", "sum", "--models", "deepsets",
                 "--model", "examples.sum_mlp:SumMLP", "--out", str(out)]) == 0
    rows = read_rows(out / "results.csv")
    assert {r["model"] for r in rows} == {"deepsets", "examples.sum_mlp:SumMLP"}
    assert (out / "sum-examples.sum_mlp.SumMLP-seed1" / "examples.sum_mlp.SumMLP.pt").exists()
    assert "examples.sum_mlp:SumMLP" in (out / "summary.md").read_text()


def sweep(out, *extra):
    return subprocess.Popen([sys.executable, "-m", "deepsets", "compare", *SMALL, "--jobs", "2",
                             "--out", str(out), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def straight_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    proc = sweep(out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


def started_gru(out, *flags):
    """A sweep of ``SMALL`` into ``out``, once its GRU run has a checkpoint (mid-run)."""
    proc = sweep(out, *flags)
    end = time.monotonic() + 120
    while checkpoint_epoch(out / "sum-gru-seed0" / "gru.pt") < 1 and time.monotonic() < end \
            and proc.poll() is None:
        time.sleep(0.02)
    return proc


def test_interrupted_sweep_continues_from_checkpoints(tmp_path, straight_sweep):
    out = tmp_path / "cmp"
    gru = out / "sum-gru-seed0" / "gru.pt"
    proc = started_gru(out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    cut = checkpoint_epoch(gru)
    assert 1 <= cut < 3 and not (out / "sum-gru-seed0" / "results.json").exists()
    saved = torch.load(gru, weights_only=True)["history"]
    proc = sweep(out)  # the same command again
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    history = json.loads((out / "sum-gru-seed0" / "history.json").read_text())["gru"]
    assert history[:cut] == saved  # the epochs done before were not trained again
    assert [e["epoch"] for e in history] == [1, 2, 3]
    assert (out / "results.csv").read_bytes() == (straight_sweep / "results.csv").read_bytes()


def local_workers(parent):
    """PIDs of the sweep's worker processes (spawned children of ``parent``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in cmdline:
                pids.append(int(entry.name))
    return pids


def test_local_worker_killed_mid_run_is_retried(tmp_path, straight_sweep):
    out = tmp_path / "cmp"
    proc = started_gru(out)
    killed = local_workers(proc.pid)
    assert killed, "no worker process was running"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "failed" not in (out / "summary.md").read_text()
    assert (out / "results.csv").read_bytes() == (straight_sweep / "results.csv").read_bytes()


@pytest.mark.parametrize("argv, message", [
    (["compare", "--tasks", "product"], "unknown task or suite 'product'"),
    (["compare", "--models", "rnn"], "unknown model 'rnn'"),
    (["compare", "--model", "nowhere.at_all:Model"], "cannot import nowhere.at_all"),
    (["compare", "--model", "plugins:NoSuchClass"], "has no nn.Module class 'NoSuchClass'"),
    (["compare", "--seeds", "0"], "--seeds"),
    (["compare", "--recipe", "magic"], "--recipe"),
    (["compare", "--preset", "full"], "--preset"),
])
def test_bad_flags(argv, message, capsys, tmp_path):
    code = run_main([*argv, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_dry_run_lists_every_run_with_its_cost(tmp_path, capsys, straight_sweep):
    argv = ["compare", "--preset", "handout", "--tasks", "sum", "--models", "deepsets,gru",
            "--seeds", "2", "--dry-run", "--jobs", "64", "--out", str(tmp_path / "new")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| sum-")]
    assert [line.split(" | ")[0] for line in lines] == [
        "| sum-deepsets-seed0", "| sum-deepsets-seed1", "| sum-gru-seed0", "| sum-gru-seed1"]
    assert all(" | 31,260 | " in line and line.endswith("| estimated |") for line in lines)
    assert "4 runs" in out and "on 64 CPUs" in out
    assert re.search(r"about [\d.]+ (s|min|h) of wall time \([\d.]+ (s|min|h) with "
                     r"--longest-first\)", out)
    assert not (tmp_path / "new").exists()  # nothing ran, nothing written
    # a finished run's own epoch times count as measured
    assert main(["compare", *SMALL, "--dry-run", "--out", str(straight_sweep)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines()
                if line.startswith("| sum-gru-seed0 |"))
    assert " | 141 | " in line and line.endswith("| measured |")


def test_longest_first_dispatches_the_costliest_runs_first(tmp_path, capsys):
    """Its results equal the sweep's order's: test_api's sweep from the API goes longest
    first."""
    argv = ["compare", "--quick", "--seeds", "1", "--tasks", "sum,max", "--models",
            "deepsets,set-transformer", "--jobs", "1"]  # one worker: done as dispatched
    config = sweep_config(tmp_path, {"tasks": "sum,max", "models": "deepsets,set-transformer",
                                     "seeds": 1}, quick=True)
    assert dispatch_order({run_name(r): r for r in config.runs()}) == [
        "sum-deepsets-seed0", "sum-set-transformer-seed0", "max-deepsets-seed0",
        "max-set-transformer-seed0"]  # without the flag: a task's runs together
    assert run_main([*argv, "--longest-first", "--out", str(tmp_path / "longest")]) == 0
    done = [line.removeprefix("done: ") for line in capsys.readouterr().err.splitlines()
            if line.startswith("done: ")]
    assert done == ["sum-set-transformer-seed0", "max-set-transformer-seed0",
                    "sum-deepsets-seed0", "max-deepsets-seed0"]  # 5 ms a step against 0.2


def test_preset_handout_is_the_handouts_settings():
    config = CompareConfig().handout()
    run = config.runs()[0]
    assert (run.n_train, run.epochs, run.n_per_card, run.batch_size) == (100_000, 20, 10_000, 64)
    assert len(config.runs()) == 4 * 6 * 3


def test_wall_time_schedules_in_the_order_the_sweep_dispatches():
    # 5 and 4 start; the 3s go to whichever CPU frees first: 4+3, 5+3, 7+3
    assert wall_time([5, 4, 3, 3, 3], 2) == 10
    assert wall_time([2, 2, 2], 64) == 2 and wall_time([1, 2, 3], 1) == 6
    assert wall_time([1, 1, 4], 2) == 5  # the long run starts last, as it is dispatched


def test_summary_mean_and_std():
    per_seed = [(1.0, 0.5), (0.0, 0.5)]  # accuracy at sizes 5 and 10, per seed
    rows = [{"task": "max", "model": "gru", "seed": s, "card": c, "acc": a, "mae": 0.0}
            for s, accs in enumerate(per_seed) for c, a in zip((5, 10), accs, strict=True)]
    cards, acc = stats(rows, "max", "gru", "acc")
    assert cards == [5, 10] and np.array_equal(acc, [[1.0, 0.5], [0.0, 0.5]])
    config = CompareConfig(tasks=("max",), models=("gru",), seeds=2, cards=(5, 10))
    text = summary(rows, config)
    assert "| 5 | 0.500 +- 0.500 |" in text and "| 10 | 0.500 +- 0.000 |" in text
    assert "| 5 | 0 +- 0 |" in text  # the MAE table
    assert "(training sets of 1-10 elements)" in text
    shorter = summary(rows, replace(config, max_card=9), reaches=[])
    assert "(training sets of 1-9 elements)" in shorter and "hold 1-9 elements" in shorter


def test_local_ray_binds_to_loopback_with_token_authentication(tmp_path):
    pytest.importorskip("ray")
    probe = ("import ray\nfrom deepsets.core.cluster import connect_ray\n"
             "assert connect_ray('local-ray', cpus=1)\n"
             "print(ray.get_runtime_context().gcs_address)\n"
             "print(ray.nodes()[0]['NodeManagerAddress'])\nray.shutdown()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    gcs, node = proc.stdout.split()
    assert gcs.startswith("127.0.0.1:") and node == "127.0.0.1"
    assert "Token authentication is enabled" in proc.stderr
    # turning authentication off is refused, in one line
    proc = subprocess.run([sys.executable, "-m", "deepsets", "compare", "--quick", "--cluster",
                           "local-ray", "--out", str(tmp_path / "x")], capture_output=True,
                          text=True, timeout=120, env={**env, "RAY_AUTH_MODE": "disabled"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("deepsets compare: error: --cluster local-ray keeps Ray's "
                                   "token authentication on; unset RAY_AUTH_MODE=disabled")



def test_the_dry_runs_step_is_the_epochs_mean_over_set_lengths(monkeypatch):
    # sets of vectors train in batches of one length each (train.epoch_batches), as long as
    # their sets: the projected step is their mean, not a step on sets padded to the longest
    from deepsets.core.train import epoch_batches
    from deepsets.sweep import costs

    now = [0.0]  # a clock that a step of sets of N elements moves on by N ms

    class OneMillisecondAnElement(torch.nn.Linear):
        def forward(self, x):
            now[0] += 0.001 * x.shape[1]
            return super().forward(x[:, :1, 0]).squeeze(-1)
    monkeypatch.setattr(costs.time, "perf_counter", lambda: now[0])
    lengths = torch.tensor([2] * 640 + [20] * 64)  # 10 batches of 2 elements, 1 of 20
    X, y = torch.zeros(len(lengths), 20, 1), torch.zeros(len(lengths))
    batches = epoch_batches(len(X), 64, 0, "clock", 0, lengths)
    step = costs.seconds_per_step(OneMillisecondAnElement(1, 1), X, y, batches, 1e-3,
                                  lengths=lengths)
    assert step == pytest.approx(0.001 * (10 * 2 + 20) / 11)  # 3.6 ms, not 20
