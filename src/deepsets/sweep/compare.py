"""Sweeps of tasks x models x seeds: which set models generalize to unseen set sizes.

Every (task, model, seed) is one run folder under ``out``, trained and
evaluated by ``pipeline`` in a job of the executor: in local worker
processes, or on a Ray cluster. A worker runs in a private folder and ships
each checkpoint back as it saves it; the driver (this process) writes the
run folders. So a finished run is reused, a cut-off run continues from its
last checkpoint, and a run that fails is recorded with its error while the
others go on. The sweep writes ``results.csv`` (task, model, seed, card, acc,
mae, status, error), ``reach.csv`` and ``reach.png`` (``sweep.reach``), ``summary.md``
a figure per task (``accuracy_<task>.png``, or ``mae_<task>.png`` for a real one) and
``explorer.html``, the page to explore them all (``sweep.explorer``).
"""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from deepsets.core.executor import Job, run_jobs
from deepsets.core.pipeline import evaluate_models, train_models
from deepsets.core.progress import Outbox, Progress, Stop
from deepsets.core.results import GUESS, rows_csv, status_rows
from deepsets.core.runfolder import (
    RESULTS,
    checkpoint_path,
    prepare_run,
    read_json,
    stored_config,
    write_bytes,
    write_text,
)
from deepsets.core.settings import CompareConfig, LabConfig
from deepsets.sweep.explorer import folder_name, write_explorer
from deepsets.sweep.reach import REACH_COLUMNS, plot_reach, reach_rows
from deepsets.sweep.summary import plot_tasks, summary

COLUMNS = ("task", "model", "seed", "card", "acc", "mae", "status", "error")


def run_name(config: LabConfig) -> str:
    """The run's folder: ``<task>-<model>-seed<k>`` (a plug-in's ``:`` becomes ``.``)."""
    return folder_name(config.task, config.models[0], config.seed)


def run_one(config: dict, files: dict[str, bytes], *, progress: Progress, outbox: Outbox,
            stop: Stop) -> dict:
    """Train and evaluate one run in a private folder of the worker (a job).

    ``files`` are the run's checkpoints so far, so training continues after
    the last completed epoch. Each file saved on the way goes back through
    ``outbox``; the finished run returns its results and every file.
    """
    lab_config = LabConfig.from_dict(config)
    with tempfile.TemporaryDirectory(prefix="deepsets-run-") as tmp:
        run = Path(tmp)
        for name, data in files.items():
            (run / name).write_bytes(data)
        prepare_run(run, lab_config)
        train_models(run, lab_config, progress, jobs=1, threads=1, outbox=outbox)
        results = evaluate_models(run, lab_config, progress, outbox)
        return {"results": results, "files": {p.name: p.read_bytes() for p in run.iterdir()
                                               if p.is_file() and not p.name.startswith(".")}}


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def pending_job(folder: Path, config: LabConfig) -> Job | None:
    """The job that (re)starts or continues a run; None when it finished before."""
    stored = stored_config(folder)
    same = stored is not None and stored.same_results_as(config)
    if same and (folder / RESULTS).exists():
        return None
    prepare_run(folder, config, force=not same)  # other settings: the run starts over
    files = {checkpoint_path(folder, m).name: checkpoint_path(folder, m).read_bytes()
             for m in config.models if checkpoint_path(folder, m).exists()}
    return Job(folder.name, run_one, (config.to_dict(), files), cpus=1,
               gpus=1 if config.device == "cuda" else 0, folder=folder)


def run_compare(config: CompareConfig, out: Path, *, jobs: int = 2, cluster: str | None = None,
                progress: Progress | None = None) -> tuple[list[dict], dict[str, str]]:
    """Every run of the sweep, then results.csv, summary.md, one PNG per task and
    explorer.html.

    Returns the rows and ``{run: one-line error}`` of the runs that failed.
    """
    progress = progress or Progress()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {run_name(r): r for r in config.runs()}
    todo = {name: pending_job(out / name, r) for name, r in runs.items()}
    results = {name: read_json(out / name / RESULTS) for name, job in todo.items() if job is None}
    failed: dict[str, str] = {}
    progress.start("compare", f"{len(runs)} runs ({len(results)} done before)", len(runs),
                   "run")
    progress.advance("compare", len(results))
    jobs_left = [job for job in todo.values() if job is not None]
    with closing(run_jobs(jobs_left, jobs, cluster=cluster)) as outcomes:  # no worker outlives
        for outcome in outcomes:
            if outcome.error is not None:
                failed[outcome.key] = one_line(outcome.error)
                progress.write("compare", f"failed: {outcome.key}: {failed[outcome.key]}")
            else:
                for name, data in outcome.value["files"].items():
                    write_bytes(out / outcome.key / name, data)
                results[outcome.key] = outcome.value["results"]
                progress.write("compare", f"done: {outcome.key}")
            progress.advance("compare")
    progress.end("compare")
    rows = sweep_rows(runs, results, failed)
    write_text(out / "results.csv", rows_csv(rows, COLUMNS))
    reaches = reach_rows(rows, config)
    write_text(out / "reach.csv", rows_csv(reaches, REACH_COLUMNS))
    write_text(out / "summary.md", summary(rows, config, failed, reaches))
    plot_reach(reaches, config, out / "reach.png")
    plot_tasks(rows, config, out)
    write_explorer(out, rows, reaches)
    return rows, failed


def sweep_rows(runs: dict[str, LabConfig], results: dict[str, dict],
               failed: dict[str, str]) -> list[dict]:
    """One row per run and size; a failed run's rows have no scores, its status and error;
    a size a model does not apply to has the status ``n/a`` and the reason. The constant
    guess of a real-valued task, the same in every run of a (task, seed), is kept once."""
    rows, guessed = [], set()
    for name, r in runs.items():
        if name not in results:
            rows += [{"task": r.task, "model": r.models[0], "seed": r.seed, "card": card,
                      "acc": "", "mae": "", "status": "failed",
                      "error": failed.get(name, "not run")} for card in r.sizes]
            continue
        for row in status_rows(results[name], task=r.task, seed=r.seed):
            if row["model"] == GUESS:
                if (r.task, r.seed, row["card"]) in guessed:
                    continue
                guessed.add((r.task, r.seed, row["card"]))
            rows.append(row)
    return rows
