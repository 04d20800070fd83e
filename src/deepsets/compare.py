"""Sweeps of tasks x models x seeds (issue 4): which set models generalize to unseen sizes.

Every (task, model, seed) is one run folder under ``out``, trained and
evaluated by ``lab.py``; a run whose ``results.json`` exists is not redone.
Runs go to separate worker processes (``jobs``), each on one thread so the
numbers do not depend on how many run at once. The sweep writes
``results.csv`` (task, model, seed, card, acc, mae), ``summary.md`` (mean and
std over seeds) and ``accuracy_<task>.png`` (mean and min-max band per model).
"""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from deepsets.config import HANDOUT_CARDS, RECIPES, LabConfig, as_tuple, check_positive_int
from deepsets.data import TASKS
from deepsets.lab import evaluate_models, prepare_run, read_config, train_models
from deepsets.models import MODELS
from deepsets.plot import save_figure
from deepsets.progress import Progress
from deepsets.runfolder import RESULTS, read_json, write_text

ALL_MODELS = ("deepsets", "deepsets-mean", "deepsets-max", "lstm", "gru", "set-transformer")


@dataclass(frozen=True)
class CompareConfig:
    """A sweep. Each run has the handout's set sizes, model sizes and optimizer, but a fifth
    of the training sets and half the epochs, so that 72 runs fit in minutes."""

    tasks: tuple[str, ...] = tuple(TASKS)  # set functions to learn
    models: tuple[str, ...] = ALL_MODELS  # set models to compare
    seeds: int = 3  # seeds 0..seeds-1 per (task, model)
    epochs: int = 10  # per run (the handout has 20)
    n_train: int = 20_000  # training sets per run (the handout has 100,000)
    n_per_card: int = 1_000  # test sets per size
    cards: tuple[int, ...] = HANDOUT_CARDS  # test set sizes
    recipe: str = "exact"  # how the sum-pooling DeepSets is trained (see config.RECIPES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", as_tuple("tasks", self.tasks))
        object.__setattr__(self, "models", as_tuple("models", self.models))
        for name in ("seeds", "epochs", "n_train", "n_per_card"):
            check_positive_int(name, getattr(self, name))
        for task in self.tasks:
            if task not in TASKS:
                raise ValueError(f"unknown task {task!r}; choose from " + ", ".join(TASKS))
        for model in self.models:
            if model not in MODELS:
                raise ValueError(f"unknown model {model!r}; choose from " + ", ".join(MODELS))
        if not self.tasks or not self.models:
            raise ValueError("give at least one task and one model")
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe={self.recipe!r} is not allowed; use one of "
                             + ", ".join(RECIPES))

    def quick(self) -> CompareConfig:
        return replace(self, seeds=2, epochs=1, n_train=2_000, n_per_card=100,
                       cards=(5, 10, 20))

    def runs(self) -> list[LabConfig]:
        """One lab configuration per (task, model, seed)."""
        return [LabConfig(task=task, models=(model,), seed=seed, epochs=self.epochs,
                          n_train=self.n_train, n_per_card=self.n_per_card, cards=self.cards,
                          recipe=self.recipe if model == "deepsets" else "handout")
                for task in self.tasks for model in self.models for seed in range(self.seeds)]


def run_name(config: LabConfig) -> str:
    return f"{config.task}-{config.models[0]}-seed{config.seed}"


def run_one(run: str, config: dict) -> dict:
    """Train and evaluate one run folder (in a worker process); returns its results."""
    lab_config = LabConfig.from_dict(config)
    path = Path(run)
    if (path / RESULTS).exists() and read_config(path).same_results_as(lab_config):
        return read_json(path / RESULTS)  # finished before: not redone
    prepare_run(path, lab_config, force=True)  # the sweep owns its run folders
    train_models(path, lab_config, jobs=1, threads=1)
    return evaluate_models(path, lab_config)


def run_compare(config: CompareConfig, out: Path, *, jobs: int = 2,
                progress: Progress | None = None) -> list[dict]:
    """Every run of the sweep, then results.csv, summary.md and one PNG per task."""
    progress = progress or Progress()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = config.runs()
    results: dict[str, dict] = {}
    progress.start("compare", f"{len(runs)} runs", len(runs), "run")
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = {pool.submit(run_one, str(out / run_name(r)), r.to_dict()): r for r in runs}
        for future in as_completed(futures):
            results[run_name(futures[future])] = future.result()
            progress.advance("compare")
            progress.write("compare", f"done: {run_name(futures[future])}")
    progress.end("compare")
    rows = [{"task": r.task, "model": r.models[0], "seed": r.seed, "card": card,
             "acc": acc, "mae": mae}
            for r in runs
            for card, acc, mae in zip(results[run_name(r)]["cards"],
                                      results[run_name(r)][r.models[0]]["acc"],
                                      results[run_name(r)][r.models[0]]["mae"], strict=True)]
    write_text(out / "results.csv", to_csv(rows))
    write_text(out / "summary.md", summary(rows, config))
    for task in config.tasks:
        plot_task(rows, task, out / f"accuracy_{task}.png")
    return rows


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["task", "model", "seed", "card", "acc", "mae"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def stats(rows: list[dict], task: str, model: str, key: str) -> tuple[list[int], np.ndarray]:
    """Sizes and a (seeds, sizes) array of ``key`` for one task and model."""
    mine = [r for r in rows if r["task"] == task and r["model"] == model]
    cards = sorted({r["card"] for r in mine})
    seeds = sorted({r["seed"] for r in mine})
    table = {(r["seed"], r["card"]): r[key] for r in mine}
    return cards, np.array([[table[s, c] for c in cards] for s in seeds])


def summary(rows: list[dict], config: CompareConfig) -> str:
    """Markdown: per task, accuracy and MAE mean +- std over seeds at every size, per model."""
    parts = [f"# Set-size generalization: {config.seeds} seeds, {config.epochs} epochs, "
             f"{config.n_train:,} training sets of 1-10 elements, {config.n_per_card:,} test "
             f"sets per size; deepsets trained with the {config.recipe!r} recipe\n"]
    for task in config.tasks:
        cards = stats(rows, task, config.models[0], "acc")[0]
        for key, name, fmt in (("acc", "accuracy", ".3f"), ("mae", "mean absolute error",
                                                              ".3g")):
            parts.append(f"## Task {task}: {name}, mean +- std over seeds\n")
            parts.append("| size | " + " | ".join(config.models) + " |")
            parts.append("|---:|" + "---:|" * len(config.models))
            columns = {m: stats(rows, task, m, key)[1] for m in config.models}
            for i, card in enumerate(cards):
                cells = [f"{columns[m][:, i].mean():{fmt}} +- {columns[m][:, i].std():{fmt}}"
                         for m in config.models]
                parts.append(f"| {card} | " + " | ".join(cells) + " |")
            parts.append("")
        if task == "images" and "deepsets" in config.models:
            parts.append(paper_comparison(rows))
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


def plot_task(rows: list[dict], task: str, path: Path) -> Path:
    """Accuracy against set size: mean line and min-max band over seeds, per model."""
    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(0, 10, color="0.9", zorder=0, label="training sizes (1-10)")
    models = list(dict.fromkeys(r["model"] for r in rows if r["task"] == task))
    for i, model in enumerate(models):
        cards, acc = stats(rows, task, model, "acc")
        # a small sideways shift per model keeps equal curves (all at 1.0, say) visible
        x = np.asarray(cards) + 0.5 * (i - (len(models) - 1) / 2)
        line, = ax.plot(x, acc.mean(axis=0), marker="os^vDx"[i % 6], markersize=3.5,
                        linewidth=1.2, label=model)
        ax.fill_between(x, acc.min(axis=0), acc.max(axis=0), color=line.get_color(),
                        alpha=0.2)
    ax.set(xlabel="number of elements in the set (models drawn slightly apart)",
           ylabel="accuracy", ylim=(-0.03, 1.03),
           title=f"Task {task}: accuracy by set size (mean, min-max over seeds)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=4, frameon=False)
    return save_figure(fig, path)
