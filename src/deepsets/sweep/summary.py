"""A sweep's results in words and figures: ``summary.md`` (the reach table first, then mean
and spread over seeds per task, model and size, and the runs that failed),
``accuracy_<task>.png`` for a task scored by accuracy (whole numbers, classes) and
``mae_<task>.png`` for a real one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from deepsets.core.results import ESTIMATE, GUESS
from deepsets.core.settings import LabConfig
from deepsets.core.settings_table import describe
from deepsets.core.tasks import ACCURACY_BAR, ERROR_FRACTION, ESTIMATE_FACTOR, IMAGE_SUMS, TASKS
from deepsets.lab.plot import by_size_figure, save_figure
from deepsets.sweep.published import MNIST_PUBLISHED
from deepsets.sweep.reach import (
    MEDIAN_RULE,
    NOT_LEARNED,
    OWN,
    grid_table,
    reach_table,
    status,
)

#: The largest training set of every run of a sweep (the handout's).
MAX_TRAIN_CARD = LabConfig().max_card


def estimated(config) -> str:
    """The criterion of the sweep's tasks with a reference estimator, in words."""
    tasks = [t for t in config.tasks if TASKS[t].estimator is not None]
    if not tasks:
        return ""
    return (f"; on {', '.join(tasks)}, which have a reference estimator (the plug-in "
            f"estimate, a row of the table), its MAE at most {ESTIMATE_FACTOR:g} x the "
            "estimate's and below the guess's")


def references(task: str) -> list[str]:
    """The yardsticks scored beside a task's models: the constant guess on a real target,
    and the reference estimator where the task has one."""
    return [*([GUESS] if TASKS[task].guessed else []),
            *([ESTIMATE] if TASKS[task].estimator is not None else [])]


def stats(rows: list[dict], task: str, model: str, key: str) -> tuple[list[int], np.ndarray]:
    """Sizes and a (seeds, sizes) array of ``key`` for one task and model, over the seeds
    whose run finished (a row without ``status`` counts as finished); NaN where a seed has
    no score at a size."""
    mine = [r for r in rows if r["task"] == task and r["model"] == model
            and status(r) == "ok" and r[key] not in (None, "")]
    cards = sorted({r["card"] for r in mine})
    seeds = sorted({r["seed"] for r in mine})
    table = {(r["seed"], r["card"]): float(r[key]) for r in mine}
    return cards, np.array([[table.get((s, c), np.nan) for c in cards] for s in seeds])


def cell(values: np.ndarray, fmt: str) -> str:
    """Mean +- std over the seeds scored, or "failed" when no seed finished."""
    values = values[~np.isnan(values)]
    return f"{values.mean():{fmt}} +- {values.std():{fmt}}" if values.size else "failed"


METRICS = {"acc": ("accuracy", ".3f"), "mae": ("mean absolute error", ".3g")}


def task_tables(rows: list[dict], config, task: str) -> list[str]:
    """The task's tables, one per metric: a row per size, a column per model (and the
    constant guess on a real task); ``n/a`` where a model does not apply."""
    models = [*config.all_models, *references(task)]
    limited = {(r["model"], r["card"]) for r in rows if r["task"] == task
               and status(r) == "n/a"}
    parts = []
    for key in TASKS[task].metrics:
        name, fmt = METRICS[key]
        parts.append(f"## Task {task}: {name}, mean +- std over seeds\n")
        parts.append("| size | " + " | ".join(models) + " |")
        parts.append("|---:|" + "---:|" * len(models))
        columns = {m: stats(rows, task, m, key) for m in models}
        for card in sorted(TASKS[task].sizes(config.cards)):
            cells = ["n/a" if (m, card) in limited else
                     cell(values[:, sizes.index(card)] if card in sizes else np.zeros(0), fmt)
                     for m, (sizes, values) in columns.items()]
            parts.append(f"| {card} | " + " | ".join(cells) + " |")
        parts.append("")
    return parts


def classes(config) -> str:
    """``, classes`` where the sweep holds a classification."""
    return ", classes" if any(TASKS[t].classes for t in config.tasks) else ""


def scaled(config) -> str:
    """What the sizes of the tasks whose sets count many elements a unit are."""
    units = [f"{t}: {TASKS[t].scale}-{TASKS[t].scale * config.max_card:,} in steps of "
             f"{TASKS[t].scale}, tested up to {max(TASKS[t].sizes(config.cards)):,}"
             for t in config.tasks if TASKS[t].scale != 1]
    return f" ({'; '.join(units)})" if units else ""


def summary(rows: list[dict], config, failed: dict[str, str] | None = None,
            reaches: list[dict] | None = None) -> str:
    """Markdown for the sweep ``config`` (a ``CompareConfig``): the reach table (each
    model's reach on each task, ``reach.reach_rows``), then per task its scores mean +- std
    over the finished seeds at every size, per model; then the runs that failed, each
    with its error."""
    counts = describe({k: getattr(config, k) for k in ("seeds", "epochs", "n_train",
                                                        "n_per_card")})
    parts = [f"# Set-size generalization: {counts} (training sets of 1-{config.max_card} "
             f"elements); deepsets trained with the {config.recipe!r} recipe\n"]
    if reaches is not None:
        parts += ["## Reach: the largest test size up to which each model meets each task\n",
                  f"A model meets a task at a size when its accuracy there is at least "
                  f"{ACCURACY_BAR:.0%} (whole-number targets{classes(config)}) or its MAE at most "
                  f"{ERROR_FRACTION:g} x the constant guess's (real targets: the guess "
                  "predicts the training targets' mean for every set)"
                  f"{estimated(config)}, at that size and "
                  f"every smaller one tested. A cell is {MEDIAN_RULE} (their range); `all`: "
                  f"every size tested, up to {max(config.cards):,}; `-`: not even the "
                  f"smallest; `{NOT_LEARNED}`: the median run misses the task at a size its "
                  "training sets hold, so it never learned it (a number is a run that "
                  "learned it and lost it beyond that size). "
                  f"Training sets hold 1-{config.max_card} elements{scaled(config)}. Per run: "
                  "reach.csv.\n",
                  reach_table(rows, reaches, config), ""]
        if config.readouts:
            parts += ["### Reach by pooling and readout\n",
                      "Each task's models less their readout (rows) with each readout "
                      f"(columns; `{OWN}`: a model without one to choose).\n"]
            parts += [line for task in config.tasks
                      for line in (grid_table(reaches, config, task), "")]
    for task in config.tasks:
        parts += task_tables(rows, config, task)
        if task in IMAGE_SUMS and "deepsets" in config.all_models and stats(
                rows, task, "deepsets", "acc")[0]:
            parts.append(paper_comparison(rows, task))
    if failed:
        parts.append(f"## Failed runs: {len(failed)}\n")
        parts.append("Their rows in results.csv have the status `failed`; the means above "
                     "leave them out. Run the same command again to retry them.\n")
        parts += [f"- `{name}`: {error}" for name, error in sorted(failed.items())]
        parts.append("")
    return "\n".join(parts)


#: DeepSets accuracy on sums of MNIST digit images in the paper's figure (read off it), at
#: the sizes a sweep's summary compares.
PAPER_IMAGES = {size: MNIST_PUBLISHED[size] for size in (5, 10, 25, 50)}
#: The images each image sum (``tasks.IMAGE_SUMS``) holds.
IMAGE_WORDS = {"images": "8x8 scikit-learn digits", "mnist-sum": "MNIST's test images"}


def paper_comparison(rows: list[dict], task: str = "images") -> str:
    """DeepSets on an image sum next to the paper's MNIST curve."""
    cards, acc = stats(rows, task, "deepsets", "acc")
    ours = {c: acc[:, i].mean() for i, c in enumerate(cards)}
    cells = [f"{c}: {ours[c]:.3f} (paper {p:.2f})" for c, p in PAPER_IMAGES.items()
             if c in ours]
    return (f"DeepSets on image sums, mean accuracy against the paper's MNIST figure "
            f"({IMAGE_WORDS[task]} here, InfiMNIST there; its protocol: deepsets reproduce "
            "deepsets-mnist-sum): " + "; ".join(cells) + ".\n")


def on_sizes(sizes: list[int], values: np.ndarray, cards: list[int]) -> np.ndarray:
    """``values`` (seeds, sizes) spread over ``cards``, NaN (a gap in a line) where a size
    has no score."""
    out = np.full((len(values), len(cards)), np.nan)
    for i, card in enumerate(sizes):
        out[:, cards.index(card)] = values[:, i]
    return out


def figure_name(task: str) -> str:
    """The file of a task's figure: ``accuracy_<task>.png``, or ``mae_<task>.png`` for a
    real-valued task."""
    return f"{'mae' if TASKS[task].guessed else 'accuracy'}_{task}.png"


def plot_tasks(rows: list[dict], config, out: Path) -> list[Path]:  # config: CompareConfig
    """Each task's figure (``task_figure``) saved as ``figure_name(task)`` in ``out``."""
    paths = []
    for task in config.tasks:  # one figure at a time in memory
        fig = task_figure(rows, config, task)
        if fig is not None:
            paths.append(save_figure(fig, Path(out) / figure_name(task)))
    return paths


def task_figure(rows: list[dict], config, task: str) -> Figure | None:
    """The figure of ``accuracy_<task>.png`` (whole-number targets, classes) or
    ``mae_<task>.png`` (real ones, with the constant guess): mean line and min-max band
    over seeds, per model; None where no run of the task finished."""
    whole = not TASKS[task].guessed  # scored by accuracy
    key = "acc" if whole else "mae"
    models = [*config.all_models, *references(task)]
    cards = sorted(TASKS[task].sizes(config.cards))
    curves = {m: on_sizes(*stats(rows, task, m, key), cards) for m in models}
    curves = {m: values for m, values in curves.items() if values.size}
    if not curves:
        return None
    return by_size_figure(curves, cards,
                          ylabel="accuracy" if whole else "mean absolute error (log)",
                          max_train_card=TASKS[task].sizes([config.max_card])[0],
                          min_train_card=TASKS[task].scale, accuracy=whole,
                          title=f"Task {task}: {METRICS[key][0]} by set size "
                                "(mean, min-max over seeds)")
