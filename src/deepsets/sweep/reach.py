"""The answer at a glance: each model's *reach* on each task, as ``reach.csv``, a table
and ``reach.png``.

The reach of one run is the largest test size up to which the model meets the task's
success criterion at every test size (``Task.meets``: accuracy >= 90% for whole-number
targets, MAE <= 0.25 x the constant guess's for real ones); 0 when it misses at the
smallest. A cell gives the median over the seeds that finished (``median_reach``: the lower
middle one of an even number, so that it is a size tested) and their range.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median_low

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.text import Text

from deepsets.core.models import PART_COLUMNS, part_columns
from deepsets.core.results import GUESS
from deepsets.core.tasks import TASKS
from deepsets.lab.plot import MARGIN, label, renderer_of, save_figure, size_of, wrap_to

REACH_COLUMNS = ("task", "model", *PART_COLUMNS, "seed", "reach", "largest_size")
#: The rule of ``median_reach`` in words, for the table's header and the figure's title.
MEDIAN_RULE = ("the median over seeds, the lower middle one of an even number so that it is "
               "a size tested")


def status(row: dict) -> str:
    """A row's status: ``ok``, ``failed`` or ``n/a``; a row without one finished."""
    return row.get("status", "ok")


def run_reach(task: str, rows: list[dict], guess: dict[int, float]) -> int:
    """The reach of one run from its rows (one per size), ``guess``: the constant guess's
    MAE by size."""
    reach = 0
    for row in sorted(rows, key=lambda r: r["card"]):
        ok = status(row) == "ok"
        if not TASKS[task].meets(row["acc"] if ok else None, row["mae"] if ok else None,
                                 guess.get(row["card"])):
            break
        reach = row["card"]
    return reach


def reach_rows(rows: list[dict], config) -> list[dict]:  # config: CompareConfig
    """One row per finished run: task, model, seed, its reach and the largest test size."""
    by_run: dict[tuple, list[dict]] = {}
    for r in rows:
        by_run.setdefault((r["task"], r["model"], r["seed"]), []).append(r)
    out = []
    for task in config.tasks:
        for model in config.all_models:
            for seed in range(config.seeds):
                mine = by_run.get((task, model, seed), [])
                if not mine or any(status(r) == "failed" for r in mine):
                    continue
                guess = {r["card"]: r["mae"] for r in by_run.get((task, GUESS, seed), [])}
                out.append({"task": task, "model": model, **part_columns(model), "seed": seed,
                            "reach": run_reach(task, mine, guess),
                            "largest_size": max(r["card"] for r in mine)})
    return out


def reach_cells(reaches: list[dict], config) -> dict[tuple[str, str], list[int]]:
    """``{(model, task): [reach of each finished seed]}``."""
    cells: dict[tuple[str, str], list[int]] = {(m, t): [] for m in config.all_models
                                                for t in config.tasks}
    for r in reaches:
        cells[r["model"], r["task"]].append(r["reach"])
    return cells


def median_reach(values: list[int]) -> int:
    """The median of the seeds' reaches, the one rule of the table and the figure: of an
    even number the lower middle one (``statistics.median_low``), since the mean of the
    two middle ones (20 and 100: 60) may be a size no run was tested at."""
    return median_low(values)


def cell_text(values: list[int], largest: int, limited: bool) -> str:
    """``45 (40 to 50)``: the median reach over seeds and its range; ``all`` for a reach of
    every size tested, ``-`` for none, ``failed`` when no seed finished; ``*``: the
    model does not apply beyond some size."""
    if not values:
        return "failed"

    def word(v: int) -> str:
        return "all" if v >= largest else "-" if v == 0 else str(v)

    low, mid, high = min(values), median_reach(values), max(values)
    text = word(mid) if low == high else f"{word(mid)} ({word(low)} to {word(high)})"
    return text + ("*" if limited else "")


def largest_tested(config, task: str) -> int:
    """The largest size a sweep tests ``task`` at, in elements (``Task.sizes``)."""
    return max(TASKS[task].sizes(config.cards))


def reach_table(rows: list[dict], reaches: list[dict], config) -> str:
    """Markdown: rows are models, columns are tasks, each cell the reach (``cell_text``)."""
    cells = reach_cells(reaches, config)
    limited = {(r["model"], r["task"]) for r in rows if status(r) == "n/a"}
    lines = ["| model | " + " | ".join(config.tasks) + " |",
             "|---|" + "---:|" * len(config.tasks)]
    for m in config.all_models:
        lines.append(f"| {label(m)} | " + " | ".join(
            cell_text(cells[m, t], largest_tested(config, t), (m, t) in limited)
            for t in config.tasks) + " |")
    notes = sorted({r["error"] for r in rows if status(r) == "n/a"})
    return "\n".join(lines + [""] + [f"\\* {note}" for note in notes])


def plot_reach(reaches: list[dict], config, path: Path) -> Path:
    """``reach.png``: ``reach_figure`` saved to ``path``."""
    return save_figure(reach_figure(reaches, config), path)


def reach_figure(reaches: list[dict], config) -> Figure:
    """The reach table as a heatmap: each cell the median reach over seeds
    (``median_reach``), coloured by its share of the largest size tested; the figure's
    size follows from its labels, so that a long model name widens it."""
    cells = reach_cells(reaches, config)
    grid = np.array([[median_reach(cells[m, t]) if cells[m, t] else np.nan
                      for t in config.tasks] for m in config.all_models])
    share = grid / np.array([largest_tested(config, t) for t in config.tasks])  # of each task's
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        text = "x" if np.isnan(value) else f"{value:g}"
        ax.text(j, i, text, ha="center", va="center", fontsize=6,
                color="black" if not np.isnan(value) and share[i, j] > 0.6 else "white")
    ax.set_xticks(range(len(config.tasks)), config.tasks, rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(config.all_models)), [label(m) for m in config.all_models], fontsize=7)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("reach / the largest size tested", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    seeds = f"{config.seeds} seed{'s' if config.seeds != 1 else ''}"
    title = fig.suptitle("Reach: the largest test size up to which a model meets the task\n"
                         f"({seeds}; a cell: {MEDIAN_RULE}; x: failed)", fontsize=8)
    fit_reach_figure(fig, ax, bar, title)
    return fig


def fit_reach_figure(fig: Figure, ax: Axes, bar: Colorbar, title: Text) -> None:
    """Size the heatmap's figure from its texts: the model names on the left, the task
    names (at 60 degrees) below, 0.42 x 0.3 inch a cell, the colorbar with its label on the
    right, the title wrapped to the width above."""
    renderer = renderer_of(fig)
    xlabels, ylabels = ax.get_xticklabels(), ax.get_yticklabels()
    left = max([size_of(t, renderer)[0] for t in ylabels]  # the first task's name reaches
               + [size_of(xlabels[0], renderer)[0] - 0.2])  # left of its column
    below = max(size_of(t, renderer)[1] for t in xlabels)
    width = max(4.5, left + 0.42 * len(xlabels) + 1.3)  # 1.3: the colorbar, its label
    wrap_to(title, width - 2 * MARGIN, renderer)
    top = size_of(title, renderer)[1]
    rows = max(0.3 * len(ylabels), size_of(bar.ax.yaxis.label, renderer)[1] / 0.8 + 0.1)
    fig.set_size_inches(width, top + rows + below + 0.5)
