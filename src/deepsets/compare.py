"""Sweeps of tasks x models x seeds: which set models generalize to unseen set sizes.

Every (task, model, seed) is one run folder under ``out``, trained and
evaluated by ``pipeline``; a run whose ``results.json`` exists is not redone,
and a cut-off run continues from its checkpoint. Runs go to worker processes
(``executor``, ``jobs`` at once), each on one thread so the numbers do not
depend on how many run at once. The sweep writes
``results.csv`` (task, model, seed, card, acc, mae), ``summary.md`` (mean and
std over seeds) and ``accuracy_<task>.png`` (mean and min-max band per model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from deepsets.checks import check_choice, check_names, check_positive_int, check_sizes
from deepsets.config import RECIPES, LabConfig
from deepsets.data import HANDOUT_CARDS, TASKS
from deepsets.executor import Job, run_jobs
from deepsets.models import MODELS
from deepsets.pipeline import evaluate_models, train_models
from deepsets.plot import plot_by_size
from deepsets.progress import Progress
from deepsets.results import result_rows, rows_csv
from deepsets.runfolder import CONFIG, RESULTS, prepare_run, read_config, read_json, write_text


@dataclass(frozen=True)
class CompareConfig:
    """A sweep. Each run has the handout's set sizes, model sizes and optimizer, but a fifth
    of the training sets and half the epochs, so that 72 runs fit in minutes."""

    tasks: tuple[str, ...] = tuple(TASKS)  # set functions to learn
    models: tuple[str, ...] = tuple(MODELS)  # set models to compare: every built-in one
    seeds: int = 3  # seeds 0..seeds-1 per (task, model)
    epochs: int = 10  # per run (the handout has 20)
    n_train: int = 20_000  # training sets per run (the handout has 100,000)
    n_per_card: int = 1_000  # test sets per size
    cards: tuple[int, ...] = HANDOUT_CARDS  # test set sizes
    recipe: str = "exact"  # how the sum-pooling DeepSets is trained (see config.RECIPES)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", check_names("tasks", self.tasks, TASKS, "task"))
        object.__setattr__(self, "models", check_names("models", self.models, MODELS, "model"))
        object.__setattr__(self, "cards", check_sizes("cards", self.cards))
        for name in ("seeds", "epochs", "n_train", "n_per_card"):
            check_positive_int(name, getattr(self, name))
        check_choice("recipe", self.recipe, RECIPES)

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


def run_one(run: str, config: dict, *, progress: Progress) -> dict:
    """Train and evaluate one run folder (a job in a worker process); returns its results."""
    lab_config = LabConfig.from_dict(config)
    path = Path(run)
    stored = read_config(path) if (path / CONFIG).exists() else None
    same = stored is not None and stored.same_results_as(lab_config)
    if same and (path / RESULTS).exists():
        return read_json(path / RESULTS)  # finished before: not redone
    prepare_run(path, lab_config, force=not same)  # other settings: the sweep starts it over
    train_models(path, lab_config, progress, jobs=1, threads=1)
    return evaluate_models(path, lab_config, progress)


def run_compare(config: CompareConfig, out: Path, *, jobs: int = 2,
                progress: Progress | None = None) -> list[dict]:
    """Every run of the sweep, then results.csv, summary.md and one PNG per task."""
    progress = progress or Progress()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {run_name(r): r for r in config.runs()}
    results: dict[str, dict] = {}
    progress.start("compare", f"{len(runs)} runs", len(runs), "run")
    for outcome in run_jobs([Job(name, run_one, (str(out / name), r.to_dict()))
                             for name, r in runs.items()], jobs):
        if outcome.error is not None:
            raise outcome.error
        results[outcome.key] = outcome.value
        progress.advance("compare")
        progress.write("compare", f"done: {outcome.key}")
    progress.end("compare")
    rows = [row for name, r in runs.items()
            for row in result_rows(results[name], task=r.task, seed=r.seed)]
    write_text(out / "results.csv", rows_csv(rows, ["task", "model", "seed", "card", "acc",
                                                    "mae"]))
    write_text(out / "summary.md", summary(rows, config))
    max_card = next(iter(runs.values())).max_card
    for task in config.tasks:
        cards = stats(rows, task, config.models[0], "acc")[0]
        curves = {m: stats(rows, task, m, "acc")[1] for m in config.models}
        plot_by_size(curves, cards, out / f"accuracy_{task}.png", ylabel="accuracy",
                     title=f"Task {task}: accuracy by set size (mean, min-max over seeds)",
                     max_train_card=max_card)
    return rows


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
