"""``make bench``: the package against a plain implementation, side by side, in one run.

Prints speed ratios (reference time / package time) for one training epoch
of each model, the evaluation of the 200,000 test sets, and the whole lab end
to end with peak memory. Each epoch and evaluation measure runs ``--repeat``
times, reference and package in turns, and compares the medians; the whole
labs run as processes, a user's way, ``--lab-rounds`` times each in turns
(round k with seed k), each with its peak memory (its own and its
children's); their median times are compared, and their accuracies at 10
digits show each side's seed spread. It also
measures how the cost of evaluating one set grows with its size and saves
that as ``benchmarks/out/scaling.png``. Absolute times are printed for
context only: they depend on the machine, the ratios much less.

    python benchmarks/bench.py [--quick] [--skip-lab] [--repeat K] [--lab-rounds K]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import reference  # noqa: E402

from deepsets import LSTM, DeepSets, create_test_dataset, create_train_dataset  # noqa: E402
from deepsets.core.devices import torch_threads  # noqa: E402
from deepsets.core.evaluate import predict  # noqa: E402
from deepsets.core.pipeline import threads_for  # noqa: E402
from deepsets.core.train import fit  # noqa: E402


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


MODELS = (("DeepSets", reference.DeepSets, DeepSets), ("LSTM", reference.LSTM, LSTM))


def same_weights(ref_cls, pkg_cls) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A fresh reference model and a package model with the same weights (the reference's
    DeepSets keeps the handout's names, fc1 and fc2, which the package reads as it reads
    its own older checkpoints: ``DeepSets.upgraded``)."""
    torch.manual_seed(0)
    ref, pkg = ref_cls(11, 128, 64), pkg_cls(11, 128, 64)
    weights = ref.state_dict()
    if pkg_cls is DeepSets:
        weights = DeepSets.upgraded({}, weights)[1]
    pkg.load_state_dict(weights)
    return ref, pkg


def side_by_side(label: str, runs, repeat: int) -> tuple[str, float, float]:
    """Median seconds of the reference and the package, run in turns ``repeat`` times.

    ``runs()`` gives a fresh (reference, package) pair of zero-argument
    callables. Taking turns puts a slow spell of a shared machine on both.
    """
    seconds: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for spent, run in zip(seconds, runs(), strict=True):
            spent.append(timed(run)[0])
    return label, statistics.median(seconds[0]), statistics.median(seconds[1])


def training_epochs(X, y, repeat: int) -> list[tuple[str, float, float]]:
    def epoch_runs(name, ref_cls, pkg_cls):
        ref, pkg = same_weights(ref_cls, pkg_cls)
        opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
        np.random.seed(0)

        def package():
            with torch_threads(threads_for(name.lower())):  # as the lab trains it
                fit(pkg, X, y, name=name.lower(), epochs=1)
        return (lambda: reference.train_epoch(ref, opt, X, y)), package

    return [side_by_side(f"{model[0]} training epoch", lambda m=model: epoch_runs(*m), repeat)
            for model in MODELS]


def evaluation(X_test, y_test, repeat: int) -> list[tuple[str, float, float]]:
    def eval_runs(ref_cls, pkg_cls):
        ref, pkg = same_weights(ref_cls, pkg_cls)
        return (lambda: reference.evaluate(ref, X_test, y_test),
                lambda: [predict(pkg, X) for X in X_test])

    return [side_by_side(f"{name} evaluation, 200,000 sets", lambda r=r, p=p: eval_runs(r, p),
                         repeat) for name, r, p in MODELS]


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*/children"):
            try:
                pids += [int(child) for child in task.read_text().split()]
            except OSError:
                pass
        i += 1
    return pids


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` memory field in KiB (0 once the process is gone)."""
    try:
        line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if x.startswith(field))
        return int(line.split()[1])
    except (OSError, StopIteration):
        return 0


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one command as a user runs it.

    The peak is the larger of the process's own high-water mark (VmHWM) and
    the largest sum of resident memory over it and its children, sampled
    every 50 ms: worker processes count too. (The rusage of a child would
    also count this large process's memory at the fork.)
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    own_kib = tree_kib = 0
    while proc.poll() is None:
        own_kib = max(own_kib, status_kib(proc.pid, "VmHWM"))
        tree_kib = max(tree_kib, sum(status_kib(pid, "VmRSS") for pid in tree(proc.pid)))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return seconds, max(own_kib, tree_kib) / 1024


def whole_lab(epochs: int, rounds: int = 3) -> tuple[tuple[str, float, float], dict]:
    """The reference lab and ``deepsets lab`` as whole processes, in turns, ``rounds`` times
    each, round k with seed k: median wall seconds, each run's peak memory (so the noise
    shows), and each side's accuracy at 10 digits over the seeds (its seed spread)."""
    runs: dict[str, list[tuple[float, float]]] = {"reference": [], "package": []}
    acc10: dict[str, list[tuple[float, float]]] = {"reference": [], "package": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(rounds):
            runs["reference"].append(run_measured([sys.executable, str(HERE / "reference.py"),
                                                   f"{tmp}/ref{k}", str(epochs), str(k)]))
            runs["package"].append(run_measured([sys.executable, "-m", "deepsets", "lab",
                                                 "--out", f"{tmp}/pkg{k}", "--epochs",
                                                 str(epochs), "--seed", str(k)]))
            for side, folder in (("reference", f"{tmp}/ref{k}"), ("package", f"{tmp}/pkg{k}")):
                results = json.loads(Path(folder, "results.json").read_text())
                i = results["cards"].index(10)
                acc10[side].append((results["deepsets"]["acc"][i], results["lstm"]["acc"][i]))
    extra = {f"{side} runs (wall s, peak MiB)": [(round(t, 1), round(m)) for t, m in done]
             for side, done in runs.items()}
    extra.update({f"acc@10 {side}, (DeepSets, LSTM) for seeds 0-{rounds - 1}": values
                  for side, values in acc10.items()})
    median = {side: statistics.median(t for t, _ in done) for side, done in runs.items()}
    return (f"whole lab, {epochs} epochs, median of {rounds}", median["reference"],
            median["package"]), extra


def scaling(out: Path, cards=(5, 10, 100, 1_000, 10_000), n_sets: int = 64) -> Path:
    """Seconds per set against set size, package and reference, both models."""
    from matplotlib.figure import Figure

    rng = np.random.default_rng(0)
    per_set: dict[str, list[float]] = {}
    for name, ref_cls, pkg_cls in MODELS:
        ref, pkg = same_weights(ref_cls, pkg_cls)
        runs = ((f"{name} reference", lambda X, y, m=ref: reference.evaluate(m, [X], [y])),
                (f"{name} package", lambda X, y, m=pkg: predict(m, X)))
        for label, run in runs:
            per_set[label] = []
            for card in cards:
                X = rng.integers(1, 11, size=(n_sets, card))
                seconds, _ = timed(run, X, X.sum(axis=1))
                per_set[label].append(seconds / n_sets)
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for label, values in per_set.items():
        ax.loglog(cards, values, marker="o", linestyle="--" if "reference" in label else "-",
                  label=label)
    ax.set(xlabel="digits in the set", ylabel="seconds per set (64 sets per call)",
           title="Cost of evaluating one set")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scaling.png", dpi=120)
    (out / "scaling.json").write_text(json.dumps({"cards": list(cards), **per_set}, indent=1))
    return out / "scaling.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small data and 1 epoch: checks the script, not the speed")
    parser.add_argument("--skip-lab", action="store_true", help="skip the end-to-end labs")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each epoch and evaluation measure, medians compared "
                             "(default 3)")
    parser.add_argument("--lab-rounds", type=int, default=3,
                        help="whole-lab processes of each side, run in turns, round k with "
                             "seed k (default 3)")
    args = parser.parse_args()
    n_train, n_per_card = (5_000, 500) if args.quick else (100_000, 10_000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs", flush=True)
    X, y = create_train_dataset(n_train=n_train, seed=0)
    X_test, y_test = create_test_dataset(n_per_card=n_per_card, seed=1)
    repeat = 1 if args.quick else max(1, args.repeat)
    rows = training_epochs(X, y, repeat) + evaluation(X_test, y_test, repeat)
    extra = {}
    if not args.skip_lab:
        row, extra = whole_lab(1 if args.quick else 20, max(1, args.lab_rounds))
        rows.append(row)
    print(f"\n| {'measure':<36} | reference s | package s | speed-up |")
    print(f"|{'-' * 38}|------------:|----------:|---------:|")
    for name, ref, pkg in rows:
        print(f"| {name:<36} | {ref:11.2f} | {pkg:9.2f} | {ref / pkg:7.2f}x |")
    for key, value in extra.items():
        print(f"{key}: {value}")
    print(f"\nscaling plot: {scaling(HERE / 'out', n_sets=8 if args.quick else 64)}")


if __name__ == "__main__":
    main()
