"""The handout's tasks 1-6 on one run folder: data, training, evaluation.

Each step reads and writes the run folder, so the steps can run alone
(``deepsets train``, ``deepsets eval``) and a cut-off run continues where it
stopped: a model whose checkpoint holds every epoch is not trained again.
"""

from __future__ import annotations

import os
from contextlib import closing
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepsets.core import kernels
from deepsets.core.checks import derive_seed
from deepsets.core.data import (
    VectorSets,
    chunked_test_sets,
    create_train_dataset,
    element_pool,
    free_padding,
    set_sizes,
)
from deepsets.core.devices import torch_threads
from deepsets.core.evaluate import predict, scores
from deepsets.core.executor import Job, run_jobs
from deepsets.core.models import (
    build_model,
    check_predictions,
    fingerprint,
    is_plugin,
    model_class,
)
from deepsets.core.progress import Outbox, Progress, Stop
from deepsets.core.results import ESTIMATE, GUESS, result_rows, rows_csv
from deepsets.core.runfolder import (
    HISTORY,
    RESULTS,
    RESULTS_CSV,
    checkpoint_path,
    load_trained,
    write_json,
    write_text,
)
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import TASKS
from deepsets.core.train import Interrupted, fit, init_model, refit_checkpoint

# --- data (tasks 1 and 2) ---

def train_sets(config: LabConfig) -> tuple[np.ndarray, np.ndarray]:
    """The run's training sets and targets, from the seed's training-data stream: the
    same for every model of a task and seed (``data_key``)."""
    rng = np.random.default_rng(derive_seed(config.seed, "data", "train"))
    return create_train_dataset(config.n_train, config.max_card, config.max_digit, rng,
                                task=config.task, pool=element_pool(config.task, "train"))


def data_key(config: LabConfig) -> str:
    """What ``train_sets`` depends on, as a key: runs of one key share their sets."""
    return (f"{config.task} seed {config.seed}: {config.n_train} sets of 1-{config.max_card},"
            f" digits 1-{config.max_digit}")


def laid_out(config: LabConfig, name: str,
             X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The training sets as model ``name`` sees them (``LabConfig.padding``): the sets and
    their lengths, None when every set is as long as the array is wide. Sets of vectors
    come with their lengths (``VectorSets``)."""
    if isinstance(X, VectorSets):
        return X.values, X.lengths
    padding = config.padding(name)
    if padding == "free":
        rng = np.random.default_rng(derive_seed(config.seed, "data", "pads"))
        return free_padding(X, config.max_card, rng)
    return X, set_sizes(X) if padding == "none" else None


def rng_for_test_sets(config: LabConfig) -> np.random.Generator:
    """The seed's test-data stream: draw the sizes from it in the order of ``cards``."""
    return np.random.default_rng(derive_seed(config.seed, "data", "test"))


# --- training (task 5) ---

def threads_for(name: str) -> int:
    """Intra-op threads to train model ``name`` with: its own choice, within the cores."""
    wanted = getattr(model_class(name), "train_threads", 1)
    return max(1, min(wanted, os.cpu_count() or 1))


def default_jobs(config: LabConfig) -> int:
    """Train the models side by side when each trains on one thread and there is a core for
    each; else one after another. Plug-ins train one after another: one that draws random
    numbers while training (dropout) would share torch's generator with the others."""
    if (config.device != "cpu" or any(threads_for(m) > 1 for m in config.models)
            or any(is_plugin(m) for m in config.models)):
        return 1
    return max(1, min(len(config.models), os.cpu_count() or 1))


def train_models(run: Path, config: LabConfig, progress: Progress | None = None,
                 jobs: int | None = None, threads: int | None = None,
                 outbox: Outbox | None = None,
                 data: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Task 5: train every model of the config into ``run/<model>.pt``; returns the history.

    With ``jobs`` > 1 the models train side by side, in threads of this
    process with one intra-op thread each (their kernels run outside
    Python's lock); models that train on more threads train one after
    another. Each model uses the same thread count either way, so the
    numbers are the same. Each file written goes to ``outbox`` too. ``data``: the run's
    training sets (``train_sets``) when the caller made them (a sweep shares them).
    """
    progress, outbox = progress or Progress(), outbox or Outbox()
    jobs = default_jobs(config) if jobs is None else jobs
    if any(threads_for(m) > 1 for m in config.models) or threads not in (None, 1):
        jobs = 1  # torch's thread count is one for the whole process
    if data is None:
        progress.stage(f"generating {config.n_train:,} training sets")
        data = train_sets(config)
    if config.device == "cpu":  # built (once) before any thread starts: every Adam uses them
        progress.stage(kernels.status())
    if jobs > 1 and len(config.models) > 1:
        history = train_side_by_side(run, config, data, jobs, progress, outbox)
    else:
        history = {name: train_model(run, config, name, progress=progress, outbox=outbox,
                                     data=data, threads=threads) for name in config.models}
    write_json(Path(run) / HISTORY, history)
    outbox.saved(Path(run) / HISTORY)
    return history


def train_side_by_side(run: Path, config: LabConfig, data: tuple[np.ndarray, np.ndarray],
                       jobs: int, progress: Progress, outbox: Outbox) -> dict:
    """Every model of the run in a thread of its own, one core each; Ctrl-C stops them all,
    each after its last checkpoint, and says what each saved."""
    progress.stage(f"training {', '.join(config.models)} side by side, one core each")
    history, stopped, run_outbox = {}, [], outbox

    def train(name: str, *, progress: Progress, outbox: Outbox, stop: Stop) -> list[dict]:
        try:  # a thread writes its files itself, and hands them to the run's outbox
            return train_model(run, config, name, progress=progress, outbox=run_outbox,
                               stop=stop, data=data)
        except Interrupted as err:  # what it saved, for the message below
            stopped.append(str(err))
            raise

    work = [Job(name, train, (name,)) for name in config.models]
    try:
        with torch_threads(1), closing(run_jobs(work, jobs, progress,
                                                threads=True)) as outcomes:
            for outcome in outcomes:
                if outcome.error is not None:
                    raise outcome.error
                history[outcome.key] = outcome.value
    except KeyboardInterrupt:  # the jobs have stopped (closing): say what each saved
        raise Interrupted("; ".join(stopped) or "interrupted") from None
    return {name: history[name] for name in config.models}


def seeded_model(name: str, config: LabConfig) -> nn.Module:
    """Model ``name`` of the run with its initial weights, which depend only on the seed and
    the name."""
    return init_model(partial(build_model, name), config.seed, name, **config.model_args(name))


def train_model(run: Path | str, config: LabConfig | dict, name: str, *, progress: Progress,
                outbox: Outbox | None = None, stop: Stop | None = None,
                data: tuple[np.ndarray, np.ndarray] | None = None,
                threads: int | None = None) -> list[dict]:
    """Train (or finish training) one model of the run; returns its history.

    Takes plain arguments (a path string, the config as a dict) so that it can
    run as a job in a worker process; the data is generated if not given.
    """
    config = config if isinstance(config, LabConfig) else LabConfig.from_dict(config)
    X, y = data if data is not None else train_sets(config)
    outbox = outbox or Outbox()
    with torch_threads(threads or threads_for(name)):
        model = seeded_model(name, config)
        ckpt = checkpoint_path(run, name)
        sets, lengths = laid_out(config, name, X)
        history = fit(model, sets, y, name=name, epochs=config.epochs,
                      batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                      device=config.device, checkpoint=ckpt, progress=progress,
                      outbox=outbox, stop=stop, lengths=lengths,
                      schedule=config.schedule(name), loss=TASKS[config.task].loss,
                      outputs=TASKS[config.task].outputs, fingerprint=fingerprint(name))
        if config.recipe_for(name).refit:
            refit_checkpoint(ckpt, name, model, sets, y, lengths, progress, outbox)
    return history


# --- evaluation (task 6) ---

def score_models(models: dict[str, nn.Module], config: LabConfig,
                 progress: Progress | None = None,
                 train_targets: np.ndarray | None = None) -> dict:
    """``results.json``'s dict for ``models`` on the run's test sets, scored by the task's
    metrics (``Task.metrics``: accuracy only for whole-number targets and classes, MAE for
    numbers); for a real target the constant guess (``results.GUESS``) is scored beside
    them, and the task's reference estimator where it has one (``results.ESTIMATE``). A
    model that does not apply to a size (``SetModel.not_applicable``) scores None there.
    The sizes are counted in elements (``Task.sizes``).

    The test sets of one size are generated and scored a chunk at a time, so
    sizes like 10,000 digits stay within memory. ``train_targets``: the training sets'
    targets, when the caller has them (the guess's mean); else they are made again.
    """
    progress = progress or Progress()
    rng = rng_for_test_sets(config)
    pool = element_pool(config.task, "test")
    task = TASKS[config.task]
    predictors = dict(models)
    if task.guessed:
        targets = train_sets(config)[1] if train_targets is None else train_targets
        predictors[GUESS] = ConstantGuess(float(np.mean(targets)))
    if task.estimator is not None:
        predictors[ESTIMATE] = Estimate(task.estimator)
    results: dict = {"cards": list(task.sizes(config.cards)),
                     **{n: {metric: [] for metric in task.metrics} for n in predictors}}
    progress.start("eval", f"evaluating {', '.join(models)} on {config.n_per_card:,} sets "
                   "per size", len(config.cards), "size")
    for card, size in zip(config.cards, task.sizes(config.cards), strict=True):
        applies = {name: model for name, model in predictors.items()
                   if not_applicable(model, size) is None}
        targets, preds = [], {name: [] for name in applies}
        for X, y in chunked_test_sets(card, config.n_per_card, config.max_digit, rng,
                                      task=config.task, pool=pool):
            targets.append(y)
            for name, model in applies.items():
                out = predict(model, X, batch_tokens=config.eval_batch_tokens,
                              device=config.device)
                check_predictions(torch.as_tensor(out), len(X), name, task.outputs)
                preds[name].append(out)
        for name, model in predictors.items():
            found = scores(np.concatenate(targets), np.concatenate(preds[name])
                           ) if name in applies else {}
            for metric in task.metrics:
                results[name][metric].append(found.get(metric))
            if name not in applies:
                results[name]["not_applicable"] = not_applicable(model, size)
        progress.advance("eval")
    progress.end("eval")
    return results


def not_applicable(model: nn.Module, card: int) -> str | None:
    """Why ``model`` cannot predict sets of ``card`` elements; None when it can."""
    check = getattr(model, "not_applicable", None)
    return check(card) if check is not None else None


class ConstantGuess(nn.Module):
    """The same prediction for every set (the constant guess, ``results.GUESS``)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x),), self.value, dtype=torch.float64)


class Estimate(nn.Module):
    """A task's reference estimator (``Task.estimator``) on each set's own samples, as a
    predictor (``results.ESTIMATE``)."""

    def __init__(self, estimator) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, x):
        return torch.from_numpy(np.asarray(self.estimator(x.numpy()), dtype=np.float64))


def evaluate_models(run: Path, config: LabConfig, progress: Progress | None = None,
                    outbox: Outbox | None = None,
                    train_targets: np.ndarray | None = None) -> dict:
    """Task 6: accuracy and MAE per test size of every trained model -> results.json/csv."""
    models = {name: load_trained(run, config, name)[0] for name in config.models}  # fail fast
    progress, outbox = progress or Progress(), outbox or Outbox()
    results = score_models(models, config, progress, train_targets)
    write_json(Path(run) / RESULTS, results)
    write_text(Path(run) / RESULTS_CSV,
               rows_csv(result_rows(results), ["model", "card", "acc", "mae"]))
    for name in (RESULTS, RESULTS_CSV):
        outbox.saved(Path(run) / name)
    return results
