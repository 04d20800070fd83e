"""Where a sweep's CPU time goes, run by run: starting a worker, making data, training
steps, evaluation, files.

    python benchmarks/sweep_profile.py [--tasks sum,max,mnist-sum] [--models ...]
        [--n-train 20000] [--epochs 10] [--n-per-card 1000] [--cards 5,10,...]

Each run is the sweep's own job (``compare.run_one``, one intra-op thread, as a local
worker runs it), timed in this process with the pipeline's steps wrapped: making the
training sets (``pipeline.train_sets``; a real-valued task makes them twice, the second
time for the constant guess's mean), building the model, the training epochs
(``train.fit`` less its checkpoints), saving checkpoints and files, making the test sets
and predicting them. "start" is a fresh worker process's imports, measured once in a
subprocess (a local worker pays it once for all its runs). Prints a Markdown table;
docs/speed.md holds one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from contextlib import contextmanager

from deepsets.core import pipeline, runfolder, train
from deepsets.core.devices import torch_threads
from deepsets.core.progress import Outbox, Progress
from deepsets.core.settings import CompareConfig, LabConfig
from deepsets.sweep import compare

#: The steps a run's time is split into, in the order they happen.
STEPS = ("data", "build", "train", "files", "test data", "predict")


class Clock:
    """Seconds spent inside each wrapped function, by step; a step inside another is
    taken out of the outer one."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.stack: list[str] = []

    @contextmanager
    def step(self, name: str):
        outer = self.stack[-1] if self.stack else None
        self.stack.append(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            took = time.perf_counter() - start
            self.stack.pop()
            self.spent[name] += took
            if outer is not None:
                self.spent[outer] -= took

    def wrap(self, module, attr: str, name: str) -> None:
        inner = getattr(module, attr)

        def timed(*args, **kwargs):
            with self.step(name):
                return inner(*args, **kwargs)
        setattr(module, attr, timed)

    def wrap_generator(self, module, attr: str, name: str) -> None:
        """A generator's time is in its items: each ``next`` is timed."""
        inner = getattr(module, attr)

        def timed(*args, **kwargs):
            items = inner(*args, **kwargs)
            while True:
                with self.step(name):
                    item = next(items, None)
                if item is None:
                    return
                yield item
        setattr(module, attr, timed)


def wrapped_clock() -> Clock:
    clock = Clock()
    clock.wrap(pipeline, "train_sets", "data")
    clock.wrap(pipeline, "seeded_model", "build")
    clock.wrap(pipeline, "fit", "train")
    clock.wrap(train, "save_checkpoint", "files")
    clock.wrap(runfolder, "atomic_write", "files")
    clock.wrap(pipeline, "write_json", "files")
    clock.wrap(pipeline, "write_text", "files")
    clock.wrap_generator(pipeline, "chunked_test_sets", "test data")
    clock.wrap(pipeline, "predict", "predict")
    return clock


def start_seconds() -> float:
    """A fresh worker's imports: python, torch and the pipeline, in a subprocess."""
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import deepsets.sweep.compare"], check=True)
    return time.perf_counter() - begin


def profile(config: LabConfig, clock: Clock) -> tuple[float, dict[str, float]]:
    """One run as a worker runs it: its wall seconds and the seconds of each step."""
    clock.spent.clear()
    begin = time.perf_counter()
    with torch_threads(1):
        compare.run_one(config.to_dict(), {}, progress=Progress(), outbox=Outbox(),
                        stop=None)
    total = time.perf_counter() - begin
    steps = {s: clock.spent.get(s, 0.0) for s in STEPS}
    steps["other"] = total - sum(steps.values())
    return total, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="sum,max,mean,mnist-sum,gaussian-entropy")
    parser.add_argument("--models", default="deepsets,deepsets-max+rho=relu-mlp,pyg-softmax,"
                                            "deepsets-pma,lstm")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-per-card", type=int, default=1_000)
    parser.add_argument("--cards", default="5,10,20,50,100")
    args = parser.parse_args()
    sweep = CompareConfig(tasks=tuple(args.tasks.split(",")),
                          models=tuple(args.models.split(",")), seeds=1,
                          n_train=args.n_train, epochs=args.epochs,
                          n_per_card=args.n_per_card,
                          cards=tuple(int(c) for c in args.cards.split(",")))
    clock = wrapped_clock()
    start = start_seconds()
    print(f"start (a fresh worker's imports, once per worker): {start:.2f} s\n")
    print("| run | wall s | " + " | ".join(f"{s} %" for s in (*STEPS, "other")) + " |")
    print("|---|---:|" + "---:|" * (len(STEPS) + 1))
    totals: dict[str, float] = defaultdict(float)
    for config in sweep.runs():
        total, steps = profile(config, clock)
        for k, v in steps.items():
            totals[k] += v
        totals["wall"] += total
        print(f"| {config.task} {config.models[0]} | {total:.2f} | "
              + " | ".join(f"{100 * v / total:.1f}" for v in steps.values()) + " |",
              flush=True)
    print(f"| all runs | {totals['wall']:.2f} | " + " | ".join(
        f"{100 * totals[k] / totals['wall']:.1f}" for k in (*STEPS, "other")) + " |")


if __name__ == "__main__":
    main()
