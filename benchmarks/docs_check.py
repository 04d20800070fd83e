"""Re-runs the docs' quick-to-reproduce figures and fails on a mismatch (make docs-check).

    python benchmarks/docs_check.py [--checks lab,images] [--keep DIR]

Each check runs the command printed beside its figures, on the default path
(the compiled kernels where they build), formats the run's numbers as the
docs print them, and looks for each figure, word for word, in its page:

- ``lab``: ``make run``'s lab (``deepsets lab --models
  deepsets,lstm,lstm-unpadded``): its results.json equals
  docs/example-run/results.json byte for byte, and docs/lab.md's table holds
  its rows (one to two minutes on 2 cores);
- ``images``: ``deepsets lab --task images --models deepsets --recipe exact
  --cards 5,10,25,50 --n-per-card 1000 --seed K`` for seeds 0-2 (3-5 min
  each, two at a time): docs/sweep.md's figures and docs/recipes.md's table of
  them.

The figures are those of the machine they were measured on: another CPU
rounds differently, and a mismatch there may be only that; the check prints
what it found beside what the page says. ``--keep DIR`` keeps the runs
there, and a second call reuses the finished ones. Exit code 0 when every
figure matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The pages that print the figures: the lab's table of ``make run``, the sweep's sentence
#: of the image task's seeds 0-2, and the recipes' table of them.
LAB_PAGE, SWEEP_PAGE = ROOT / "docs" / "lab.md", ROOT / "docs" / "sweep.md"
RECIPES = ROOT / "docs" / "recipes.md"
EXAMPLE = ROOT / "docs" / "example-run" / "results.json"
LAB = ["--models", "deepsets,lstm,lstm-unpadded"]
IMAGES = ["--task", "images", "--models", "deepsets", "--recipe", "exact", "--cards",
          "5,10,25,50", "--n-per-card", "1000"]
IMAGE_SEEDS = (0, 1, 2)


def run_lab(folder: Path, flags: list[str]) -> Path:
    """``deepsets lab FLAGS --out FOLDER`` (a finished run there is reused, not retrained)."""
    done = subprocess.run([sys.executable, "-m", "deepsets", "lab", *flags, "--out",
                           str(folder)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"docs-check: deepsets lab {' '.join(flags)} failed:\n{done.stderr}")
    status = next((line for line in done.stderr.splitlines() if "training kernels" in line),
                  "")
    print(f"  ran deepsets lab {' '.join(flags)}  [{status.strip()}]", flush=True)
    return folder


def read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text())


@cache
def flat(page: Path) -> str:
    """The page without its whitespace: a figure may be wrapped anywhere in its source."""
    return re.sub(r"\s+", "", page.read_text())


def on(page: Path, figure: str) -> tuple[Path, str, bool]:
    """``figure``, and whether ``page`` says it, word for word."""
    return page, figure, re.sub(r"\s+", "", figure) in flat(page)


#: A check: the runs' folder -> (page, figure, whether the page says it), per figure.
Check = Callable[[Path], list[tuple[Path, str, bool]]]


def lab_figures(runs: Path) -> list[tuple[Path, str, bool]]:
    """docs/example-run's results.json, and docs/lab.md's table of ``make run`` row by row."""
    run = run_lab(runs / "lab", LAB)
    r = read(run, "results.json")
    models = LAB[LAB.index("--models") + 1].split(",")
    rows = [f"| {card} | " + " | ".join(f"{r[m]['acc'][i]:.4f} | {r[m]['mae'][i]:.3g}"
                                        for m in models) + " |"
            for i, card in enumerate(r["cards"])]
    same = (run / "results.json").read_bytes() == EXAMPLE.read_bytes()
    return [(EXAMPLE, "the run's results.json, byte for byte", same),
            *(on(LAB_PAGE, row) for row in rows)]


def image_figures(runs: Path) -> list[tuple[Path, str, bool]]:
    """docs/sweep.md's sentence of seeds 0-2 and docs/recipes.md's table of them."""
    with ThreadPoolExecutor(2) as pool:  # two runs at a time, one core each
        folders = list(pool.map(lambda k: run_lab(runs / f"images-seed{k}",
                                                  [*IMAGES, "--seed", str(k)]), IMAGE_SEEDS))
    results = [read(f, "results.json")["deepsets"] for f in folders]
    images = [read(f, "analysis.json")["images"] for f in folders]
    by_size = ["/".join(f"{100 * r['acc'][i]:.1f}" for r in results) + "%" for i in range(4)]
    mae5 = sorted(r["mae"][0] for r in results)
    q = sorted(im["q_test"] for im in images)
    sentence = (f"{by_size[0]} at 5 images, {by_size[1]} at 10, {by_size[2]} at 25 and "
                f"{by_size[3]} at 50 (MAE at 5: {mae5[0]:.2f}-{mae5[-1]:.2f})")
    figures = [on(SWEEP_PAGE, sentence), on(SWEEP_PAGE, f"q = {q[0]:.4f}-{q[-1]:.4f}")]
    for seed, r, im in zip(IMAGE_SEEDS, results, images, strict=True):
        pred = im["predicted_from_errors"]
        figures.append(on(RECIPES, f"| {seed} | {im['q_test']:.4f} | " + " | ".join(
            f"{a:.3f}" for a in r["acc"]) + f" | {r['mae'][0]:.3f} | {pred[0]:.3f} / "
            f"{pred[-1]:.3f} |"))
    return figures


CHECKS: dict[str, Check] = {"lab": lab_figures, "images": image_figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", default=",".join(CHECKS),
                        help=f"which, comma-separated (default: all of {', '.join(CHECKS)})")
    parser.add_argument("--keep", type=Path, help="run into this folder, and reuse its runs")
    args = parser.parse_args()
    names = args.checks.split(",")
    if unknown := [n for n in names if n not in CHECKS]:
        parser.error(f"unknown check {unknown[0]!r}; the checks are {', '.join(CHECKS)}")
    if os.environ.get("DEEPSETS_KERNELS"):
        print(f"docs-check: DEEPSETS_KERNELS={os.environ['DEEPSETS_KERNELS']} is set; the "
              "docs' figures come from the default path", file=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        runs = args.keep or Path(scratch)
        wrong = 0
        for name in names:
            print(f"{name}:", flush=True)
            for page, figure, ok in CHECKS[name](runs):
                wrong += not ok
                print(f"  {'ok' if ok else 'MISMATCH'}  {page.relative_to(ROOT)}: {figure}")
    print("every figure matches" if not wrong else f"{wrong} figures do not match the docs")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
