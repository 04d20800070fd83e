"""The handout end to end on one run folder: data, train, evaluate, plot, analyze, report.

Each step reads and writes the run folder (DESIGN.md), so the steps can run
alone (``deepsets train / eval / plot``) and a cut-off run continues where it
stopped: a model whose checkpoint holds every epoch is not trained again.
"""

from __future__ import annotations

import csv
import io
import multiprocessing as mp
import os
import platform
from dataclasses import dataclass, replace
from pathlib import Path
from queue import Empty

import numpy as np
import torch

from deepsets.analysis import drift, question1, question2
from deepsets.config import LabConfig, derive_seed
from deepsets.data import (
    PAD,
    create_train_dataset,
    digit_images,
    image_tokens,
    task_targets,
)
from deepsets.evaluate import predict, score
from deepsets.models import MODELS, VARIANTS, DeepSets, SetModel
from deepsets.plot import ACCURACY_PNG, DRIFT_PNG, MAE_PNG, plot_drift, plot_results
from deepsets.progress import Progress, QueueProgress, replay
from deepsets.report import write_report
from deepsets.runfolder import (
    ANALYSIS,
    CONFIG,
    HISTORY,
    REPORT,
    RESULTS,
    RESULTS_CSV,
    CheckpointError,
    checkpoint_path,
    load_checkpoint,
    load_model,
    read_json,
    save_checkpoint,
    write_json,
    write_text,
)
from deepsets.train import (
    Interrupted,
    TrainingDiverged,
    fit,
    init_model,
    refit_output,
    torch_threads,
)

OUTPUTS = (CONFIG, HISTORY, RESULTS, RESULTS_CSV, ACCURACY_PNG, MAE_PNG, ANALYSIS, DRIFT_PNG,
           REPORT)


@dataclass
class LabRun:
    """What a finished lab produced."""

    run: Path
    config: LabConfig
    results: dict
    files: list[Path]


def versions() -> dict[str, str]:
    import matplotlib
    import sklearn

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "matplotlib": matplotlib.__version__}


def read_config(run: Path) -> LabConfig:
    """The settings of an existing run folder."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"run folder {run} does not exist")
    stored = read_json(run / CONFIG)
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise ValueError(f"{run / CONFIG} is not a deepsets config (no 'config' object)")
    return LabConfig.from_dict(stored["config"])


def prepare_run(run: Path, config: LabConfig | None, *, resume: bool = False,
                force: bool = False) -> LabConfig:
    """Create or reopen the run folder and return the settings it runs with.

    - a new folder gets ``config`` (written to ``config.json`` at once, which
      also proves the folder is writable before any training starts);
    - ``resume`` continues the run stored in the folder with its own settings;
    - a folder holding a run of the same settings continues it;
    - a folder holding other settings is an error;
    - ``force`` clears the folder's lab files first and starts over.
    """
    run = Path(run)
    if run.exists() and not run.is_dir():
        raise ValueError(f"--out {run} is a file, not a folder")
    stored = read_config(run) if (run / CONFIG).exists() else None
    if resume:
        if stored is None:
            raise ValueError(f"nothing to resume: {run} holds no {CONFIG}")
        # the device changes speed, not the numbers, so it may differ on resume
        config = stored if config is None else replace(stored, device=config.device)
    elif config is None:
        raise ValueError("no settings given")
    elif force:
        clear_run(run)
    elif stored is not None and not stored.same_results_as(config):
        diff = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in
                         settings_diff(stored, config).items())
        raise ValueError(f"{run} holds a run with other settings ({diff}); use --resume "
                         "to continue it, --force to start over, or another --out")
    try:
        run.mkdir(parents=True, exist_ok=True)
        for stale in run.glob(".*.tmp"):  # left by a run killed in the middle of a write
            stale.unlink()
        write_json(run / CONFIG, {"config": config.to_dict(), "versions": versions()})
    except OSError as err:
        raise ValueError(f"cannot write to {run}: {err.strerror or err}") from None
    return config


def settings_diff(old: LabConfig, new: LabConfig) -> dict[str, tuple]:
    a, b = old.to_dict(), new.to_dict()
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def clear_run(run: Path) -> None:
    """Remove the files a lab writes (and nothing else) from ``run``."""
    for name in (*OUTPUTS, *(checkpoint_path(run, m).name for m in MODELS)):
        path = Path(run) / name
        if path.is_file():
            path.unlink()


def draw_pool(config: LabConfig, split: str) -> np.ndarray | None:
    """The tokens sets are drawn from: None for the digits 1..max_digit, else images."""
    return image_tokens(split) if config.task == "images" else None


def from_pool(X: np.ndarray, pool: np.ndarray | None) -> np.ndarray:
    """Map drawn values 1..len(pool) to the pool's tokens (padding stays 0)."""
    return X if pool is None else np.concatenate([[PAD], pool])[X]


def train_data(config: LabConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(derive_seed(config.seed, "data", "train"))
    pool = draw_pool(config, "train")
    X, _ = create_train_dataset(config.n_train, config.max_card,
                                config.max_digit if pool is None else len(pool), seed=rng)
    X = from_pool(X, pool)
    return X, task_targets(config.task, X)


def test_data(config: LabConfig, cards: tuple[int, ...] | None = None):
    rng = np.random.default_rng(derive_seed(config.seed, "data", "test"))
    X = [np.concatenate(list(test_chunks(rng, card, config))) for card in cards or config.cards]
    return X, [task_targets(config.task, x) for x in X]


def model_args(config: LabConfig, name: str) -> dict:
    """The constructor arguments of model ``name`` in this run."""
    images = config.task == "images"
    args = {"input_dim": len(digit_images()[1]) + 1 if images else config.max_digit + 1,
            "embedding_dim": config.embedding_dim, "hidden_dim": config.hidden_dim,
            "inputs": "images" if images else "tokens", **VARIANTS.get(name, {})}
    if name == "deepsets":
        args.update(activation="tanh", mask_padding=config.mask_padding)
    return args


def threads_for(name: str) -> int:
    """Intra-op threads to train model ``name`` with: its own choice, within the cores."""
    return max(1, min(MODELS[name].train_threads, os.cpu_count() or 1))


def default_jobs(config: LabConfig) -> int:
    """Train the models side by side only when there is a core for every thread they use."""
    if config.device != "cpu" or len(config.models) < 2:
        return 1
    enough = sum(threads_for(m) for m in config.models) <= (os.cpu_count() or 1)
    return len(config.models) if enough else 1


def train_models(run: Path, config: LabConfig, progress: Progress | None = None,
                 jobs: int | None = None, threads: int | None = None) -> dict:
    """Task 5: train every model of the config into ``run/<model>.pt``; returns the history.

    With ``jobs`` > 1 the models train side by side in worker processes; each
    model uses the same thread count either way, so the numbers are the same.
    """
    progress = progress or Progress()
    jobs = default_jobs(config) if jobs is None else jobs
    if jobs > 1 and len(config.models) > 1:
        history = train_in_processes(run, config, progress, jobs)
    else:
        progress.stage(f"generating {config.n_train:,} training sets")
        X, y = train_data(config)
        history = {name: train_one(run, config, name, X, y, progress, threads)
                   for name in config.models}
    write_json(Path(run) / HISTORY, history)
    return history


def train_one(run: Path, config: LabConfig, name: str, X: np.ndarray, y: np.ndarray,
              progress: Progress, threads: int | None = None) -> list[dict]:
    """Train (or finish training) one model of the run; returns its history."""
    with torch_threads(threads or threads_for(name)):
        model = init_model(MODELS[name], config.seed, name, **model_args(config, name))
        ckpt = checkpoint_path(run, name)
        history = fit(model, X, y, name=name, epochs=config.epochs,
                      batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                      device=config.device, checkpoint=ckpt, config=config.to_dict(),
                      progress=progress)
        if name == "deepsets" and config.refit:
            refit_checkpoint(ckpt, model, X, y, progress)
    return history


def _train_worker(run: str, config: dict, name: str, queue) -> None:
    """One model's training in a worker process; reports through ``queue``."""
    progress = QueueProgress(queue)
    try:
        lab_config = LabConfig.from_dict(config)
        X, y = train_data(lab_config)
        queue.put(("done", name, train_one(Path(run), lab_config, name, X, y, progress)))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the parent
        queue.put(("failed", name, type(err).__name__, str(err)))


def worker_error(name: str, kind: str, message: str) -> BaseException:
    """The exception a worker's failure becomes in the parent process."""
    known = {"KeyboardInterrupt": KeyboardInterrupt, "Interrupted": Interrupted,
             "TrainingDiverged": TrainingDiverged,
             "CheckpointError": CheckpointError, "ValueError": ValueError}
    if kind in known:
        return known[kind](message)
    return RuntimeError(f"training {name} failed: {kind}: {message}")


def train_in_processes(run: Path, config: LabConfig, progress: Progress, jobs: int) -> dict:
    """Train the models in up to ``jobs`` worker processes at once."""
    ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or locks
    queue = ctx.Queue()
    waiting, running, history = list(config.models), {}, {}
    progress.stage(f"training {', '.join(config.models)} side by side in {jobs} processes")
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                name = waiting.pop(0)
                running[name] = ctx.Process(target=_train_worker, daemon=True,
                                            args=(str(run), config.to_dict(), name, queue))
                running[name].start()
            try:
                event = queue.get(timeout=1.0)
            except Empty:
                dead = [n for n, p in running.items() if not p.is_alive()]
                if dead and queue.empty():
                    raise RuntimeError(f"training {dead[0]} stopped without a word "
                                       f"(exit code {running[dead[0]].exitcode})") from None
                continue
            if event[0] == "done":
                history[event[1]] = event[2]
                running.pop(event[1]).join()
            elif event[0] == "failed":
                raise worker_error(*event[1:])
            else:
                replay(event, progress)
    finally:
        for proc in running.values():
            proc.terminate()
            proc.join()
    return {name: history[name] for name in config.models}


def refit_checkpoint(ckpt: Path, model: DeepSets, X: np.ndarray, y: np.ndarray,
                     progress: Progress) -> None:
    """Recipes refit/exact: the least-squares output layer, once, saved in the checkpoint."""
    state = load_checkpoint(ckpt, "deepsets")
    if "refit" in state:  # already done; fit() loaded the refit weights
        return
    progress.stage("refitting the DeepSets output layer by least squares")
    info = refit_output(model, X, y)
    extra = {k: v for k, v in state.items() if k not in ("model", "model_name", "model_args")}
    save_checkpoint(ckpt, model, "deepsets", **extra, refit=info)


def evaluate_models(run: Path, config: LabConfig, progress: Progress | None = None) -> dict:
    """Task 6: accuracy and MAE per test size of every trained model -> results.json/csv.

    The test sets of one size are generated and scored a chunk at a time, so
    sizes like 10,000 digits stay within memory.
    """
    progress = progress or Progress()
    models = {name: load_trained(run, config, name) for name in config.models}  # fail fast
    rng = np.random.default_rng(derive_seed(config.seed, "data", "test"))
    results: dict = {"cards": list(config.cards), **{n: {"acc": [], "mae": []} for n in models}}
    progress.start("eval", f"evaluating {', '.join(models)} on {config.n_per_card:,} sets "
                   "per size", len(config.cards), "size")
    for card in config.cards:
        targets, preds = [], {name: [] for name in models}
        for X in test_chunks(rng, card, config):
            targets.append(task_targets(config.task, X))
            for name, model in models.items():
                preds[name].append(predict(model, X, batch_tokens=config.eval_batch_tokens,
                                           device=config.device))
        for name in models:
            acc, mae = score(np.concatenate(targets), np.concatenate(preds[name]))
            results[name]["acc"].append(acc)
            results[name]["mae"].append(mae)
        progress.advance("eval")
    progress.end("eval")
    write_json(Path(run) / RESULTS, results)
    write_text(Path(run) / RESULTS_CSV, results_csv(results))
    return results


def test_chunks(rng: np.random.Generator, card: int, config: LabConfig,
                max_tokens: int = 1 << 24):
    """The test sets of one size in chunks of rows, drawn in the order of ``test_data``."""
    pool = draw_pool(config, "test")
    high = config.max_digit if pool is None else len(pool)
    rows = max(1, max_tokens // card)
    for start in range(0, config.n_per_card, rows):
        n = min(rows, config.n_per_card - start)
        yield from_pool(rng.integers(1, high + 1, size=(n, card), dtype=np.int64), pool)


def load_trained(run: Path, config: LabConfig, name: str) -> SetModel:
    """The fully trained model ``name`` of a run folder; an error if it is missing or partial."""
    return load_trained_state(run, config, name)[0]


def load_trained_state(run: Path, config: LabConfig, name: str) -> tuple[SetModel, dict]:
    """``load_trained`` and the checkpoint dict it came from."""
    path = checkpoint_path(run, name)
    model, state = load_model(path, name, model_args(config, name))
    if state.get("epoch") != config.epochs:
        raise ValueError(f"{path} holds {state.get('epoch')} of {config.epochs} epochs; "
                         f"finish training first: deepsets lab --resume --out {run}")
    return model, state


def results_csv(results: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "card", "acc", "mae"])
    for name in (m for m in results if m != "cards"):
        for card, acc, mae in zip(results["cards"], results[name]["acc"],
                                  results[name]["mae"], strict=True):
            writer.writerow([name, card, repr(acc), repr(mae)])
    return buf.getvalue()


def plot_run(run: Path, config: LabConfig | None = None) -> list[Path]:
    """Task 7: accuracy.png and mae.png from the run's results.json."""
    config = config or read_config(run)
    return plot_results(read_json(Path(run) / RESULTS), run, max_train_card=config.max_card)


def analyze_run(run: Path, config: LabConfig, results: dict,
                progress: Progress | None = None) -> dict:
    """The numbers of the questions and of the drift analysis -> analysis.json."""
    progress = progress or Progress()
    progress.stage("answering the handout's questions")
    # the questions are about the handout's digit sums, whatever this run's task
    handout = LabConfig(seed=config.seed, n_train=config.n_train, max_digit=config.max_digit)
    X, y = train_data(handout)
    X_test, y_test = test_data(handout)
    analysis = {
        "question1": question1(X, y, X_test, y_test, handout.cards,
                               seed=derive_seed(config.seed, "data", "question1")),
        "question2": question2(seed=derive_seed(config.seed, "question2")),
    }
    if "deepsets" in config.models and config.task == "sum":
        model, state = load_trained_state(run, config, "deepsets")
        analysis["drift"] = drift(model, results["cards"], results["deepsets"],
                                  config.max_card)
        analysis["drift"]["refit"] = state.get("refit")
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
    """The whole handout into the run folder ``out``."""
    out = Path(out)
    config = prepare_run(out, config, resume=resume, force=force)
    train_models(out, config, progress, jobs)
    results = evaluate_models(out, config, progress)
    plot_run(out, config)
    report_run(out, config, progress)
    files = [out / name for name in OUTPUTS] + [checkpoint_path(out, m) for m in config.models]
    return LabRun(out, config, results, files)
