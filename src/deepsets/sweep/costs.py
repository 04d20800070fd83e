"""What a sweep will cost before it runs (``deepsets compare --dry-run``), and the order
``--longest-first`` dispatches its runs in, the costliest first.

A run's cost is its training steps times the seconds of one step, plus its evaluation
(the elements of its test sets times the seconds to make and predict one), plus what a
run spends outside both (building the model, checkpoints, files: measured on a tiny run
of the same model). The rates are measured here, on this machine, on one thread (as a
sweep's runs train), for each model and input kind (digit tokens or images). A run that
trained before in the sweep's folder brings its own epoch times. The wall time on P CPUs
is the command's as a user runs it: starting Python and a worker, making each task and
seed's training sets (in the driver, before any run starts), the runs scheduled in the
order the sweep dispatches them, each on the first free CPU, and writing the outputs
(measured on stand-in rows).
"""

from __future__ import annotations

import heapq
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import zip_longest
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepsets.core.data import (
    create_test_dataset,
    create_train_dataset,
    element_pool,
)
from deepsets.core.devices import torch_threads
from deepsets.core.evaluate import predict
from deepsets.core.models import part_columns
from deepsets.core.optim import make_adam
from deepsets.core.pipeline import data_key, laid_out, seeded_model, train_sets
from deepsets.core.progress import Outbox, Progress, Stop
from deepsets.core.runfolder import HISTORY, read_json
from deepsets.core.settings import CompareConfig, LabConfig
from deepsets.core.tasks import TASKS
from deepsets.core.train import LOSSES, epoch_batches, train_epoch, training_tensors
from deepsets.sweep.compare import dispatch_order, run_one, write_outputs


@dataclass(frozen=True)
class Rates:
    """What one model costs on one kind of input, measured here on one thread."""

    step: float  # seconds per training step
    element: float  # seconds to make and predict one element of a test set
    run: float  # seconds a run spends outside its steps and predictions
    training_set: float  # seconds to make one training set (the driver, once per seed)


def measure_rates(config: LabConfig, steps: int = 50) -> Rates:
    """``config``'s model's ``Rates``."""
    name = config.models[0]
    began = time.perf_counter()
    X, y = create_train_dataset(config.batch_size * (steps + 3), config.max_card,
                                config.max_digit, 0, task=config.task,
                                pool=element_pool(config.task, "train"))
    training_set = (time.perf_counter() - began) / len(y)
    loss = TASKS[config.task].loss
    with torch_threads(1):
        model = seeded_model(name, config)
        X, lengths = laid_out(config, name, X)  # as the run trains them
        X, y = training_tensors(model, X, y, loss, torch.device("cpu"))
        lengths = None if lengths is None else torch.as_tensor(lengths)
        step = seconds_per_step(model, X, y, epoch_batches(len(X), config.batch_size,
                                                           config.seed, name, 0, lengths),
                                config.lr, loss=LOSSES[loss], lengths=lengths)
        began = time.perf_counter()
        (X_test,), _ = create_test_dataset(256, [50], config.max_digit, 0, task=config.task,
                                           pool=element_pool(config.task, "test"))
        predict(model, X_test, batch_tokens=config.eval_batch_tokens)
        element = (time.perf_counter() - began) / (X_test.shape[0] * X_test.shape[1])
    return Rates(step, element, run_overhead(config, step, element), training_set)


def run_overhead(config: LabConfig, step: float, element: float) -> float:
    """The seconds of a tiny run of ``config``'s model (one epoch of 4 steps, 4 test sets of
    its smallest size: a set of 3,000 Gaussian samples at each size would make the dry
    run long), as a worker runs it, less its steps and predictions."""
    tiny = replace(config, n_train=4 * config.batch_size, epochs=1, n_per_card=4,
                   cards=config.cards[:1])
    data = train_sets(tiny)
    began = time.perf_counter()
    with torch_threads(1):
        run_one(tiny.to_dict(), {}, data, progress=Progress(), outbox=Outbox(), stop=Stop())
    took = time.perf_counter() - began
    return max(0.0, took - 4 * step - 4 * sum(tiny.sizes) * element)


def seconds_per_step(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                     batches: list[torch.Tensor], lr: float, warmup: int = 3,
                     loss=F.l1_loss, budget: float = 0.5,
                     lengths: torch.Tensor | None = None) -> float:
    """Seconds of one training step of ``batches`` as ``fit`` takes it (its loss, backward,
    Adam), measured after the first ``warmup``, which warm up allocators and kernels, over
    the steps that fit in ``budget`` seconds, 5 at least. With ``lengths`` (sets of vectors,
    unpadded sequences) a batch is its sets' last ``length`` columns, as ``fit`` trains it,
    and a step costs more the longer its sets: each length is timed (round by round, the
    longest first) and the mean weighs them as ``batches`` holds them."""
    optimizer = make_adam(model.parameters(), lr)

    def length(idx: torch.Tensor) -> int:
        return X.shape[1] if lengths is None else int(lengths[idx[0]])

    def step(idx: torch.Tensor) -> None:  # fit's own step: its slicing, flush, checks, Adam
        train_epoch(model, optimizer, X, y, [idx], lengths, lambda t: lr, 0, "dry run", 0,
                    Progress(), Stop(), "", loss)

    return mean_step(step, batches, length, warmup, budget)


def mean_step(step: Callable[[torch.Tensor], None], batches: list[torch.Tensor],
              length: Callable[[torch.Tensor], int], warmup: int, budget: float) -> float:
    """``seconds_per_step``'s timing: ``warmup`` steps, then a step of each length a round
    until every length is timed, 5 steps and ``budget`` seconds at least (or ``batches`` are
    done); the mean over ``batches`` of their length's time."""
    for idx in batches[:warmup]:
        step(idx)
    by_length: dict[int, list[torch.Tensor]] = {}
    for idx in sorted(batches, key=len, reverse=True):  # whole batches first
        by_length.setdefault(length(idx), []).append(idx)
    rounds = zip_longest(*(by_length[n] for n in sorted(by_length, reverse=True)))
    took: dict[int, list[float]] = {n: [] for n in by_length}
    began = time.perf_counter()
    for batch in (idx for each in rounds for idx in each if idx is not None):
        start = time.perf_counter()
        step(batch)
        took[length(batch)].append(time.perf_counter() - start)
        if all(took.values()) and sum(map(len, took.values())) >= 5 \
                and time.perf_counter() - began > budget:  # every length timed
            break
    seconds = {n: float(np.mean(t)) for n, t in took.items()}
    return float(np.mean([seconds[length(idx)] for idx in batches]))


def run_cost(config: LabConfig, rates: Rates, folder: Path | None = None
             ) -> tuple[float, str]:
    """(seconds, "measured" or "estimated") of one run; measured epochs count as they took."""
    steps_per_epoch = math.ceil(config.n_train / config.batch_size)
    done: list[dict] = []
    if folder is not None and (folder / HISTORY).exists():
        done = read_json(folder / HISTORY).get(config.models[0], [])
    trained = sum(e["seconds"] for e in done[:config.epochs])
    left = config.epochs - len(done[:config.epochs])
    seconds = trained + left * steps_per_epoch * rates.step + rates.run \
        + rates.element * config.n_per_card * sum(config.sizes)
    return seconds, "measured" if done and not left else "estimated"


def wall_time(costs: list[float], cpus: int) -> float:
    """The runs' wall time when each takes one CPU: in the order given (the order the sweep
    dispatches them), each on the CPU that frees up first."""
    free = [0.0] * max(1, cpus)
    for cost in costs:
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def start_seconds() -> float:
    """A fresh Python's start with the sweep's imports (torch, the pipeline), measured."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import deepsets.sweep.compare"], check=True)
    return time.perf_counter() - began


def outputs_seconds(runs: dict[str, LabConfig], config: CompareConfig) -> float:
    """Seconds to write the sweep's outputs (tables, figures, the explorer), measured on
    stand-in rows of every run into a scratch folder."""
    rows = [{"task": r.task, "model": r.models[0], **part_columns(r.models[0]),
             "seed": r.seed, "card": size, "acc": 0.5, "mae": 1.0 / size, "status": "ok",
             "error": ""} for r in runs.values() for size in r.sizes]
    with tempfile.TemporaryDirectory(prefix="deepsets-cost-") as folder:
        began = time.perf_counter()
        write_outputs(Path(folder), rows, config, {})
        return time.perf_counter() - began


def dry_run(config: CompareConfig, runs: dict[str, LabConfig], out: Path, cpus: int,
            progress: Progress | None = None) -> str:
    """Markdown: every run with its cost, the total, and the command's wall time on ``cpus``
    CPUs (``wall_time``, with the start, the training sets and the outputs)."""
    progress = progress or Progress()
    rates = model_rates(runs, progress)
    progress.stage("measuring a start and the outputs")
    fixed = 2 * start_seconds() + outputs_seconds(runs, config)  # the driver, then a worker
    lines = ["| run | training steps | seconds | |", "|---|---:|---:|---|"]
    costs = []
    for name, r in runs.items():
        seconds, how = run_cost(r, rates[r.models[0], inputs(r)], Path(out) / name)
        costs.append(seconds)
        steps = math.ceil(r.n_train / r.batch_size) * r.epochs
        lines.append(f"| {name} | {steps:,} | {seconds:,.{1 if seconds < 10 else 0}f} | {how} |")
    lines += ["", "| model | inputs | ms per training step | us per test element | "
              "s a run besides |", "|---|---|---:|---:|---:|"]
    lines += [f"| {m} | {kind} | {r.step * 1e3:.2f} | {r.element * 1e6:.2f} | {r.run:.2f} |"
              for (m, kind), r in rates.items()]
    sets = {data_key(r): rates[r.models[0], inputs(r)].training_set * r.n_train
            for r in runs.values()}  # made once each, in the driver, before the runs
    cost_of = dict(zip(runs, costs, strict=True))
    total, before = float(np.sum(costs)), fixed + sum(sets.values())
    wall = before + wall_time([cost_of[name] for name in dispatch_order(runs)], cpus)
    longest = before + wall_time(sorted(costs, reverse=True), cpus)
    lines += ["", f"{len(runs)} runs, {duration(total)} of CPU time in all; on {cpus} CPUs "
              f"(one run per CPU) about {duration(wall)} of wall time "
              f"({duration(longest)} with --longest-first), of which "
              f"{duration(fixed)} starting and writing the outputs and "
              f"{duration(sum(sets.values()))} making {len(sets)} sets of training sets."]
    return "\n".join(lines) + "\n"


def model_rates(runs: dict[str, LabConfig], progress: Progress
                ) -> dict[tuple[str, str], Rates]:
    """The ``Rates`` of each model and input kind of ``runs``, measured here."""
    kinds = {(r.models[0], inputs(r)): r for r in runs.values()}
    progress.start("costs", "measuring a training step, evaluation and a tiny run of each "
                   "model", len(kinds), "model")
    rates = {}
    for kind, r in kinds.items():
        rates[kind] = measure_rates(r)
        progress.advance("costs")
    progress.end("costs")
    return rates


def longest_first(out: Path, progress: Progress
                  ) -> Callable[[dict[str, LabConfig]], list[str]]:
    """The order ``--longest-first`` dispatches a sweep's runs in (``run_compare``'s
    ``order``): the costliest first, by ``run_cost`` on rates measured here as the dry
    run's (runs of one cost keep their order). On many CPUs a long run that starts last
    sets the wall time; first, it runs beside the short ones."""
    def order(runs: dict[str, LabConfig]) -> list[str]:
        rates = model_rates(runs, progress)
        cost = {name: run_cost(r, rates[r.models[0], inputs(r)], out / name)[0]
                for name, r in runs.items()}
        return sorted(runs, key=cost.__getitem__, reverse=True)

    return order


def inputs(config: LabConfig) -> str:
    """What a run's model embeds (``tasks.Elements.inputs``): its rates depend on it; each
    vector task's own (their dimensions and set sizes differ)."""
    inputs = TASKS[config.task].elements.inputs
    return f"{inputs} ({config.task})" if inputs == "vectors" else inputs


def duration(seconds: float) -> str:
    """A time as a person reads it: ``0.4 s``, ``35 s``, ``12 min``, ``3.5 h``."""
    if seconds < 60:
        return f"{seconds:.{1 if seconds < 10 else 0}f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"
