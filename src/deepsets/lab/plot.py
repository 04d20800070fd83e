"""Figures (handout task 7): accuracy and MAE against the size of the test sets.

One figure function serves a lab run (one seed per model) and a sweep (a
band over seeds). Uses matplotlib's object API (``Figure``), so no display or
pyplot state is needed and plotting is safe in tests and worker processes.

No figure crops a text: a figure measures its texts (a plug-in's import path can be
40 characters and more) and wraps its title, lays its legend out in the columns that fit
and grows with it, rather than assuming names of the built-in models' lengths.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text

from deepsets.core.models import SPECS
from deepsets.core.results import ESTIMATE, GUESS, metrics_of, model_names, scores_at
from deepsets.core.runfolder import ACCURACY_PNG, DRIFT_PNG, MAE_PNG, atomic_write

MARKERS = "os^vDx*"
#: What a figure leaves between its widest text and its edges, in inches.
MARGIN = 0.2


def label(model: str) -> str:
    """A model's name in figures and reports (``ModelSpec.label``), else its own name."""
    if model == GUESS:
        return "constant guess"
    if model == ESTIMATE:
        return "plug-in estimate"
    entry = SPECS.get(model)
    return entry.label if entry is not None and entry.label else model


def save_figure(fig: Figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    return Path(path)


def renderer_of(fig: Figure):
    """The renderer of an Agg canvas, the one that saves ``fig`` as a PNG, now attached
    to it: texts are measured with the fonts they are drawn in."""
    return FigureCanvasAgg(fig).get_renderer()


def size_of(artist: Artist, renderer) -> tuple[float, float]:
    """An artist's width and height in inches (its bounding box, rotation included); its
    place does not matter, so it can be measured before the layout."""
    box = artist.get_window_extent(renderer)
    return box.width / artist.figure.dpi, box.height / artist.figure.dpi


def wrap_to(text: Text, width: float, renderer) -> None:
    """Break ``text`` into lines no wider than ``width`` inches: first before its
    parenthesis (a title's aside on a line of its own), else between words, each line it
    already has on its own."""
    whole = text.get_text()
    candidates = [whole, whole.replace(" (", "\n(", 1)]
    candidates += ["\n".join(textwrap.fill(line, chars) for line in whole.split("\n"))
                   for chars in range(len(whole) - 1, 7, -1)]
    for candidate in candidates:
        text.set_text(candidate)
        if size_of(text, renderer)[0] <= width:
            return


def fit_legend(fig: Figure, columns: int, renderer, **style) -> Legend:
    """The figure's legend below its axes in as many columns (up to ``columns``) as fit
    its width; the figure widens where one column does not fit, and grows by the
    legend's height so that the axes keep theirs."""
    entries = len(fig.axes[0].get_legend_handles_labels()[1])
    room = fig.get_figwidth() - 2 * MARGIN
    for ncols in range(min(columns, entries), 0, -1):
        legend = fig.legend(loc="outside lower center", ncols=ncols, **style)
        width, height = size_of(legend, renderer)
        if width <= room or ncols == 1:
            break
        legend.remove()
    fig.set_size_inches(max(fig.get_figwidth(), width + 2 * MARGIN),
                        fig.get_figheight() + height + MARGIN / 2)
    return legend


def plot_by_size(curves: dict[str, np.ndarray], cards: Sequence[int], path: Path,
                 **how) -> Path:
    """``by_size_figure`` saved to ``path``."""
    return save_figure(by_size_figure(curves, cards, **how), path)


def by_size_figure(curves: dict[str, np.ndarray], cards: Sequence[int], *, title: str,
                   ylabel: str, max_train_card: int, accuracy: bool = True,
                   min_train_card: int = 1) -> Figure:
    """One line per model against set size; ``curves[model]`` is (seeds, sizes).

    The line is the mean over seeds and, with several seeds, a band spans
    their min and max. Accuracy has a 0..1 axis; an error (``accuracy``
    False) a log axis, floored at 1e-4 so that an exact 0 can be drawn.
    Coinciding curves (all at 1.0, say) are drawn slightly apart.
    """
    many = len(curves) > 8  # a sweep of every model: a larger figure, a smaller legend
    # the axes' size: the legend's rows are added below them (fit_legend)
    fig = Figure(figsize=(10, 6.6) if many else (7.5, 4.1), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(0 if min_train_card == 1 else min_train_card, max_train_card, color="0.9",
               zorder=0, label=f"training sizes ({min_train_card}-{max_train_card})")
    spread_out = max(cards) > 50 * min(cards)  # e.g. --cards +1000,10000: a log axis
    for i, (model, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float).reshape(-1, len(cards))
        if not accuracy:
            values = np.maximum(values, 1e-4)
        shift = 0 if spread_out else 0.4 * (i - (len(curves) - 1) / 2)
        x = np.asarray(cards) + shift
        line, = ax.plot(x, values.mean(axis=0), marker=MARKERS[i % len(MARKERS)],
                        markersize=3.5, linewidth=1.2, label=label(model))
        if len(values) > 1:
            ax.fill_between(x, values.min(axis=0), values.max(axis=0),
                            color=line.get_color(), alpha=0.2)
    if spread_out:
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, max(cards) * 1.02)
    if accuracy:
        ax.set_ylim(-0.03, 1.03)
    else:
        ax.set_yscale("log")
    ax.set(xlabel="number of elements in the set", ylabel=ylabel)
    ax.grid(alpha=0.3, which="major" if accuracy else "both")
    renderer = renderer_of(fig)
    fit_legend(fig, 6 if many else 4, renderer, frameon=False,
               fontsize="small" if many else None)
    # about the axes' width: the y label and the ticks take an inch
    wrap_to(ax.set_title(title), fig.get_figwidth() - 1.0, renderer)
    return fig


def plot_results(results: dict, out: Path, *, title: str, max_train_card: int,
                 min_train_card: int = 1) -> list[Path]:
    """A run's ``accuracy.png`` (the handout's figure; none for a real-valued task) and
    ``mae.png`` into ``out``."""
    models = model_names(results)
    return [plot_by_size({m: scores_at(results, m, key) for m in models}, results["cards"],
                         Path(out) / png, title=f"{title}: {name} by set size", ylabel=ylabel,
                         max_train_card=max_train_card, min_train_card=min_train_card,
                         accuracy=key == "acc")
            for key, png, name, ylabel in (("acc", ACCURACY_PNG, "accuracy", "accuracy"),
                                           ("mae", MAE_PNG, "MAE", "mean absolute error (log)"))
            if key in metrics_of(results)]


def plot_drift(drift: dict, out: Path) -> Path:
    """``drift.png``: DeepSets' MAE and accuracy, predicted from a_0..a_10 and b2 vs measured."""
    cards, pred, meas = drift["cards"], drift["predicted"], drift["measured"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, key, name in zip(fig.subplots(1, 2), ("mae", "acc"), ("MAE", "accuracy"),
                             strict=True):
        ax.plot(cards, pred[key], color="C0", label="predicted from the contributions")
        ax.plot(cards, meas[key], "o", color="C3", markersize=4, label="measured")
        ax.set(xlabel="number of digits in the set", ylabel=name,
               title=f"DeepSets {name}: predicted vs measured")
        ax.grid(alpha=0.3)
    fig.axes[0].legend()
    return save_figure(fig, Path(out) / DRIFT_PNG)
