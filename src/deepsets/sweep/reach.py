"""The answer at a glance: each model's *reach* on each task, as ``reach.csv``, a table
and ``reach.png``.

The reach of one run is the largest test size up to which the model meets the task's
success criterion at every test size (``Task.meets``: accuracy >= 90% for whole-number
targets; MAE <= 0.25 x the constant guess's for real ones, or within 2x of the plug-in
estimate's where the task has one); 0 when it misses at the smallest. A run *learned* the
task when it meets it at every test size its training sets hold (``learned_to``): a reach
below those sizes says "not learned", one at or above them "learned, then lost" beyond the
reach. A cell gives the median over the seeds that finished (``median_reach``: the lower
middle one of an even number, so that it is a size tested) and their range. A sweep with
readouts (``--readouts``) has a grid per task too: poolings x readouts (``grid_table``).
"""

from __future__ import annotations

from pathlib import Path
from statistics import median_low

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from deepsets.core.models import PART_COLUMNS, part_columns, readout_of, without_readout
from deepsets.core.results import ESTIMATE, GUESS, REFERENCES
from deepsets.core.tasks import TASKS
from deepsets.lab.plot import MARGIN, label, renderer_of, save_figure, size_of, wrap_to

REACH_COLUMNS = ("task", "model", *PART_COLUMNS, "seed", "reach", "learned_to", "learned",
                 "largest_size")
#: The rule of ``median_reach`` in words, for the table's header and the figure's title.
MEDIAN_RULE = ("the median over seeds, the lower middle one of an even number so that it is "
               "a size tested")
#: A cell whose median run did not meet the task at every training size tested.
NOT_LEARNED = "not learned"


def status(row: dict) -> str:
    """A row's status: ``ok``, ``failed`` or ``n/a``; a row without one finished."""
    return row.get("status", "ok")


def yardsticks(rows: list[dict]) -> dict[str, dict[int, float]]:
    """The references' MAE by size among ``rows`` of one task and seed: ``{GUESS: {card:
    mae}, ESTIMATE: {...}}`` (``results.REFERENCES``)."""
    return {ref: {r["card"]: r["mae"] for r in rows if r["model"] == ref} for ref in REFERENCES}


def run_reach(task: str, rows: list[dict], references: dict[str, dict[int, float]]) -> int:
    """The reach of one run from its rows (one per size); ``references``: the constant
    guess's and the estimator's MAE by size (``yardsticks``)."""
    reach = 0
    for row in sorted(rows, key=lambda r: r["card"]):
        ok, card = status(row) == "ok", row["card"]
        if not TASKS[task].meets(row["acc"] if ok else None, row["mae"] if ok else None,
                                 references.get(GUESS, {}).get(card),
                                 references.get(ESTIMATE, {}).get(card)):
            break
        reach = card
    return reach


def trained_to(config, task: str) -> int:
    """The largest test size of ``task`` that the sweep's training sets hold (1..max_card
    sets, in elements); 0 when no test size is that small."""
    largest = TASKS[task].sizes([config.max_card])[0]
    return max((s for s in TASKS[task].sizes(config.cards) if s <= largest), default=0)


def learned(reach: int, trained: int) -> str:
    """``yes`` when a run of this reach met the task at every training size tested,
    ``no`` when it missed at one, empty when no test size is a training size."""
    return "" if not trained else "yes" if reach >= trained else "no"


def table_models(config) -> list[str]:
    """The rows of a sweep's reach table: its models, then the reference estimator where a
    task has one."""
    estimated = any(TASKS[t].estimator is not None for t in config.tasks)
    return [*config.all_models, *([ESTIMATE] if estimated else [])]


def reach_rows(rows: list[dict], config) -> list[dict]:  # config: CompareConfig
    """One row per finished run: task, model, its parts, seed, its reach, how far it
    learned the training sizes (``learned_to``, ``learned``) and the largest test size; the
    reference estimator's too."""
    by_run: dict[tuple, list[dict]] = {}
    for r in rows:
        by_run.setdefault((r["task"], r["model"], r["seed"]), []).append(r)
    out = []
    for task in config.tasks:
        trained = trained_to(config, task)
        for model in table_models(config):
            for seed in range(config.seeds):
                mine = by_run.get((task, model, seed), [])
                if not mine or any(status(r) == "failed" for r in mine):
                    continue
                refs = yardsticks([r for ref in REFERENCES
                                   for r in by_run.get((task, ref, seed), [])])
                reach = run_reach(task, mine, refs)
                out.append({"task": task, "model": model, **part_columns(model), "seed": seed,
                            "reach": reach, "learned_to": min(reach, trained),
                            "learned": learned(reach, trained),
                            "largest_size": max(r["card"] for r in mine)})
    return out


def reach_cells(reaches: list[dict], config) -> dict[tuple[str, str], list[int]]:
    """``{(model, task): [reach of each finished seed]}``."""
    cells: dict[tuple[str, str], list[int]] = {(m, t): [] for m in table_models(config)
                                                for t in config.tasks}
    for r in reaches:
        cells[r["model"], r["task"]].append(r["reach"])
    return cells


def median_reach(values: list[int]) -> int:
    """The median of the seeds' reaches, the one rule of the table and the figure: of an
    even number the lower middle one (``statistics.median_low``), since the mean of the
    two middle ones (20 and 100: 60) may be a size no run was tested at."""
    return median_low(values)


def cell_text(values: list[int], largest: int, limited: bool, trained: int = 0) -> str:
    """``45 (40 to 50)``: the median reach over seeds and its range; ``all`` for a reach of
    every size tested, ``-`` for none, ``failed`` when no seed finished; ``not learned``
    where the median run missed the task at a training size (below ``trained``), with the
    seeds' range where they differ; ``*``: the model does not apply beyond some size."""
    if not values:
        return "failed"

    def word(v: int) -> str:
        return "all" if v >= largest else "-" if v == 0 else str(v)

    low, mid, high = min(values), median_reach(values), max(values)
    head = NOT_LEARNED if mid < trained else word(mid)
    text = head if low == high else f"{head} ({word(low)} to {word(high)})"
    return text + ("*" if limited else "")


def largest_tested(config, task: str) -> int:
    """The largest size a sweep tests ``task`` at, in elements (``Task.sizes``)."""
    return max(TASKS[task].sizes(config.cards))


def applies(model: str, task: str) -> bool:
    """Whether a row of the reach table has a cell for ``task``: every model has; the
    reference estimator on a task that has one."""
    return model != ESTIMATE or TASKS[task].estimator is not None


def reach_table(rows: list[dict], reaches: list[dict], config) -> str:
    """Markdown: rows are models, columns are tasks, each cell the reach (``cell_text``)."""
    cells = reach_cells(reaches, config)
    limited = {(r["model"], r["task"]) for r in rows if status(r) == "n/a"}
    lines = ["| model | " + " | ".join(config.tasks) + " |",
             "|---|" + "---:|" * len(config.tasks)]
    for m in table_models(config):
        lines.append(f"| {label(m)} | " + " | ".join(
            cell_text(cells[m, t], largest_tested(config, t), (m, t) in limited,
                      trained_to(config, t)) if applies(m, t) else ""
            for t in config.tasks) + " |")
    notes = sorted({r["error"] for r in rows if status(r) == "n/a"})
    return "\n".join(lines + [""] + [f"\\* {note}" for note in notes])


def plot_reach(reaches: list[dict], config, path: Path) -> Path:
    """``reach.png``: ``reach_figure`` saved to ``path``."""
    return save_figure(reach_figure(reaches, config), path)


def reach_figure(reaches: list[dict], config) -> Figure:
    """The reach table as a heatmap (``draw_cells``): models x tasks, each cell the median
    reach over seeds (``median_reach``), coloured by its share of the largest size tested;
    the figure's size follows from its labels, so that a long model name widens it. A
    sweep with readouts draws ``grid_figure`` instead."""
    if config.readouts:
        return grid_figure(reaches, config)
    cells, models = reach_cells(reaches, config), table_models(config)
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    image = draw_cells(ax, [[cells[m, t] if applies(m, t) else None for t in config.tasks]
                            for m in models],
                       [largest_tested(config, t) for t in config.tasks],
                       [trained_to(config, t) for t in config.tasks])
    ax.set_xticks(range(len(config.tasks)), config.tasks, rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(len(models)), [label(m) for m in models], fontsize=7)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("reach / the largest size tested", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    title = fig.suptitle(f"{FIGURE_TITLE}\n({seeds_of(config)}; a cell: {MEDIAN_RULE}; "
                         f"{FIGURE_KEY})", fontsize=8)
    fit_reach_figure(fig, ax, bar, title)
    return fig


FIGURE_TITLE = "Reach: the largest test size up to which a model meets the task"
FIGURE_KEY = "x: failed; hatched: not learned at the training sizes"


def seeds_of(config) -> str:
    return f"{config.seeds} seed{'s' if config.seeds != 1 else ''}"


def draw_cells(ax: Axes, cells: list[list[list[int] | None]], largest: list[int],
               trained: list[int]):
    """A heatmap of reach cells on ``ax``: each cell the seeds' reaches (None: no cell,
    []: failed), drawn as the median (``median_reach``) coloured by its share of its
    column's ``largest`` size tested; a cell whose median is below its column's ``trained``
    size (not learned) hatched grey. Returns the image, for a colorbar."""
    grid = np.array([[median_reach(c) if c else np.nan for c in row] for row in cells])
    share = grid / np.array(largest, dtype=float)
    unlearned = grid < np.array(trained)
    image = ax.imshow(np.where(unlearned, np.nan, share), cmap="viridis", vmin=0, vmax=1,
                      aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if cells[i][j] is None:
            continue
        if unlearned[i, j]:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", hatch="///",
                                   edgecolor="0.6", linewidth=0))
        text = "x" if np.isnan(value) else f"{value:g}"
        light = not np.isnan(value) and (unlearned[i, j] or share[i, j] > 0.6)
        ax.text(j, i, text, ha="center", va="center", fontsize=6,
                color="black" if light else "white")
    return image


def grid_rows(config) -> tuple[list[str], list[str]]:
    """The rows and columns of a grid of poolings x readouts: each model less its readout
    (``models.without_readout``), and the sweep's readouts (then ``own`` for a model that
    has none to choose, as the Set Transformer)."""
    rows = list(dict.fromkeys(without_readout(m) for m in config.all_models))
    own = any(not readout_of(m) for m in config.all_models)
    return rows, [*config.readouts, *([OWN] if own else [])]


#: A grid's column for the models that take no readout.
OWN = "own"


def grid_cells(reaches: list[dict], config, task: str) -> list[list[list[int] | None]]:
    """``grid_rows``' cells for one task: each pooling's reaches with each readout (None
    where the sweep holds no such model)."""
    cells = reach_cells(reaches, config)
    rows, columns = grid_rows(config)
    by_place = {(without_readout(m), readout_of(m) or OWN): m for m in config.all_models}
    return [[cells[by_place[r, c], task] if (r, c) in by_place else None for c in columns]
            for r in rows]


def grid_table(reaches: list[dict], config, task: str) -> str:
    """Markdown for one task: rows are poolings (models less their readout), columns the
    readouts, each cell the reach (``cell_text``)."""
    rows, columns = grid_rows(config)
    largest, trained = largest_tested(config, task), trained_to(config, task)
    lines = [f"| {task} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for r, row in zip(rows, grid_cells(reaches, config, task), strict=True):
        lines.append(f"| {label(r)} | " + " | ".join(
            "" if c is None else cell_text(c, largest, False, trained) for c in row) + " |")
    return "\n".join(lines)


def grid_figure(reaches: list[dict], config) -> Figure:
    """One heatmap a task (``draw_cells``), poolings x readouts, side by side in rows of
    four, the pooling names once a row."""
    rows, columns = grid_rows(config)
    width = min(4, len(config.tasks))
    height = -(-len(config.tasks) // width)
    left = 0.09 * max(len(label(r)) for r in rows)
    fig = Figure(layout="constrained", figsize=(
        left + width * (0.45 * len(columns) + 0.3) + 1.0, 1.1 + height * (0.3 * len(rows) + 1.1)))
    axes = fig.subplots(height, width, squeeze=False, sharey=True)
    image = None
    for ax, task in zip(axes.flat, config.tasks, strict=False):  # more axes than tasks
        image = draw_cells(ax, grid_cells(reaches, config, task), [largest_tested(config, task)]
                           * len(columns), [trained_to(config, task)] * len(columns))
        ax.set_title(task, fontsize=8)
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows)), [label(r) for r in rows], fontsize=7)
    for ax in list(axes.flat)[len(config.tasks):]:
        ax.set_visible(False)
    bar = fig.colorbar(image, ax=axes, shrink=0.6)
    bar.set_label("reach / the largest size tested", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    fig.suptitle(f"{FIGURE_TITLE}, by pooling (rows) and readout (columns)\n"
                 f"({seeds_of(config)}; a cell: {MEDIAN_RULE}; {FIGURE_KEY})", fontsize=8,
                 wrap=True)
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
