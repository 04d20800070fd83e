"""Figures (handout task 7): accuracy and MAE against the size of the test sets.

Uses matplotlib's object API (``Figure``), so no display or pyplot state is
needed and plotting is safe in tests and worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from deepsets.runfolder import atomic_write

ACCURACY_PNG = "accuracy.png"
MAE_PNG = "mae.png"
DRIFT_PNG = "drift.png"
LABELS = {"deepsets": "DeepSets", "lstm": "LSTM"}


def label(model: str) -> str:
    return LABELS.get(model, model)


def _curves(cards: Sequence[int], per_model: dict[str, list[float]], *, ylabel: str,
            title: str, max_train_card: int, log: bool = False) -> Figure:
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(0, max_train_card, color="0.9", zorder=0,
               label=f"training sizes (1-{max_train_card})")
    for model, values in per_model.items():
        ax.plot(cards, values, marker="o", markersize=4, label=label(model))
    ax.set(xlabel="number of digits in the set", ylabel=ylabel, title=title)
    if max(cards) > 50 * min(cards):  # e.g. --cards +1000,10000: spread the sizes out
        ax.set_xscale("log")
    else:
        ax.set_xlim(0, max(cards) * 1.02)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both" if log else "major")
    fig.legend(loc="outside lower center", ncols=len(per_model) + 1, frameon=False)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    return Path(path)


def plot_results(results: dict, out: Path, *, max_train_card: int = 10) -> list[Path]:
    """Write ``accuracy.png`` (the handout's figure) and ``mae.png`` into ``out``."""
    cards = results["cards"]
    models = [m for m in results if m != "cards"]
    acc = _curves(cards, {m: results[m]["acc"] for m in models}, ylabel="accuracy",
                  title="Sum of digits: accuracy by set size", max_train_card=max_train_card)
    acc.axes[0].set_ylim(-0.03, 1.03)
    # an exact prediction has MAE 0, which a log axis cannot show: floor it
    mae = _curves(cards, {m: [max(v, 1e-4) for v in results[m]["mae"]] for m in models},
                  ylabel="mean absolute error (log)", title="Sum of digits: MAE by set size",
                  max_train_card=max_train_card, log=True)
    return [save_figure(acc, Path(out) / ACCURACY_PNG), save_figure(mae, Path(out) / MAE_PNG)]


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
