"""deepsets compare: a real quick sweep, reuse of finished runs, the summary's numbers."""

import csv

import numpy as np
import pytest

from deepsets.cli import main
from deepsets.compare import CompareConfig, stats, summary


def test_quick_sweep(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--quick", "--tasks", "sum,unique", "--models", "deepsets-max,gru",
            "--jobs", "2", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "24 rows from 8 runs" in stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2 * 3  # tasks x models x seeds x sizes
    assert {r["task"] for r in rows} == {"sum", "unique"}
    assert all(0 <= float(r["acc"]) <= 1 and float(r["mae"]) >= 0 for r in rows)
    text = (out / "summary.md").read_text()
    assert "## Task unique: accuracy" in text and "## Task sum: mean absolute error" in text
    assert "| deepsets-max | gru |" in text
    for task in ("sum", "unique"):
        assert (out / f"accuracy_{task}.png").read_bytes()[:4] == b"\x89PNG"
    # a repeated sweep reuses every finished run
    run = out / "sum-gru-seed1" / "results.json"
    before = run.stat().st_mtime_ns
    assert main(argv) == 0
    assert run.stat().st_mtime_ns == before


@pytest.mark.parametrize("argv, message", [
    (["compare", "--tasks", "product"], "unknown task 'product'"),
    (["compare", "--models", "rnn"], "unknown model 'rnn'"),
    (["compare", "--seeds", "0"], "--seeds"),
    (["compare", "--recipe", "magic"], "--recipe"),
])
def test_bad_flags(argv, message, capsys, tmp_path):
    try:
        code = main([*argv, "--out", str(tmp_path / "x")])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_summary_mean_and_std():
    per_seed = [(1.0, 0.5), (0.0, 0.5)]  # accuracy at sizes 5 and 10, per seed
    rows = [{"task": "max", "model": "gru", "seed": s, "card": c, "acc": a, "mae": 0.0}
            for s, accs in enumerate(per_seed) for c, a in zip((5, 10), accs, strict=True)]
    cards, acc = stats(rows, "max", "gru", "acc")
    assert cards == [5, 10] and np.array_equal(acc, [[1.0, 0.5], [0.0, 0.5]])
    text = summary(rows, CompareConfig(tasks=("max",), models=("gru",), seeds=2))
    assert "| 5 | 0.500 +- 0.500 |" in text and "| 10 | 0.500 +- 0.000 |" in text
    assert "| 5 | 0 +- 0 |" in text  # the MAE table
