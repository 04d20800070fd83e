"""The benchmark scripts themselves, on small data: ``make bench --quick`` and the step profile."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_runs_and_reports_ratios():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick",
                           "--skip-lab"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for row in ("DeepSets training epoch", "LSTM training epoch", "LSTM evaluation"):
        line = next(line for line in proc.stdout.splitlines() if row in line)
        assert line.rstrip(" |").endswith("x")  # a speed-up ratio
    assert (ROOT / "benchmarks" / "out" / "scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_step_profile_times_every_part_of_both_steps():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "step_profile.py"),
                           "--steps", "5"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for model in ("deepsets", "lstm"):
        section = proc.stdout.split(f"## {model}")[1].split("```")[0]
        rows = [line for line in section.splitlines() if line.startswith("| ")]
        assert len(rows) == 5  # header + four parts, each with a time
        assert all(float(row.rsplit("|", 2)[1]) > 0 for row in rows[1:])
    assert "aten::" in proc.stdout  # the profiler's operator table


def test_whole_lab_memory_counts_the_worker_processes_too():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench

    child = "b = b'x' * (300 << 20); import time; time.sleep(1)"  # 300 MiB, touched
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    seconds, peak_mib = bench.run_measured([sys.executable, "-c", parent])
    assert peak_mib > 300 and seconds >= 1


def test_kernel_calls_times_both_directions():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kernel_calls.py"),
                           "--calls", "20"], capture_output=True, text=True, timeout=300)
    if "kernels: PyTorch's kernels" in proc.stdout + proc.stderr:  # not built here: says so
        assert proc.returncode != 0
        return
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[-2:]
    assert first.startswith("lstm_forward ") and "lstm_backward " in first
    assert second.startswith("a 2048^3 matrix product: ") and second.endswith("(one thread)")


def gpu_check():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check

    return gpu_check


def test_gpu_check_flags_each_score_beyond_its_tolerance():
    check = gpu_check()
    cpu = {"cards": [5, 10], "deepsets": {"acc": [0.9, 0.5], "mae": [0.1, 1.0]},
           "lstm": {"acc": [None, 0.2], "mae": [None, 3.0], "not_applicable": "x"}}
    close = {"cards": [5, 10], "deepsets": {"acc": [0.9 + check.ACC_TOL / 2, 0.5],
                                            "mae": [0.1 * (1 + check.MAE_TOL / 2), 1.0]},
             "lstm": {"acc": [None, 0.2], "mae": [None, 3.0]}}
    assert check.score_gaps(cpu, cpu) == [] and check.score_gaps(cpu, close) == []
    far = {**close, "deepsets": {"acc": [0.9, 0.5], "mae": [0.1, 1.0 + 2 * check.MAE_TOL]},
           "lstm": {"acc": [0.1, 0.2], "mae": [None, 3.0]}}
    assert check.score_gaps(cpu, far) == ["deepsets mae at 10: cpu 1.0, device 1.04",
                                          "lstm acc at 5: cpu None, device 0.1"]


def test_gpu_check_prediction_gap_is_zero_for_the_same_weights_and_sees_other_weights(
        tmp_path):
    run = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "deepsets", "lab", "--task", "point-clouds",
                    "--models", "deepsets", "--n-train", "64", "--epochs", "1",
                    "--n-per-card", "8", "--cards", "2,3", "--out", str(run)],
                   check=True, capture_output=True, timeout=300)
    check = gpu_check()
    assert check.prediction_gap(run, "cpu") == 0.0  # two loads of one checkpoint agree
    shifted = check.trained_models(run)
    with torch.no_grad():
        shifted["deepsets"].rho.bias += 0.5  # every logit of every set moves by 0.5
    gap = check.prediction_gap(run, "cpu", device_models=shifted)
    # relative to max(1, |logit|): at most 0.5, and far beyond the tolerance the check allows
    assert check.PRED_TOL < gap <= 0.5 + 1e-6
    assert check.prediction_gap(run, "cpu") == 0.0  # the run's checkpoints are untouched


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_check_says_in_one_line_when_there_is_no_gpu():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "gpu-check: this machine has no CUDA GPU (torch.cuda.is_available() is False)"]


def test_point_cloud_reference_features_ignore_rotation_scale_and_order():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import numpy as np
    import point_cloud_reference as reference

    from deepsets.core.vectors import point_clouds, rotations

    rng = np.random.default_rng(0)
    for size in (10, 50):  # sorted values, then quantiles past 20 points
        x, _ = point_clouds(rng, 6, size)
        moved = np.einsum("nij,nsj->nsi", rotations(rng, 6), x) * 2.5 + 7.0
        moved = moved[:, rng.permutation(size)]
        assert np.allclose(reference.invariants(moved), reference.invariants(x), atol=1e-9)
        other, _ = point_clouds(rng, 6, size)
        assert not np.allclose(reference.invariants(other), reference.invariants(x))


def test_point_cloud_reference_prints_an_accuracy_per_size():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "point_cloud_reference.py"),
                           "--n-train", "800", "--n-test", "400", "--sizes", "10,50"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == ["10", "50"]
    ten, fifty = (float(row[1]) for row in rows)
    assert 1 / 8 < ten < fifty <= 1  # better than chance, and better with more points
