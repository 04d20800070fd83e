"""Sweeps of tasks x models x seeds: which set models generalize to unseen set sizes.

Every (task, model, seed) is one run folder under ``out``, trained and evaluated by
``pipeline`` in a job of the executor: in local worker processes, or on a Ray cluster. A
worker runs in a private folder and ships each checkpoint back as it saves it; the driver
(this process) writes the run folders. So a finished run is reused (when its settings and,
for a plug-in, the fingerprint of its code are this sweep's), a cut-off run continues from
its last checkpoint (one whose worker or node was lost, at once: ``Job.again``), each
run's folder says where it trained (``node.json``), and a run that fails is recorded with
its error (its traceback in the run's ``error.txt``) while the others go on. The folder
stores the sweep's settings (``sweep.json``) and refuses other ones. The sweep writes
``results.csv`` (task, model, seed, card, acc, mae, status, error), ``reach.csv`` and
``reach.png`` (``sweep.reach``), ``summary.md``, a figure per task
(``accuracy_<task>.png``, or ``mae_<task>.png`` for a real one) and ``explorer.html``, the
page to explore them all (``sweep.explorer``).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

from deepsets.core.cluster import check_cluster
from deepsets.core.executor import Job, run_jobs
from deepsets.core.failures import one_line, traceback_text
from deepsets.core.models import PART_COLUMNS, part_columns
from deepsets.core.models.own import by_value, receive
from deepsets.core.pipeline import data_key, evaluate_models, train_models, train_sets
from deepsets.core.progress import Outbox, Progress, Stop
from deepsets.core.results import REFERENCES, rows_csv, status_rows
from deepsets.core.runfolder import (
    CONFIG,
    FAILURE,
    RESULTS,
    as_flags,
    checkpoint_path,
    outdated,
    prepare_run,
    read_json,
    settings_record,
    stored_config,
    write_bytes,
    write_json,
    write_text,
)
from deepsets.core.settings import CompareConfig, LabConfig, differences
from deepsets.core.shared import Shared
from deepsets.core.tasks import TASKS
from deepsets.sweep.explorer import folder_name, write_explorer
from deepsets.sweep.reach import REACH_COLUMNS, plot_reach, reach_rows
from deepsets.sweep.summary import figure_name, plot_tasks, summary

#: The sweep's settings, at the top of its folder.
SWEEP = "sweep.json"
#: Where a run trained, in its folder: its Ray node (address and id), or the machine.
NODE = "node.json"
COLUMNS = ("task", "model", *PART_COLUMNS, "seed", "card", "acc", "mae", "status", "error")


def run_name(config: LabConfig) -> str:
    """The run's folder: ``<task>-<model>-seed<k>`` (a plug-in's ``:`` becomes ``.``)."""
    return folder_name(config.task, config.models[0], config.seed)


def run_one(config: dict, files: dict[str, bytes], data: tuple | None = None,
            handed: dict | None = None, *, progress: Progress, outbox: Outbox,
            stop: Stop) -> dict:
    """Train and evaluate one run in a private folder of the worker (a job).

    ``files`` are the run's checkpoints so far, so training continues after
    the last completed epoch; ``data`` its training sets, made once for every run of its
    task and seed (``pipeline.data_key``; None: made here); ``handed`` its model, where it
    was handed over as an object, by value (``own.by_value``). Each file saved on the way
    goes back through ``outbox``; the finished run returns its results and every file.
    """
    receive(handed or {})
    lab_config = LabConfig.from_dict(config)
    with tempfile.TemporaryDirectory(prefix="deepsets-run-") as tmp:
        run = Path(tmp)
        for name, content in files.items():
            (run / name).write_bytes(content)
        prepare_run(run, lab_config)
        train_models(run, lab_config, progress, jobs=1, threads=1, outbox=outbox, data=data)
        results = evaluate_models(run, lab_config, progress, outbox,
                                  None if data is None else data[1])
        return {"results": results, "files": {p.name: p.read_bytes() for p in run.iterdir()
                                               if p.is_file() and not p.name.startswith(".")}}


def pending_job(folder: Path, config: LabConfig) -> tuple[Job | None, str]:
    """The job that starts, continues or restarts a run, and why; None when it finished
    before with these settings and, for a plug-in, this code (``runfolder.outdated``)."""
    stored = stored_config(folder)
    same = stored is not None and stored.same_results_as(config)
    stale = outdated(folder, config) if same else {}
    if same and not stale and (folder / RESULTS).exists():
        return None, "reused"
    why = ("new" if stored is None else "other settings" if not same else
           f"{config.models[0]}: {next(iter(stale.values()))}" if stale else
           "failed" if (folder / FAILURE).exists() else "cut off")
    prepare_run(folder, config, force=not same or bool(stale))  # the run starts over
    (folder / FAILURE).unlink(missing_ok=True)  # a failed run's, which runs again
    data, handed = Shared(data_key(config), partial(train_sets, config)), by_value(config.models)

    def args() -> tuple:  # again after its worker died: the checkpoints that reached here
        return config.to_dict(), checkpoints(folder, config), data, handed
    return Job(folder.name, run_one, args(), cpus=1, gpus=1 if config.device == "cuda" else 0,
               folder=folder, again=args), why


def checkpoints(folder: Path, config: LabConfig) -> dict[str, bytes]:
    """The run's checkpoints in its folder, by file name: where it continues from."""
    return {checkpoint_path(folder, m).name: checkpoint_path(folder, m).read_bytes()
            for m in config.models if checkpoint_path(folder, m).exists()}


def dispatch_order(runs: dict[str, LabConfig]) -> list[str]:
    """The runs' names in the order the sweep dispatches them: those that share training
    sets (``pipeline.data_key``) one after another, each group where it first comes, so a
    worker reads each group's sets once."""
    first = {key: i for i, key in enumerate(dict.fromkeys(data_key(r) for r in runs.values()))}
    return sorted(runs, key=lambda name: first[data_key(runs[name])])


#: How ``plan_line`` counts the runs of each reason ``pending_job`` gives; any other reason
#: (a plug-in's code changed) is a run that trains again, and the line says why.
PLAN = {"reused": "reused", "new": "new", "cut off": "continue where they stopped",
        "failed": "failed before and run again"}


def plan_line(reasons: dict[str, str]) -> str:
    """What a sweep reuses and what it trains, and why, in one line: ``8 runs: 4 reused, 4
    train again (mymodels.net:Net: was trained from other code ...)``."""
    counts = Counter(w if w in PLAN else "again" for w in reasons.values())
    words = [f"{counts[k]} {text}" for k, text in PLAN.items() if counts[k]]
    again = sorted({w for w in reasons.values() if w not in PLAN})
    if again:
        words.append(f"{counts['again']} train again ({'; '.join(again)})")
    return f"{len(reasons)} runs: " + ", ".join(words)


def run_compare(config: CompareConfig, out: Path, *, jobs: int = 2, cluster: str | None = None,
                progress: Progress | None = None, force: bool = False,
                order: Callable[[dict[str, LabConfig]], list[str]] | None = None
                ) -> tuple[list[dict], dict[str, str]]:
    """Every run of the sweep, then results.csv, summary.md, one PNG per task and
    explorer.html.

    The folder ``out`` holds one sweep's settings (``prepare_sweep``): other settings are
    refused, unless ``force`` starts the sweep over. The runs to train go out in
    ``dispatch_order``, or in the ``order`` that function gives them (``--longest-first``:
    ``costs.longest_first``). Returns the rows and ``{run: one-line error}`` of the runs
    that failed; each failed run's traceback is in its folder's error.txt.
    """
    progress = progress or Progress()
    out = Path(out)
    check_cluster(cluster)
    prepare_sweep(out, config, force=force)
    runs = {run_name(r): r for r in config.runs()}
    todo = {name: pending_job(out / name, r) for name, r in runs.items()}
    results = {name: read_json(out / name / RESULTS) for name, (job, _) in todo.items()
               if job is None}
    failed: dict[str, str] = {}
    progress.stage(plan_line({name: why for name, (_, why) in todo.items()}))
    names = [name for name in dispatch_order(runs) if todo[name][0] is not None]
    if order is not None and names:
        names = order({name: runs[name] for name in names})
    jobs_left = [todo[name][0] for name in names]
    progress.start("compare", f"{len(runs)} runs ({len(results)} done before)", len(runs),
                   "run")
    progress.advance("compare", len(results))
    with closing(run_jobs(jobs_left, jobs, cluster=cluster)) as outcomes:  # no worker outlives
        for outcome in outcomes:
            if outcome.error is not None:
                failed[outcome.key] = one_line(outcome.error)
                write_text(out / outcome.key / FAILURE, traceback_text(outcome.error))
                progress.write("compare", f"failed: {outcome.key}: {failed[outcome.key]}")
            else:
                for name, data in outcome.value["files"].items():
                    write_bytes(out / outcome.key / name, data)
                write_json(out / outcome.key / NODE, {"node": outcome.node})
                results[outcome.key] = outcome.value["results"]
                progress.tally("compare", f"done: {outcome.key}")
            progress.advance("compare")
    progress.end("compare")
    rows = sweep_rows(runs, results, failed)
    for r in rows:  # a finished run without a score: failed too (results of older code)
        name = folder_name(r["task"], r["model"], r["seed"])
        if r["status"] == "failed" and name in runs:
            failed.setdefault(name, r["error"])
    write_outputs(out, rows, config, failed)
    return rows, failed


def write_outputs(out: Path, rows: list[dict], config: CompareConfig,
                  failed: dict[str, str]) -> None:
    """results.csv, reach.csv, summary.md, reach.png, a figure per task and explorer.html;
    the figure of a task no longer in the sweep goes."""
    write_text(out / "results.csv", rows_csv(rows, COLUMNS))
    reaches = reach_rows(rows, config)
    write_text(out / "reach.csv", rows_csv(reaches, REACH_COLUMNS))
    write_text(out / "summary.md", summary(rows, config, failed, reaches))
    plot_reach(reaches, config, out / "reach.png")
    figures = {figure_name(t) for t in config.tasks}
    for stale in task_figures(out):
        if stale.name not in figures:
            stale.unlink()
    plot_tasks(rows, config, out)
    write_explorer(out, rows, reaches, config.max_card)


# --- the sweep's folder: sweep.json ---

def stored_sweep(out: Path) -> dict | None:
    """The settings stored in ``out/sweep.json`` as written, or None without one."""
    path = Path(out) / SWEEP
    if not path.is_file():
        return None
    stored = read_json(path)
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise ValueError(f"{path} is not a deepsets sweep (no 'config' object)")
    return stored["config"]


def sweep_differences(out: Path, config: CompareConfig) -> dict[str, tuple]:
    """``{setting: (stored, given)}`` for each setting of the runs (``CompareConfig.GRID``
    aside) in which the sweep stored in ``out`` differs from ``config``; a folder of an
    older version without sweep.json answers by its runs' config.json."""
    stored = stored_sweep(out)
    if stored is not None:
        return differences(stored, config, skip=CompareConfig.GRID)
    for r in config.runs():
        run = stored_config(out / run_name(r)) if (out / run_name(r)).is_dir() else None
        if run is not None and not run.same_results_as(r):
            return run.differences(r)
    return {}


def prepare_sweep(out: Path, config: CompareConfig, *, force: bool = False) -> None:
    """Create or reopen the sweep folder ``out`` and store its settings in sweep.json.

    The same folder holds runs of one set of settings, whose tasks, models and seeds may
    grow or shrink; other settings are a ValueError naming each difference, as a lab's
    run folder does. ``force`` starts over: the old sweep's run folders and outputs go.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    if (out / CONFIG).is_file():
        raise ValueError(f"--out {out} is a lab's run folder, not a sweep's; choose another")
    if force:
        clear_sweep(out)
    elif out.is_dir():
        differences = sweep_differences(out, config)
        if differences:
            raise ValueError(f"{out} holds a sweep with other settings "
                             f"({as_flags(differences)}); use --resume alone to continue it "
                             "on its settings, --force to start over, or another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / SWEEP, settings_record(config))
    except OSError as err:
        raise ValueError(f"cannot write to {out}: {err.strerror or err}") from None


#: What a sweep writes at its top, besides its run folders.
OUTPUTS = (SWEEP, "results.csv", "reach.csv", "reach.png", "summary.md", "explorer.html")


def clear_sweep(out: Path) -> None:
    """Remove what a sweep wrote in ``out`` (and nothing else): its outputs, its figures,
    and every run folder, a folder named ``<task>-<model>-seed<k>`` holding a config.json."""
    if not out.is_dir():
        return
    run = re.compile(rf"({'|'.join(map(re.escape, TASKS))})-.+-seed\d+")
    for path in out.iterdir():
        if path.is_dir() and run.fullmatch(path.name) and (path / CONFIG).is_file():
            shutil.rmtree(path)
        elif path.is_file() and path.name in OUTPUTS:
            path.unlink()
    for figure in task_figures(out):
        figure.unlink()


def task_figures(out: Path) -> list[Path]:
    """The figures of a sweep's tasks in ``out`` (``summary.figure_name``)."""
    return [*out.glob("accuracy_*.png"), *out.glob("mae_*.png")]


def sweep_rows(runs: dict[str, LabConfig], results: dict[str, dict],
               failed: dict[str, str]) -> list[dict]:
    """One row per run and size; a failed run's rows have no scores, its status and error;
    a size a model does not apply to has the status ``n/a`` and the reason. The constant
    guess of a real-valued task and its reference estimator, the same in every run of a
    (task, seed), are kept once (``results.REFERENCES``)."""
    rows, kept = [], set()
    for name, r in runs.items():
        if name not in results:
            rows += [{"task": r.task, "model": r.models[0], **part_columns(r.models[0]),
                      "seed": r.seed, "card": card, "acc": "", "mae": "", "status": "failed",
                      "error": failed.get(name, "not run")} for card in r.sizes]
            continue
        for row in status_rows(results[name], task=r.task, seed=r.seed):
            row.update(part_columns(row["model"]))
            if row["model"] in REFERENCES:
                key = (r.task, r.seed, row["model"], row["card"])
                if key in kept:
                    continue
                kept.add(key)
            rows.append(row)
    return rows
