"""A sweep's results in words and figures: ``summary.md`` (mean and spread over seeds per
task, model and size, and the runs that failed) and ``accuracy_<task>.png``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepsets.core.settings import LabConfig
from deepsets.lab.plot import plot_by_size

#: The largest training set of every run of a sweep (the handout's).
MAX_TRAIN_CARD = LabConfig().max_card


def stats(rows: list[dict], task: str, model: str, key: str) -> tuple[list[int], np.ndarray]:
    """Sizes and a (seeds, sizes) array of ``key`` for one task and model, over the seeds
    whose run finished (a row without ``status`` counts as finished)."""
    mine = [r for r in rows if r["task"] == task and r["model"] == model
            and r.get("status", "ok") == "ok"]
    cards = sorted({r["card"] for r in mine})
    seeds = sorted({r["seed"] for r in mine})
    table = {(r["seed"], r["card"]): r[key] for r in mine}
    return cards, np.array([[table[s, c] for c in cards] for s in seeds])


def cell(values: np.ndarray, fmt: str) -> str:
    """Mean +- std over seeds, or "failed" when no seed finished."""
    return f"{values.mean():{fmt}} +- {values.std():{fmt}}" if values.size else "failed"


def summary(rows: list[dict], config, failed: dict[str, str] | None = None) -> str:
    """Markdown for the sweep ``config`` (a ``CompareConfig``): per task, accuracy and MAE
    mean +- std over the finished seeds at every size, per model; then the runs that
    failed, each with its error."""
    parts = [f"# Set-size generalization: {config.seeds} seeds, {config.epochs} epochs, "
             f"{config.n_train:,} training sets of 1-10 elements, {config.n_per_card:,} test "
             f"sets per size; deepsets trained with the {config.recipe!r} recipe\n"]
    for task in config.tasks:
        for key, name, fmt in (("acc", "accuracy", ".3f"), ("mae", "mean absolute error",
                                                              ".3g")):
            parts.append(f"## Task {task}: {name}, mean +- std over seeds\n")
            parts.append("| size | " + " | ".join(config.models) + " |")
            parts.append("|---:|" + "---:|" * len(config.models))
            columns = {m: stats(rows, task, m, key) for m in config.models}
            for card in sorted(config.cards):
                cells = [cell(values[:, sizes.index(card)] if card in sizes
                              else np.zeros(0), fmt)
                         for sizes, values in columns.values()]
                parts.append(f"| {card} | " + " | ".join(cells) + " |")
            parts.append("")
        if task == "images" and "deepsets" in config.models and stats(
                rows, "images", "deepsets", "acc")[0]:
            parts.append(paper_comparison(rows))
    if failed:
        parts.append(f"## Failed runs: {len(failed)}\n")
        parts.append("Their rows in results.csv have the status `failed`; the means above "
                     "leave them out. Run the same command again to retry them.\n")
        parts += [f"- `{name}`: {error}" for name, error in sorted(failed.items())]
        parts.append("")
    return "\n".join(parts)


#: DeepSets accuracy on sums of MNIST digit images in the paper's figure (read off it).
PAPER_IMAGES = {5: 0.98, 10: 0.96, 25: 0.89, 50: 0.78}


def paper_comparison(rows: list[dict]) -> str:
    """DeepSets on the images task next to the paper's MNIST curve."""
    cards, acc = stats(rows, "images", "deepsets", "acc")
    ours = {c: acc[:, i].mean() for i, c in enumerate(cards)}
    cells = [f"{c}: {ours[c]:.3f} (paper {p:.2f})" for c, p in PAPER_IMAGES.items()
             if c in ours]
    return ("DeepSets on image sums, mean accuracy against the paper's MNIST figure "
            "(8x8 scikit-learn digits here, InfiMNIST there): " + "; ".join(cells) + ".\n")


def plot_tasks(rows: list[dict], config, out: Path) -> list[Path]:  # config: CompareConfig
    """``accuracy_<task>.png``: mean line and min-max band over seeds, per model."""
    paths = []
    for task in config.tasks:
        curves = {m: stats(rows, task, m, "acc") for m in config.models}
        curves = {m: acc for m, (sizes, acc) in curves.items() if sizes}
        if not curves:
            continue
        paths.append(plot_by_size(curves, sorted(config.cards), Path(out) / f"accuracy_{task}.png",
                                  ylabel="accuracy", max_train_card=MAX_TRAIN_CARD,
                                  title=f"Task {task}: accuracy by set size "
                                        "(mean, min-max over seeds)"))
    return paths
