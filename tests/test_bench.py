"""``make bench`` itself: the quick mode runs every measurement on small data."""

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
