"""The whole handout on one run folder: tasks 1-6 (``pipeline``), then the figures of
task 7, the numbers behind the questions and the drift, and ``report.md``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepsets.core.checks import derive_seed
from deepsets.core.data import create_test_dataset
from deepsets.core.pipeline import evaluate_models, rng_for_test_sets, train_models, train_sets
from deepsets.core.progress import Progress
from deepsets.core.runfolder import (
    ANALYSIS,
    HISTORY,
    OUTPUTS,
    RESULTS,
    checkpoint_path,
    load_trained,
    prepare_run,
    read_config,
    read_json,
    write_json,
)
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import IMAGE_SUMS, TASKS
from deepsets.lab.drift import drift, padding_effect, per_image_accuracy
from deepsets.lab.plot import plot_drift, plot_results
from deepsets.lab.questions import question1, question2
from deepsets.lab.reach import exact_reach, float32_and_float64
from deepsets.lab.report import write_report

#: Where the report measures float32's rounding (the first size) and checks its predicted
#: largest exact size (the second): 100 sets each.
REACH_CARDS, REACH_SETS = (100_000, 1_000_000), 100


@dataclass
class LabRun:
    """What a finished lab produced."""

    run: Path
    config: LabConfig
    results: dict
    files: list[Path]


def plot_run(run: Path, config: LabConfig | None = None) -> list[Path]:
    """Task 7: accuracy.png and mae.png from the run's results.json."""
    config = config or read_config(run)
    return plot_results(read_json(Path(run) / RESULTS), run, title=TASKS[config.task].title,
                        max_train_card=config.max_size,
                        min_train_card=TASKS[config.task].scale)


def question_settings(config: LabConfig) -> LabConfig:
    """The digit sums the questions are answered on, with the run's seed and number of
    training sets. A run of tokens (digits, images) counts its sizes in elements as the
    handout does, so it lends its own digits, training-set size, test sizes and test sets
    per size; a run of vectors counts them in other units, so the handout's sizes stand."""
    if TASKS[config.task].elements.form != "tokens":
        return LabConfig(seed=config.seed, n_train=config.n_train, max_digit=config.max_digit)
    return LabConfig(seed=config.seed, n_train=config.n_train, max_card=config.max_card,
                     max_digit=config.max_digit, n_per_card=config.n_per_card,
                     cards=config.cards)


def questions(config: LabConfig, progress: Progress) -> dict:
    """Questions 1 and 2, on the handout's digit sums whatever this run's task."""
    progress.stage("answering the handout's questions")
    handout = question_settings(config)
    X, y = train_sets(handout)
    X_test, y_test = create_test_dataset(handout.n_per_card, handout.cards, handout.max_digit,
                                         rng_for_test_sets(handout))
    return {"question1": question1(X, y, X_test, y_test, handout.cards,
                                   seed=derive_seed(config.seed, "data", "question1"),
                                   max_digit=handout.max_digit, max_card=handout.max_card),
            "question2": question2(seed=derive_seed(config.seed, "question2"))}


# Each analysis gets the trained model it reads, its checkpoint dict, the run's settings and
# results, and the progress to report on.

def drift_of(model, state: dict, config: LabConfig, results: dict, progress: Progress) -> dict:
    return {**drift(model, results["cards"], results["deepsets"], config.max_card),
            "refit": state.get("refit")}


def reach_of(model, state: dict, config: LabConfig, results: dict, progress: Progress) -> dict:
    progress.stage(f"DeepSets in float32 and float64 on {REACH_SETS} sets of "
                   + " and ".join(f"{c:,}" for c in REACH_CARDS) + " digits")
    return exact_reach(model, float32_and_float64(model, config, REACH_CARDS, REACH_SETS))


def images_of(model, state: dict, config: LabConfig, results: dict,
              progress: Progress) -> dict:
    return per_image_accuracy(model, results["cards"], results["deepsets"]["acc"],
                              derive_seed(config.seed, "images"), task=config.task)


def lstm_padding_of(model, state: dict, config: LabConfig, results: dict,
                    progress: Progress) -> dict:
    progress.stage("scoring the LSTM on short sets, unpadded and padded")
    return padding_effect(model, config.max_card, config.max_digit, config.n_per_card,
                          derive_seed(config.seed, "data", "lstm padding"))


#: The analyses of trained models, in analysis.json's order: key -> (the tasks it explains,
#: the model it reads, what it computes).
ANALYSES = {
    "drift": (("sum",), "deepsets", drift_of),
    "reach": (("sum",), "deepsets", reach_of),
    "images": (IMAGE_SUMS, "deepsets", images_of),
    "lstm_padding": (("sum",), "lstm", lstm_padding_of),
}


def analyze_run(run: Path, config: LabConfig, results: dict,
                progress: Progress | None = None) -> dict:
    """The numbers of the questions and of each analysis the run's task and models allow
    (``ANALYSES``) -> analysis.json. Each trained model is loaded once."""
    progress = progress or Progress()
    analysis = questions(config, progress)
    trained: dict[str, tuple] = {}  # model name -> (model, checkpoint dict)
    for key, (tasks, name, analyze) in ANALYSES.items():
        if config.task in tasks and name in config.models:
            if name not in trained:
                trained[name] = load_trained(run, config, name)
            analysis[key] = analyze(*trained[name], config, results, progress)
    write_json(Path(run) / ANALYSIS, analysis)
    return analysis


def report_run(run: Path, config: LabConfig | None = None,
               progress: Progress | None = None) -> list[Path]:
    """analysis.json, drift.png and report.md for a run folder with results."""
    config = config or read_config(run)
    results = read_json(Path(run) / RESULTS)
    history = read_json(Path(run) / HISTORY) if (Path(run) / HISTORY).exists() else {}
    analysis = analyze_run(run, config, results, progress)
    files = [Path(run) / ANALYSIS]
    if "drift" in analysis:
        files.append(plot_drift(analysis["drift"], run))
    return [*files, write_report(run, config, results, history, analysis)]


def run_lab(config: LabConfig | None, out: Path, *, resume: bool = False, force: bool = False,
            progress: Progress | None = None, jobs: int | None = None) -> LabRun:
    """The whole handout into the run folder ``out``.

    ``resume`` continues the run stored in ``out``: ``config`` None takes its
    settings, else they must agree (``prepare_run``).
    """
    out = Path(out)
    config = prepare_run(out, config, resume=resume, force=force, progress=progress)
    progress = progress or Progress()
    progress.stage(f"generating {config.n_train:,} training sets")
    data = train_sets(config)  # once: training, then the constant guess's mean
    train_models(out, config, progress, jobs, data=data)
    results = evaluate_models(out, config, progress, train_targets=data[1])
    plot_run(out, config)
    report_run(out, config, progress)
    files = [out / name for name in OUTPUTS] + [checkpoint_path(out, m) for m in config.models]
    return LabRun(out, config, results, files)
