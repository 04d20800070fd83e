"""What a sweep will cost before it runs (``deepsets compare --dry-run``).

A run's cost is its training steps times the seconds of one step, plus its
evaluation: the elements of its test sets times the seconds per element.
Both rates are measured here, on this machine, on one thread (as a sweep's
runs train), for each model and input kind (digit tokens or images). A run
that trained before in the sweep's folder brings its own epoch times. The
wall time on P CPUs is the schedule that always starts the longest run left
on the first free CPU.
"""

from __future__ import annotations

import heapq
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepsets.core.data import (
    VectorSets,
    create_test_dataset,
    create_train_dataset,
    element_pool,
)
from deepsets.core.devices import torch_threads
from deepsets.core.evaluate import predict
from deepsets.core.optim import make_adam
from deepsets.core.pipeline import seeded_model
from deepsets.core.progress import Progress
from deepsets.core.runfolder import HISTORY, read_json
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import TASKS
from deepsets.core.train import LOSSES, training_tensors


def measure_rates(config: LabConfig, steps: int = 20) -> tuple[float, float]:
    """(seconds per training step, seconds per evaluated element) of ``config``'s model."""
    name = config.models[0]
    X, y = create_train_dataset(config.batch_size * (steps + 3), config.max_card,
                                config.max_digit, 0, task=config.task,
                                pool=element_pool(config.task, "train"))
    loss = TASKS[config.task].loss  # vectors: measured at the largest training size
    with torch_threads(1):
        model = seeded_model(name, config)
        X, y = training_tensors(model, X.values if isinstance(X, VectorSets) else X, y, loss,
                                torch.device("cpu"))
        step = seconds_per_step(model, X, y, torch.arange(len(X)).split(config.batch_size),
                                config.lr, loss=LOSSES[loss])
        (X_test,), _ = create_test_dataset(256, [50], config.max_digit, 0, task=config.task,
                                           pool=element_pool(config.task, "test"))
        began = time.perf_counter()
        predict(model, X_test, batch_tokens=config.eval_batch_tokens)
        element = (time.perf_counter() - began) / (X_test.shape[0] * X_test.shape[1])
    return step, element


def seconds_per_step(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor,
                     batches: list[torch.Tensor], lr: float, warmup: int = 3,
                     loss=F.l1_loss) -> float:
    """Seconds of one training step as ``fit`` takes it (its loss, backward, Adam), averaged
    over ``batches`` after the first ``warmup``, which warm up allocators and kernels."""
    optimizer = make_adam(model.parameters(), lr)
    for i, idx in enumerate(batches):
        if i == warmup:
            began = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss(model(X[idx]), y[idx]).backward()
        optimizer.step()
    return (time.perf_counter() - began) / (len(batches) - warmup)


def run_cost(config: LabConfig, rates: tuple[float, float], folder: Path | None = None
             ) -> tuple[float, str]:
    """(seconds, "measured" or "estimated") of one run; measured epochs count as they took."""
    step, element = rates
    steps_per_epoch = math.ceil(config.n_train / config.batch_size)
    done: list[dict] = []
    if folder is not None and (folder / HISTORY).exists():
        done = read_json(folder / HISTORY).get(config.models[0], [])
    trained = sum(e["seconds"] for e in done[:config.epochs])
    left = config.epochs - len(done[:config.epochs])
    seconds = trained + left * steps_per_epoch * step \
        + element * config.n_per_card * sum(config.cards)
    return seconds, "measured" if done and not left else "estimated"


def wall_time(costs: list[float], cpus: int) -> float:
    """The sweep's wall time when each run takes one CPU: longest runs first, each on the
    CPU that frees up first."""
    free = [0.0] * max(1, cpus)
    for cost in sorted(costs, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def dry_run(runs: dict[str, LabConfig], out: Path, cpus: int,
            progress: Progress | None = None) -> str:
    """Markdown: every run with its cost, the total, and the wall time on ``cpus`` CPUs."""
    progress = progress or Progress()
    kinds = {(r.models[0], inputs(r)): r for r in runs.values()}
    progress.start("costs", "measuring a training step and evaluation of each model",
                   len(kinds), "model")
    rates = {}
    for kind, config in kinds.items():
        rates[kind] = measure_rates(config)
        progress.advance("costs")
    progress.end("costs")
    lines = ["| run | training steps | seconds | |", "|---|---:|---:|---|"]
    costs = []
    for name, r in runs.items():
        seconds, how = run_cost(r, rates[r.models[0], inputs(r)], Path(out) / name)
        costs.append(seconds)
        steps = math.ceil(r.n_train / r.batch_size) * r.epochs
        lines.append(f"| {name} | {steps:,} | {seconds:,.{1 if seconds < 10 else 0}f} | {how} |")
    lines += ["", "| model | inputs | ms per training step | us per evaluated element |",
              "|---|---|---:|---:|"]
    lines += [f"| {m} | {kind} | {step * 1e3:.2f} | {element * 1e6:.2f} |"
              for (m, kind), (step, element) in rates.items()]
    total = float(np.sum(costs))
    lines += ["", f"{len(runs)} runs, {duration(total)} of CPU time in all; on {cpus} CPUs "
              f"(one run per CPU) about {duration(wall_time(costs, cpus))} of wall time."]
    return "\n".join(lines) + "\n"


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
