"""How each DeepSets recipe generalizes, over seeds: the table in docs/recipes.md.

    python benchmarks/recipes.py [--seeds 5] [--out runs/recipes]

Trains DeepSets with every recipe and seed (the handout's data, sizes and
optimizer), evaluates it at 5..100, 1,000 and 10,000 digits, and prints a
Markdown table, plus how well the drift analysis predicts the handout recipe's
MAE. Finished runs in --out are reused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepsets.config import HANDOUT_CARDS, RECIPES, LabConfig
from deepsets.lab import run_lab
from deepsets.runfolder import read_json

SHOW = (10, 50, 75, 100, 1_000, 10_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes"),
                        help="folder for the run folders (default: runs/recipes)")
    args = parser.parse_args()
    rows, ratios = [], []
    for recipe in RECIPES:
        for seed in range(args.seeds):
            config = LabConfig(seed=seed, recipe=recipe, models=("deepsets",),
                               cards=(*HANDOUT_CARDS, 1_000, 10_000))
            done = run_lab(config, args.out / f"{recipe}-{seed}")
            res = done.results["deepsets"]
            acc = dict(zip(done.results["cards"], res["acc"], strict=True))
            mae = dict(zip(done.results["cards"], res["mae"], strict=True))
            exact = sum(a == 1.0 for a in res["acc"])
            rows.append(f"| {recipe} | {seed} | " + " | ".join(f"{acc[c]:.4f}" for c in SHOW)
                        + f" | {exact}/{len(res['acc'])} | {mae[100]:.3g} | {mae[10_000]:.3g} |")
            if recipe == "handout":
                drift = read_json(done.run / "analysis.json")["drift"]
                ratio = dict(zip(drift["cards"], drift["mae_ratio"], strict=True))
                ratios.append(f"| {seed} | {ratio[50]:.4f} | {ratio[100]:.4f} |")
            print(rows[-1], flush=True)
    print("\n| recipe | seed | " + " | ".join(f"acc {c:,}" for c in SHOW)
          + " | sizes at 100% | MAE 100 | MAE 10,000 |")
    print("|---|---:|" + "---:|" * (len(SHOW) + 3))
    print("\n".join(rows))
    print("\nhandout recipe, predicted / measured MAE\n")
    print("| seed | at 50 | at 100 |\n|---:|---:|---:|")
    print("\n".join(ratios))


if __name__ == "__main__":
    main()
