"""The GPU check (make gpu-check): the lab and a quick sweep on cuda, the lab's numbers
against the CPU run's, and the timings.

    PYTHONPATH=src python3 benchmarks/gpu_check.py [--device cuda] [--checks LIST] [--keep DIR]

It installs nothing and needs no Ray: every step runs ``python -m deepsets`` with this
python from src/ (``PYTHONPATH``), and the sweep runs in local worker processes. Steps:

- ``lab``: ``deepsets lab --quick`` of DeepSets, the LSTM, the GRU and the Set Transformer,
  once on the CPU and once on ``--device``, each timed; every score of results.json on the
  device within ``ACC_TOL`` (accuracy) and ``MAE_TOL`` (relative MAE) of the CPU's:
  training on another device rounds differently, so the trained weights differ a little;
- ``weights``: the CPU run's trained models and a quick point-cloud lab's, run on both
  devices on the same test sets: their predictions agree within ``PRED_TOL`` (relative),
  the float tolerance of one forward pass;
- ``sweep``: ``deepsets compare --quick`` on the device over digits, images, reals and
  point clouds with four models (the ``pyg-*`` one where PyTorch Geometric imports): it
  finishes and writes its summary.

Every step prints its timings; the exit code is 0 when all pass, 1 otherwise.
``--device cpu`` runs the device side on the CPU as well (a check of the check: its
numbers must then be identical). ``--keep DIR`` keeps the runs there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The largest differences a device may show against the CPU.
ACC_TOL, MAE_TOL, PRED_TOL = 0.03, 0.02, 1e-4
LAB = ["--quick", "--models", "deepsets,lstm,gru,set-transformer"]
CLOUDS = ["--quick", "--task", "point-clouds", "--models", "deepsets,set-transformer",
          "--cards", "5,10,40"]
SWEEP_TASKS = "sum,images,reals-max,point-clouds"


def deepsets(*args: str) -> float:
    """``python -m deepsets ARGS`` in a child process; its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "deepsets", *args], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"deepsets {' '.join(args)} failed ({done.returncode}):\n{tail}")
    print(f"  {seconds:7.1f} s  deepsets {' '.join(args)}", flush=True)
    return seconds


def score_gaps(cpu: dict, other: dict) -> list[str]:
    """Every score of results.json ``other`` that is farther from ``cpu``'s than the
    tolerances, as lines; [] when all agree."""
    gaps = []
    for name, scores in cpu.items():
        if not isinstance(scores, dict):
            continue
        for metric, values in scores.items():
            if metric not in ("acc", "mae"):
                continue
            for card, a, b in zip(cpu["cards"], values, other[name][metric], strict=True):
                if a is None or b is None:
                    ok = a is b
                elif metric == "acc":
                    ok = abs(a - b) <= ACC_TOL
                else:
                    ok = abs(a - b) <= MAE_TOL * max(abs(a), 1e-3)
                if not ok:
                    gaps.append(f"{name} {metric} at {card}: cpu {a}, device {b}")
    return gaps


def trained_models(run: Path) -> dict:
    """``run``'s trained models by name, each loaded from its checkpoint."""
    from deepsets.core import runfolder

    config = runfolder.read_config(run)
    return {name: runfolder.load_trained(run, config, name)[0] for name in config.models}


def prediction_gap(run: Path, device: str, device_models: dict | None = None) -> float:
    """The largest relative difference between the predictions of ``run``'s trained models
    on the CPU and on ``device``, over the run's test sets.

    Each side holds its own copy of the models (``device_models`` by name where given,
    else a second load of the run's checkpoints), so the device side can be given other
    weights and nothing done to a model on one device reaches the other.
    """
    from deepsets.core import pipeline, runfolder
    from deepsets.core.data import chunked_test_sets, element_pool
    from deepsets.core.evaluate import predict

    config = runfolder.read_config(run)
    rng, pool = pipeline.rng_for_test_sets(config), element_pool(config.task, "test")
    on_cpu, on_device = trained_models(run), device_models or trained_models(run)
    worst = 0.0
    for card in config.cards:
        for X, _ in chunked_test_sets(card, config.n_per_card, config.max_digit, rng,
                                      task=config.task, pool=pool):
            for name, model in on_cpu.items():
                here = predict(model, X, device="cpu").astype(np.float64)
                there = predict(on_device[name], X, device=device).astype(np.float64)
                gap = np.abs(here - there) / np.maximum(1.0, np.abs(here))
                worst = max(worst, float(gap.max()))
    return worst


def check_lab(out: Path, device: str) -> list[str]:
    seconds = {side: deepsets("lab", *LAB, "--device", on, "--out", str(out / f"lab-{side}"))
               for side, on in (("cpu", "cpu"), ("device", device))}
    cpu, other = (json.loads((out / f"lab-{side}" / "results.json").read_text())
                  for side in seconds)
    if device == "cpu":  # the same machine and device: the same numbers
        gaps = [] if cpu == other else ["two CPU runs of one command differ"]
    else:
        gaps = score_gaps(cpu, other)
    print(f"  lab on {device}: {seconds['cpu'] / seconds['device']:.2f}x the CPU's speed "
          f"({seconds['device']:.1f} s against {seconds['cpu']:.1f} s)")
    return gaps


def check_weights(out: Path, device: str) -> list[str]:
    deepsets("lab", *LAB, "--device", "cpu", "--out", str(out / "lab-cpu"))  # the lab check's
    deepsets("lab", *CLOUDS, "--out", str(out / "clouds-cpu"))
    gaps = []
    for run in (out / "lab-cpu", out / "clouds-cpu"):
        start = time.perf_counter()
        worst = prediction_gap(run, device)
        print(f"  {time.perf_counter() - start:7.1f} s  {run.name}'s models on cpu and "
              f"{device}: largest relative gap {worst:.2e}")
        if worst > PRED_TOL:
            gaps.append(f"{run.name}: predictions differ by {worst:.2e} > {PRED_TOL}")
    return gaps


def check_sweep(out: Path, device: str) -> list[str]:
    models = "deepsets,lstm,set-transformer" + (
        ",pyg-sum" if importlib.util.find_spec("torch_geometric") else "")
    deepsets("compare", "--quick", "--tasks", SWEEP_TASKS, "--models", models, "--device",
             device, "--jobs", "1", "--out", str(out / "sweep"))
    return [] if (out / "sweep" / "summary.md").exists() else ["the sweep wrote no summary"]


CHECKS = {"lab": check_lab, "weights": check_weights, "sweep": check_sweep}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="the device to check (default: cuda)")
    p.add_argument("--checks", default=",".join(CHECKS),
                   help=f"comma-separated, of {', '.join(CHECKS)} (default: all)")
    p.add_argument("--keep", type=Path, help="keep the runs in this folder")
    args = p.parse_args(argv)
    checks = args.checks.split(",")
    if unknown := sorted(set(checks) - set(CHECKS)):
        p.error(f"unknown checks {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu-check: this machine has no CUDA GPU (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 2
    print(f"gpu-check on {args.device} with torch {torch.__version__}"
          + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else ""))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        failed = []
        for name in checks:
            print(f"{name}:", flush=True)
            try:
                gaps = CHECKS[name](out, args.device)
            except RuntimeError as err:
                gaps = [str(err)]
            failed += [f"{name}: {gap}" for gap in gaps]
            print(f"  {'FAIL' if gaps else 'ok'}", flush=True)
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    SRC = str(Path(__file__).resolve().parents[1] / "src")  # this tree's deepsets, here
    sys.path.insert(0, SRC)
    os.environ["PYTHONPATH"] = os.pathsep.join(  # and in every child
        filter(None, (SRC, os.environ.get("PYTHONPATH"))))
    sys.exit(main())
