"""``deepsets reproduce``: a published table run again, published against measured, with a
verdict per row by a stated rule."""

import json

import pytest
from helpers import expect_error, run_main

from deepsets.sweep.published import REPRODUCTIONS, Reading, Row
from deepsets.sweep.reproduce import check_reading, verdict

PUBLISHED = {  # the papers' numbers, typed here from shared/REFERENCE_RESULTS.md
    "set-transformer-max": {"mean pooling": (2.133, 0.190), "sum pooling": (1.902, 0.137),
                            "max pooling": (0.1355, 0.0074), "SAB + PMA": (0.2085, 0.0127)},
    "deepsets-text-sum": {"DeepSets at 5": (1.0, None), "LSTM at 10": (0.82, None),
                          "GRU at 15": (0.06, None), "GRU at 20-95": (0.0, None)},
    "deepsets-mnist-sum": {"5 images": (0.98, None), "20 images": (0.93, None),
                           "50 images": (0.78, None)},
}


@pytest.mark.parametrize(("measured", "expected"), [
    (0.1355 + 0.0222, "reproduced"), (0.1355 - 0.0222, "reproduced"),
    (0.1355 + 0.0223, "not reproduced"), (0.05, "better"), (None, "not reproduced")])
def test_an_error_within_three_published_deviations_reproduces(measured, expected):
    row = Row("max pooling", "runs", "m", "reals-max", (1,), 0.1355, 0.0074)
    assert verdict(row, measured, None) == expected


@pytest.mark.parametrize(("measured", "expected"), [
    (0.78, "reproduced"), (0.86, "reproduced"), (0.95, "better"), (0.70, "not reproduced")])
def test_an_accuracy_read_off_a_figure_reproduces_within_the_tolerance(measured, expected):
    row = Row("LSTM at 10", "lstm", "lstm", "sum", (10,), 0.82, metric="acc")
    assert verdict(row, measured, 0.05) == expected


def scores_of(laf_at_5, laf_at_50, rival_at_50):
    """Two seeds' MAE of LAF at sizes 5 and 50 and of one rival at 50, each seed's value
    the given one shifted by +-0.01 (so the means are the given ones)."""
    scores = {}
    for seed, shift in ((0, -0.01), (1, 0.01)):
        scores["laf", "max", "laf-model", "mae", seed, 5] = laf_at_5 + shift
        scores["laf", "max", "laf-model", "mae", seed, 50] = laf_at_50 + shift
        scores["others", "max", "rival", "mae", seed, 50] = rival_at_50 + shift
    return scores


@pytest.mark.parametrize(("scores", "best", "flat"), [
    (scores_of(0.10, 0.15, 0.30), "reproduced", "reproduced"),
    (scores_of(0.10, 0.50, 0.30), "not reproduced", "not reproduced"),
    (scores_of(0.10, 0.20, 0.19), "not reproduced", "reproduced"),
    ({}, "not measured", "not measured")])
def test_a_reading_is_checked_on_the_means_over_seeds(scores, best, flat):
    rivals = (("others", "rival"),)
    got = check_reading(Reading("best", "laf", "laf-model", "max", "best", rivals=rivals),
                        scores)
    assert got["verdict"] == best and got["published"] is None
    got = check_reading(Reading("flat", "laf", "laf-model", "max", "flat"), scores)
    assert got["verdict"] == flat
    if scores:  # the ratio of the means at 50 and at 5
        assert got["measured"] == pytest.approx(
            (scores["laf", "max", "laf-model", "mae", 0, 50] + 0.01)
            / (scores["laf", "max", "laf-model", "mae", 0, 5] + 0.01))


@pytest.mark.parametrize("name", ["laf", "laf-mnist"])
def test_quick_laf_checks_its_readings_on_the_tasks_it_ran(name, tmp_path):
    out = tmp_path / name
    assert run_main(["reproduce", name, "--quick", "--jobs", "2", "--out", str(out)]) == 0
    table = json.loads((out / "reproduction.json").read_text())
    assert len(table) == 24 and {r["published"] for r in table} == {None}
    ran = [r for r in table if r["row"].split(":")[0] in ("LAF on count", "LAF on max")]
    assert len(ran) == 4 and all(r["verdict"] != "not measured" for r in ran)
    assert all(r["verdict"] == "not measured" for r in table if r not in ran)
    best = next(r for r in ran if r["row"] == "LAF on max: best")
    assert set(best["rivals"]) == {model for _, model in REPRODUCTIONS[name].rows[0].rivals}
    assert len(best["rivals"]) == 3 and "lstm-unpadded" in best["rivals"]
    assert (best["verdict"] == "reproduced") == (best["measured"] <= min(
        best["rivals"].values()))
    assert "the lowest MAE of the 4 at 50" in (out / "reproduction.md").read_text()


@pytest.mark.parametrize("name", [n for n in REPRODUCTIONS if n in PUBLISHED])
def test_quick_writes_the_published_table_beside_the_measured(name, tmp_path, capsys):
    out = tmp_path / name
    assert run_main(["reproduce", name, "--quick", "--jobs", "2", "--out", str(out)]) == 0
    table = json.loads((out / "reproduction.json").read_text())
    entry = REPRODUCTIONS[name]
    q_rows = ["q: one image read right (test images)"] if entry.per_image else []
    assert [r["row"] for r in table] == [row.row for row in entry.rows] + q_rows
    by_row = {r["row"]: r for r in table}
    for row in q_rows:  # the per-image accuracy of the trained seed, beside the table
        assert by_row[row]["published"] is None and by_row[row]["seeds"] == 1
        assert 0 <= by_row[row]["measured"] <= 1 and by_row[row]["metric"] == "q"
    for row, (published, spread) in PUBLISHED[name].items():
        r = by_row[row]
        assert (r["published"], r["published_spread"]) == (published, spread)
        assert r["seeds"] == 1 and isinstance(r["measured"], float)
        assert r["verdict"] == verdict(REPRODUCTIONS[name].rows[table.index(r)],
                                       r["measured"], REPRODUCTIONS[name].tolerance)
    page = (out / "reproduction.md").read_text()
    assert "--quick: a smoke test" in page and "How our protocol differs" in page
    first = next(iter(PUBLISHED[name]))
    assert f"| {first} |" in page
    capsys.readouterr()
    assert run_main(["reproduce", name, "--quick", "--jobs", "2", "--out", str(out)]) == 0
    again = capsys.readouterr()  # the same command again reuses every run
    assert "runs: " in again.out + again.err and " new" not in again.out + again.err


def test_an_unknown_reproduction_is_one_line(capsys):
    expect_error(capsys, ["reproduce", "set-transformer"], "invalid choice: 'set-transformer'")
