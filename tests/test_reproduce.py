"""``deepsets reproduce``: a published table run again, published against measured, with a
verdict per row by a stated rule."""

import json

import pytest
from helpers import expect_error, run_main

from deepsets.sweep.reproduce import REPRODUCTIONS, Row, verdict

PUBLISHED = {  # the papers' numbers, typed here from shared/REFERENCE_RESULTS.md
    "set-transformer-max": {"mean pooling": (2.133, 0.190), "sum pooling": (1.902, 0.137),
                            "max pooling": (0.1355, 0.0074), "SAB + PMA": (0.2085, 0.0127)},
    "deepsets-text-sum": {"DeepSets at 5": (1.0, None), "LSTM at 10": (0.82, None),
                          "GRU at 15": (0.06, None), "GRU at 20-95": (0.0, None)},
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


@pytest.mark.parametrize("name", REPRODUCTIONS)
def test_quick_writes_the_published_table_beside_the_measured(name, tmp_path, capsys):
    out = tmp_path / name
    assert run_main(["reproduce", name, "--quick", "--jobs", "2", "--out", str(out)]) == 0
    table = json.loads((out / "reproduction.json").read_text())
    assert [r["row"] for r in table] == [row.row for row in REPRODUCTIONS[name].rows]
    by_row = {r["row"]: r for r in table}
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
