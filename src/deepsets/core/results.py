"""Scores in the handout's shape, and the same scores as flat rows for CSV.

``results.json`` is ``{"cards": [5, 10, ...], "deepsets": {"acc": [...],
"mae": [...]}, "lstm": {...}}``: the test sizes, then one entry per model
with one score per size, by the task's metrics (``Task.metrics``: no ``acc`` for a real
target). A real-valued task's results hold the constant guess too (``GUESS``), the yardstick
of its success criterion, and where the task has one the reference estimator's
(``ESTIMATE``). A score is None (JSON null) at a size the model does not apply
to, and the model's entry says why under ``not_applicable``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

#: The constant guess's entry in a real-valued task's results: the training targets' mean
#: predicted for every set, the best a model can do that ignores the set.
GUESS = "constant"
#: The reference estimator's entry, on a task that has one (``Task.estimator``): the
#: statistician's plug-in estimate from each set's own samples.
ESTIMATE = "plug-in"
#: The entries that are yardsticks, not models: scored once per task and seed.
REFERENCES = (GUESS, ESTIMATE)


def model_names(results: dict) -> list[str]:
    """The predictors of a results dict, in order: every key but ``cards`` (the models,
    and the constant guess where there is one)."""
    return [key for key in results if key != "cards"]


def scores_at(results: dict, model: str, metric: str) -> list[float | None]:
    """One model's ``metric`` at every size; None everywhere for a metric the task does not
    score (accuracy of a real target)."""
    return results[model].get(metric, [None] * len(results["cards"]))


def metrics_of(results: dict) -> list[str]:
    """The metrics a results dict scores, in order: ``acc`` (whole-number targets) and
    ``mae``."""
    return [k for k in ("acc", "mae") if any(k in results[m] for m in model_names(results))]


def result_rows(results: dict, **fields: object) -> list[dict]:
    """One row per (model, size): ``fields`` (task, seed, ...) then model, card, acc, mae
    (None where not scored)."""
    return [{**fields, "model": model, "card": card, "acc": acc, "mae": mae}
            for model in model_names(results)
            for card, acc, mae in zip(results["cards"], scores_at(results, model, "acc"),
                                      scores_at(results, model, "mae"), strict=True)]


def status_rows(results: dict, **fields: object) -> list[dict]:
    """``result_rows`` with a ``status`` and an ``error`` each: ``ok`` where every metric of
    the results (``metrics_of``) is scored; ``n/a`` and the model's reason where it has no
    score at that size because it does not apply there; else ``failed``, saying which
    score is missing (never ``ok`` without its scores)."""
    rows, metrics = [], metrics_of(results)
    for row in result_rows(results, **fields):
        missing = [k for k in metrics if row[k] is None]
        why = results[row["model"]].get("not_applicable", "")
        if not missing:
            status, error = "ok", ""
        elif why and len(missing) == len(metrics):
            status, error = "n/a", why
        else:
            status, error = "failed", f"no {' or '.join(missing)} score at size {row['card']}"
        rows.append({**row, "status": status, "error": error})
    return rows


def rows_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """CSV text of ``rows`` with a header; floats keep every digit."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
