"""The LAF paper's set functions as tasks, over digits and images: targets against plain
numpy, scipy and statistics on hand-made sets (edge cases included), the suites, the
success criterion and the reach table."""

import csv
import statistics

import numpy as np
import pytest
from helpers import expect_error, run_cli
from scipy import stats as scipy_stats

from deepsets.core.setfunctions import FUNCTIONS
from deepsets.core.settings import CompareConfig
from deepsets.core.tasks import ERROR_FRACTION, LAF, SUITES, TASKS, digit_images

#: Left-padded sets of digits (0 is padding): one element, all equal, even and odd sizes.
SETS = [[7], [4, 4, 4], [1, 2, 3, 10], [5, 1, 9, 9, 2], [10, 1], [3, 3, 8, 1, 6, 6, 2, 9]]


def padded(sets):
    width = max(map(len, sets))
    return np.array([[0] * (width - len(s)) + s for s in sets])


def reference(name, s):
    """One function of one set of numbers, the plain way."""
    x = np.array(s, dtype=np.float64)
    if name in ("skewness", "kurtosis") and np.all(x == x[0]):
        return 0.0  # the stated rule: 0 where the function divides 0 by 0
    if name == "min-over-max" and x.max() == 0:
        return 0.0
    plain = {"count": len, "sum": sum, "max": max, "min": min, "mean": statistics.fmean,
             "range": lambda s: max(s) - min(s), "inverse-count": lambda s: 1 / len(s),
             "median": statistics.median, "min-over-max": lambda s: min(s) / max(s),
             "std": statistics.pstdev, "unique": lambda s: len(set(s)),
             "skewness": lambda s: scipy_stats.skew(x, bias=True),
             "kurtosis": lambda s: scipy_stats.kurtosis(x, fisher=True, bias=True)}
    return plain[name](s)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_over_digits_against_a_plain_computation(function):
    task = TASKS[function]
    got = task.targets(padded(SETS))
    assert got.dtype == (np.int64 if task.whole else np.float64)
    np.testing.assert_allclose(got, [reference(function, s) for s in SETS], rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_over_images_reads_the_digits_they_show(function):
    labels = digit_images()[1]
    tokens = {d: [int(t) for t in np.flatnonzero(labels == d)[:3] + 1] for d in range(10)}
    shown = [[0], [0, 0], [3, 0, 9], [5, 5, 5], [1, 2, 2, 7, 0, 4]]  # zeros: min / max 0/0
    sets = [[tokens[d][i % 3] for i, d in enumerate(s)] for s in shown]
    task = TASKS["images" if function == "sum" else f"images-{function}"]
    np.testing.assert_allclose(task.targets(padded(sets)),
                               [reference(function, s) for s in shown], rtol=1e-12, atol=1e-12)


def test_the_default_tasks_keep_their_targets():
    X = padded(SETS)
    assert TASKS["sum"].targets(X).tolist() == X.sum(axis=1).tolist()
    assert TASKS["max"].targets(X).tolist() == X.max(axis=1).tolist()
    assert TASKS["unique"].targets(X).tolist() == [len(set(s)) for s in SETS]
    assert [TASKS[n].title for n in SUITES["default"]] == [
        "Sum of digits", "Largest digit", "Number of distinct digits", "Sum of digit images"]


def test_the_suites():
    assert len(LAF) == 26 and len(set(LAF)) == 26 and set(LAF) <= set(TASKS)
    assert LAF[:13] == tuple(FUNCTIONS) and "images" in LAF and "images-kurtosis" in LAF
    assert CompareConfig().tasks == ("sum", "max", "unique", "images")  # the default sweep
    assert CompareConfig(tasks=("laf",)).tasks == LAF
    assert CompareConfig(tasks=("mean", "default", "sum")).tasks == (
        "mean", "sum", "max", "unique", "images")
    assert CompareConfig().preset("laf").tasks == LAF
    assert CompareConfig(tasks=("digits",)).tasks == LAF[:13]  # the functions over digits
    assert all(TASKS[t].elements.words == "digits" for t in LAF[:13])


def test_an_unknown_task_names_the_tasks_and_suites(capsys):
    expect_error(capsys, ["compare", "--tasks", "mode", "--dry-run"],
                 "unknown task or suite 'mode'; choose from sum, max")
    code, out, _ = run_cli(capsys, "tasks")
    assert code == 0 and all(f"\n{name} " in "\n" + out for name in TASKS)
    assert "--tasks laf: count, sum, max" in out


def test_the_criterion():
    whole, real = TASKS["sum"], TASKS["mean"]
    assert whole.meets(0.9, 5.0, None) and not whole.meets(0.89, 0.0, None)
    assert real.meets(None, ERROR_FRACTION * 2.0, 2.0)
    assert not real.meets(None, ERROR_FRACTION * 2.0 + 1e-9, 2.0)
    assert not real.meets(None, None, 2.0) and not whole.meets(None, None, None)


def rows_of(task, model, seed, scores, status="ok"):
    return [{"task": task, "model": model, "seed": seed, "card": card, "acc": acc,
             "mae": mae, "status": status, "error": ""} for card, (acc, mae) in scores.items()]


def test_reach_is_the_largest_size_met_at_every_size_up_to_it():
    from deepsets.sweep.reach import cell_text, reach_rows, reach_table

    config = CompareConfig(tasks=("sum", "mean"), models=("deepsets", "gru"), seeds=2,
                           cards=(5, 10, 20))
    rows = (rows_of("sum", "deepsets", 0, {5: (1.0, 0), 10: (0.95, 0), 20: (0.5, 1)})
            + rows_of("sum", "deepsets", 1, {5: (1.0, 0), 10: (0.8, 1), 20: (0.99, 0)})
            + rows_of("sum", "gru", 0, {5: (0.1, 1), 10: (1.0, 0), 20: (1.0, 0)})
            + rows_of("sum", "gru", 1, {5: (None, None), 10: (None, None), 20: (None, None)},
                      "failed"))
    for seed in (0, 1):
        rows += rows_of("mean", "constant", seed, {5: (None, 1.0), 10: (None, 0.8),
                                                   20: (None, 0.5)})
        rows += rows_of("mean", "deepsets", seed, {5: (None, 0.2), 10: (None, 0.2),
                                                   20: (None, 0.1 + 0.1 * seed)})
        rows += rows_of("mean", "gru", seed, {5: (None, 0.3), 10: (None, 0.1),
                                              20: (None, 0.1)})
    reaches = {(r["task"], r["model"], r["seed"]): r["reach"] for r in reach_rows(rows, config)}
    assert reaches == {("sum", "deepsets", 0): 10, ("sum", "deepsets", 1): 5,
                       ("sum", "gru", 0): 0, ("mean", "deepsets", 0): 20,
                       ("mean", "deepsets", 1): 10, ("mean", "gru", 0): 0,
                       ("mean", "gru", 1): 0}  # the failed run has none
    table = reach_table(rows, reach_rows(rows, config), config)
    # the median run of DeepSets on sum misses at 10, a training size: not learned
    assert "| DeepSets | not learned (5 to 10) | 10 (10 to all) |" in table
    assert "| gru | not learned | not learned |" in table
    assert cell_text([], 20, False) == "failed"
    assert cell_text([20, 20, 5], 20, True) == "all (5 to all)*"


def test_mlp_is_not_applicable_beyond_its_training_size(tmp_path, capsys):
    pytest.importorskip("torch_geometric")
    code, out, err = run_cli(capsys, "compare", "--quick", "--tasks", "mean,count", "--models",
                             "pyg-mlp,deepsets-max", "--out", str(tmp_path), "--jobs", "2")
    assert code == 0, out + err
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    mlp = [r for r in rows if r["model"] == "pyg-mlp"]
    assert {r["status"] for r in mlp if int(r["card"]) > 10} == {"n/a"}
    assert {r["status"] for r in mlp if int(r["card"]) <= 10} == {"ok"}
    assert all("not applicable beyond size 10" in r["error"] and r["mae"] == ""
               for r in mlp if r["status"] == "n/a")
    guess = [r for r in rows if r["model"] == "constant"]
    assert len(guess) == 2 * 3 and {r["task"] for r in guess} == {"mean"}  # once a seed
    assert all(r["acc"] == "" for r in rows if r["task"] == "mean")
    summary = (tmp_path / "summary.md").read_text()
    assert summary.index("## Reach") < summary.index("## Task mean")
    assert "\\* not applicable beyond size 10" in summary and "| n/a |" in summary
    with open(tmp_path / "reach.csv") as f:
        reach = list(csv.DictReader(f))
    assert len(reach) == 2 * 2 * 2 and all(int(r["reach"]) <= 10 for r in reach
                                          if r["model"] == "pyg-mlp")
    for name in ("reach.png", "mae_mean.png", "accuracy_count.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_the_laf_preset_is_the_published_protocol():
    from deepsets.core.data import HANDOUT_CARDS

    laf = CompareConfig().preset("laf")
    assert (laf.tasks, laf.n_train, laf.epochs, laf.cards) == (LAF, 100_000, 20, HANDOUT_CARDS)
    assert min(laf.cards) == 5 and 50 in laf.cards and max(laf.cards) == 100


def test_a_lab_on_a_real_valued_task(tmp_path, capsys):
    import json

    code, out, err = run_cli(capsys, "lab", "--task", "images-std", "--quick", "--models",
                             "deepsets-mean", "--n-train", "500", "--out", str(tmp_path))
    assert code == 0, out + err
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == ["cards", "deepsets-mean", "constant"]
    assert set(results["deepsets-mean"]) == {"mae"}
    assert "deepsets-mean MAE" in out and "constant guess MAE" in out
    assert not (tmp_path / "accuracy.png").exists() and (tmp_path / "mae.png").exists()
    report = (tmp_path / "report.md").read_text()
    assert "# Standard deviation of digit images" in report
    assert "meets the task (MAE <= 0.25 x the constant guess's)" in report
