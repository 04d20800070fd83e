"""Published results, run again at the paper's protocol: ``deepsets reproduce NAME``.

Each entry of ``REPRODUCTIONS`` is one paper's table or figure: the sweeps that rerun it
(``CompareConfig`` settings, one sweep per group of models that share them), the rows to
compare (a model on a task, a metric averaged over test sizes, the published number and
its spread), and every way our protocol differs from the paper's. ``reproduce`` runs the
sweeps through ``compare.run_compare`` (so runs resume and fail alone), then writes
``reproduction.json`` (a list of rows: ``row``, ``published``, ``published_spread``,
``measured`` (the mean over seeds), ``measured_spread`` (their standard deviation),
``metric``, ``verdict``) and ``reproduction.md``.

A row is ``reproduced`` when the measured mean lies within three published standard
deviations of the published mean (for a number read off a figure, which has none, within
the entry's stated ``tolerance``), ``better`` when it is better than that, and ``not
reproduced`` otherwise.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path

from deepsets.core.progress import Progress
from deepsets.core.runfolder import write_text
from deepsets.core.settings import CompareConfig
from deepsets.sweep.compare import run_compare

#: The papers' DeepSets: a ReLU MLP phi and rho (the Set Transformer paper's encoder and
#: decoder), on each pooling.
PAPERS = "+phi=mlp+rho=relu-mlp"


@dataclass(frozen=True)
class Row:
    """One published number: ``model`` on ``task``, ``metric`` averaged over test ``sizes``
    (each size weighs the same, as sizes drawn uniformly do)."""

    row: str  # what is compared, e.g. "max pooling"
    group: str  # the sweep that holds its runs
    model: str
    task: str
    sizes: tuple[int, ...]
    published: float
    spread: float | None = None  # the published standard deviation; None: none given
    metric: str = "mae"


@dataclass(frozen=True)
class Reproduction:
    """A paper's result: its sweeps, its rows, and how our protocol differs from its."""

    paper: str
    about: str
    sweeps: dict[str, dict]  # group -> CompareConfig settings
    rows: tuple[Row, ...]
    differences: tuple[str, ...]
    #: for rows without a published spread (read off a figure): the largest gap that still
    #: reproduces
    tolerance: float | None = None
    #: ``--quick``: these settings over every group's, for the tests
    quick: dict = field(default_factory=lambda: {"seeds": 1, "epochs": 1, "n_train": 1_000,
                                                 "n_per_card": 20})


TRAINING_SIZES = tuple(range(1, 11))
ST_MAX = {"tasks": ("reals-max",), "seeds": 5, "epochs": 20, "n_train": 128_000,
          "batch_size": 128, "lr": 1e-3, "embedding_dim": 64, "hidden_dim": 64,
          "cards": TRAINING_SIZES, "n_per_card": 1_000}
TEXT_SUM = {"tasks": ("sum",), "seeds": 3, "epochs": 10, "n_train": 100_000,
            "batch_size": 128, "lr": 1e-4, "embedding_dim": 100, "max_digit": 9,
            "max_card": 9, "cards": tuple(range(5, 100, 5)), "n_per_card": 1_000,
            "recipe": "handout"}
FIGURE_SIZES = {"5": (5,), "10": (10,), "15": (15,), "20-95": tuple(range(20, 100, 5))}
#: The figure's curves: (label, group, model, the accuracy read off at FIGURE_SIZES).
TEXT_SUM_PUBLISHED = (("DeepSets", "deepsets", "deepsets", (1.0, 1.0, 1.0, 1.0)),
                      ("LSTM", "lstm", "lstm-unpadded", (1.0, 0.82, 0.03, 0.0)),
                      ("GRU", "gru", "gru-unpadded", (1.0, 0.87, 0.06, 0.0)))

REPRODUCTIONS: dict[str, Reproduction] = {
    "set-transformer-max": Reproduction(
        "Lee et al., Set Transformer (ICML 2019), Table 1",
        "max regression: the largest of 1 to 10 reals drawn from U[0, 100], MAE at the "
        "training sizes, mean +- std over 5 runs",
        {"runs": {**ST_MAX, "models": tuple(f"deepsets{p}{PAPERS}" for p in
                                            ("-mean", "", "-max")) + ("set-transformer",)}},
        tuple(Row(row, "runs", model, "reals-max", TRAINING_SIZES, published, spread)
              for row, model, published, spread in (
                  ("mean pooling", f"deepsets-mean{PAPERS}", 2.133, 0.190),
                  ("sum pooling", f"deepsets{PAPERS}", 1.902, 0.137),
                  ("max pooling", f"deepsets-max{PAPERS}", 0.1355, 0.0074),
                  ("SAB + PMA", "set-transformer", 0.2085, 0.0127))),
        ("the sets: 128,000 drawn once and seen 20 times (20,000 batches of 128), where the "
         "paper's code draws every batch afresh; a batch holds sets of one size, as there",
         "the test: 1,000 sets of each size 1 to 10, each size weighing the same",
         "phi: our vector embedding (Linear, ReLU, Linear) then ReLU, Linear, ReLU, Linear: "
         "the paper's four layers of 64 with ReLU; rho: Linear, ReLU, Linear, as the paper",
         "the inputs are standardized by the training sets' mean and deviation and the "
         "outputs scaled back to the targets' (the paper feeds raw values)",
         "Set Transformer: ours embeds each real by Linear, ReLU, Linear and a linear "
         "projection before the two SABs (the paper's first SAB reads the raw value)")),
    "deepsets-text-sum": Reproduction(
        "Zaheer et al., Deep Sets (NeurIPS 2017), the sum of text digits (figure)",
        "the sum of a set of digits 1-9, trained on sets of 1-9, accuracy of the rounded "
        "prediction by test size; published values read off the figure",
        {"deepsets": {**TEXT_SUM, "models": ("deepsets",), "hidden_dim": 30},
         "lstm": {**TEXT_SUM, "models": ("lstm-unpadded",), "hidden_dim": 50, "epochs": 50},
         "gru": {**TEXT_SUM, "models": ("gru-unpadded",), "hidden_dim": 80, "epochs": 50}},
        tuple(Row(f"{label} at {sizes}", group, model, "sum", FIGURE_SIZES[sizes], value,
                  metric="acc")
              for label, group, model, values in TEXT_SUM_PUBLISHED
              for sizes, value in zip(FIGURE_SIZES, values, strict=True)),
        ("as the authors' DigitSum/text_sum.ipynb: 100,000 training sets of 1 to 9 digits "
         "1-9, left-padded; L1 loss, Adam 1e-4, batch 128; embedding 100; DeepSets: a "
         "layer of 30 with tanh, sum, linear, 10 epochs; LSTM of 50 and GRU of 80 units, "
         "50 epochs",
         "the recurrent models: Keras masks their padding (mask_zero), so ours train on "
         "each set's digits alone (lstm-unpadded, gru-unpadded); DeepSets' sum counts the "
         "pad token, as the notebook's Lambda sum does",
         "we keep the last epoch's model; the notebook keeps the best on a validation "
         "split of 1.2%; its DeepSets' Adam has epsilon 1e-3, ours 1e-8",
         "the test: 1,000 sets of each size 5, 10, ..., 95 (the notebook's 10,000); "
         "'20-95' is the mean over those sizes"),
        tolerance=0.05),
}


def reproduce(name: str, out: Path, *, quick: bool = False, seeds: int | None = None,
              jobs: int = 2, cluster: str | None = None, progress: Progress | None = None,
              force: bool = False) -> tuple[list[dict], dict[str, str]]:
    """Run reproduction ``name`` into ``out`` (a sweep folder per group), then write
    reproduction.json and reproduction.md there. Returns the rows and the failed runs."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"unknown reproduction {name!r}; choose from "
                         + ", ".join(REPRODUCTIONS))
    entry, out = REPRODUCTIONS[name], Path(out)
    scores: dict[tuple[str, str, str, int, int], float] = {}
    failed: dict[str, str] = {}
    for group, settings in entry.sweeps.items():
        first = {row.sizes[0] for row in entry.rows if row.group == group}
        config = sweep_config(settings, entry.quick, first if quick else None, seeds)
        rows, lost = run_compare(config, out / group, jobs=jobs, cluster=cluster,
                                 progress=progress, force=force)
        failed.update({f"{group}/{k}": v for k, v in lost.items()})
        for r in rows:
            for metric in ("acc", "mae"):
                if r.get(metric) not in ("", None):
                    scores[group, r["model"], metric, r["seed"], r["card"]] = float(r[metric])
    table = [compare_row(row, entry, scores) for row in entry.rows]
    write_text(out / "reproduction.json", json.dumps(table, indent=2) + "\n")
    write_text(out / "reproduction.md", markdown(name, entry, table, quick))
    return table, failed


def sweep_config(settings: dict, quick: dict, quick_cards: set[int] | None,
                 seeds: int | None) -> CompareConfig:
    """A group's sweep: its settings; with ``quick_cards`` (``--quick``), the ``quick``
    settings over them and those test sizes only (the first of each row's); then
    ``--seeds``."""
    config = CompareConfig(**settings)
    if quick_cards:
        config = replace(config, **quick, cards=tuple(sorted(quick_cards)))
    return replace(config, seeds=seeds) if seeds else config


def compare_row(row: Row, entry: Reproduction, scores: dict) -> dict:
    """One row of reproduction.json: published against the mean over seeds."""
    per_seed = []
    seeds = sorted({key[3] for key in scores if key[:3] == (row.group, row.model, row.metric)})
    for seed in seeds:
        values = [scores[row.group, row.model, row.metric, seed, size] for size in row.sizes
                  if (row.group, row.model, row.metric, seed, size) in scores]
        if values:
            per_seed.append(statistics.fmean(values))
    measured = statistics.fmean(per_seed) if per_seed else None
    spread = statistics.stdev(per_seed) if len(per_seed) > 1 else None
    return {"row": row.row, "published": row.published, "published_spread": row.spread,
            "measured": measured, "measured_spread": spread, "metric": row.metric,
            "verdict": verdict(row, measured, entry.tolerance), "model": row.model,
            "seeds": len(per_seed)}


def verdict(row: Row, measured: float | None, tolerance: float | None) -> str:
    """``reproduced`` within 3 published std (or ``tolerance`` where none is published),
    ``better`` beyond it on the good side, else ``not reproduced``."""
    if measured is None:
        return "not reproduced"
    allowed = 3 * row.spread if row.spread is not None else (tolerance or 0.0)
    gain = row.published - measured if row.metric == "mae" else measured - row.published
    if abs(gain) <= allowed:
        return "reproduced"
    return "better" if gain > 0 else "not reproduced"


def number(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" + (f" +- {spread:.2g}" if spread is not None else "")


def markdown(name: str, entry: Reproduction, table: list[dict], quick: bool) -> str:
    """reproduction.md: what was run, the rows side by side with their verdicts, and every
    difference from the paper's protocol."""
    lines = [f"# {name}: {entry.paper}", "", entry.about + ".", ""]
    if quick:
        lines += ["**--quick: a smoke test at a tiny scale, not the protocol; its numbers "
                  "say nothing about the paper.**", ""]
    lines += ["| row | metric | published | measured (mean +- std over seeds) | seeds | "
              "verdict |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r['row']} | {r['metric']} | {number(r['published'], r['published_spread'])}"
              f" | {number(r['measured'], r['measured_spread'])} | {r['seeds']} | "
              f"{r['verdict']} |" for r in table]
    rule = ("within 3 published standard deviations of the published mean"
            if entry.tolerance is None else
            f"within {entry.tolerance} of the published value (read off a figure)")
    lines += ["", f"A row is reproduced when the measured mean lies {rule}; better when it "
              "is better than that.", "", "## How our protocol differs from the paper's", ""]
    lines += [f"- {d}" for d in entry.differences]
    lines += ["", "Command: `deepsets reproduce " + name + (" --quick" if quick else "")
              + "`; each group's sweep (results.csv, summary.md, figures, explorer.html) "
              "is in its folder here."]
    return "\n".join(lines) + "\n"
