"""Scores in the handout's shape, and the same scores as flat rows for CSV.

``results.json`` is ``{"cards": [5, 10, ...], "deepsets": {"acc": [...],
"mae": [...]}, "lstm": {...}}``: the test sizes, then one entry per model
with one score per size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence


def model_names(results: dict) -> list[str]:
    """The models of a results dict, in order: every key but ``cards``."""
    return [key for key in results if key != "cards"]


def result_rows(results: dict, **fields: object) -> list[dict]:
    """One row per (model, size): ``fields`` (task, seed, ...) then model, card, acc, mae."""
    return [{**fields, "model": model, "card": card, "acc": acc, "mae": mae}
            for model in model_names(results)
            for card, acc, mae in zip(results["cards"], results[model]["acc"],
                                      results[model]["mae"], strict=True)]


def rows_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """CSV text of ``rows`` with a header; floats keep every digit."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
