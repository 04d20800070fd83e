"""The benchmark scripts themselves, on small data: ``make bench --quick`` and the step profile."""

import subprocess
import sys
from pathlib import Path

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
