"""How each DeepSets recipe generalizes, over seeds: the tables in docs/recipes.md.

    python benchmarks/recipes.py [--seeds 5] [--out runs/recipes]

Trains DeepSets with every recipe and seed (the handout's data, sizes and
optimizer, changed only as the recipe says), evaluates it at 5..100, 1,000,
10,000 and 100,000 digits (10,000 sets each), and prints Markdown tables: every
recipe, the padded recipe's ablation with its least-squares refit done two
ways, how far each exact model stays exact (predicted, then measured at 10^6
digits in float32 and float64), and how well the drift analysis predicts the
handout recipe's MAE. Finished runs in --out are reused.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

from deepsets.core.data import HANDOUT_CARDS
from deepsets.core.pipeline import laid_out, score_models, train_sets
from deepsets.core.recipes import RECIPES
from deepsets.core.runfolder import load_trained, read_config, read_json
from deepsets.core.settings import LabConfig
from deepsets.core.train import refit_output
from deepsets.lab.run import run_lab

CARDS = (*HANDOUT_CARDS, 1_000, 10_000, 100_000)
SHOW = (100, 1_000, 10_000, 100_000)
ABLATION = ("handout", "pads", "cosine", "padded")


def row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def accuracy_cells(acc: dict, mae: dict) -> list[str]:
    exact = sum(a == 1.0 for a in acc.values())
    return [*(f"{acc[c]:.4f}" for c in SHOW), f"{exact}/{len(acc)}", f"{mae[100]:.3g}",
            f"{mae[100_000]:.3g}"]


def finished(run: Path, config: LabConfig) -> bool:
    """Whether ``run`` holds a finished lab of these settings (its report written)."""
    return (run / "report.md").exists() and read_config(run).same_results_as(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default: 5)")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes"),
                        help="folder for the run folders (default: runs/recipes)")
    args = parser.parse_args()
    rows, ratios, ablation, refits, reach, contributions = [], [], {}, [], [], {}
    for recipe in RECIPES:
        for seed in range(args.seeds):
            config = LabConfig(seed=seed, recipe=recipe, models=("deepsets",), cards=CARDS)
            run = args.out / f"{recipe}-{seed}"
            if not finished(run, config):
                run_lab(config, run)
            results = read_json(run / "results.json")
            acc = dict(zip(results["cards"], results["deepsets"]["acc"], strict=True))
            mae = dict(zip(results["cards"], results["deepsets"]["mae"], strict=True))
            cells = accuracy_cells(acc, mae)
            rows.append(row(recipe, seed, *cells))
            print(rows[-1], flush=True)
            analysis = read_json(run / "analysis.json")
            if recipe in ABLATION:
                ablation.setdefault(recipe, []).append(row(recipe, seed, *cells))
                a, b2 = np.array(analysis["drift"]["a"]), analysis["drift"]["b2"]
                e = a[1:] - np.arange(1, len(a))
                contributions.setdefault(recipe, []).append(
                    row(recipe, seed, f"{a[0]:+.2e}", f"{b2:+.2e}", f"{e.mean():+.2e}",
                        f"{e.std():.2e}"))
            if recipe == "handout":
                ratio = dict(zip(analysis["drift"]["cards"], analysis["drift"]["mae_ratio"],
                                 strict=True))
                ratios.append(row(seed, f"{ratio[50]:.4f}", f"{ratio[100]:.4f}"))
            if recipe in ("exact", "padded"):
                r, check = analysis["reach"], analysis["reach"]["check"]  # 10^5, then 10^6
                reach.append(row(recipe, seed, f"{acc[100_000]:.4f}", f"{mae[100_000]:.3g}",
                                 *(f"{sd:.3f}" for sd in check["rounding_sd"]),
                                 f"{r['float32']:,}", f"{r['learned']:,}",
                                 *(f"{check[k][-1]:.2f}" for k in (
                                     "predicted_float32", "measured_float32",
                                     "predicted_float64", "measured_float64"))))
            if recipe == "padded":  # the refit on the sets as drawn, and as trained
                model = load_trained(run, config, "deepsets")[0]
                X, y = train_sets(config)
                for way, (sets, lengths) in (("handout's 10-token sets", (X, None)),
                                             ("sets as trained", laid_out(config, "deepsets",
                                                                          X))):
                    refit = copy.deepcopy(model)
                    refit_output(refit, sets, y, lengths)
                    res = score_models({"deepsets": refit}, config)["deepsets"]
                    acc_r = dict(zip(config.cards, res["acc"], strict=True))
                    mae_r = dict(zip(config.cards, res["mae"], strict=True))
                    refits.append(row(f"padded + refit on the {way}", seed,
                                      *accuracy_cells(acc_r, mae_r)))
                    print(refits[-1], flush=True)
    head = row("recipe", "seed", *(f"acc {c:,}" for c in SHOW), "sizes at 100%", "MAE 100",
               "MAE 100,000")
    rule = "|---|---:|" + "---:|" * (len(SHOW) + 3)
    print("\n## Every recipe\n", head, rule, *rows, sep="\n")
    print("\n## Ablation: the padded recipe's two changes\n", head, rule,
          *(line for recipe in ABLATION for line in ablation.get(recipe, [])), *refits,
          sep="\n")
    print("\n## Contributions: the pad token's a_0, b2, and the per-digit error a_d - d\n",
          row("recipe", "seed", "a_0", "b2", "mean of a_d - d", "spread of a_d - d"),
          "|---|---:|---:|---:|---:|---:|",
          *(line for recipe in ABLATION for line in contributions[recipe]), sep="\n")
    print("\n## How far the exact models stay exact\n",
          row("recipe", "seed", "acc 100,000", "MAE 100,000", "rounding 10^5",
              "rounding 10^6", "99% exact up to, float32", "float64", "10^6 predicted f32",
              "10^6 measured f32", "10^6 predicted f64", "10^6 measured f64"),
          "|---|---:|" + "---:|" * 10, *reach, sep="\n")
    print("\n## handout recipe, predicted / measured MAE\n",
          row("seed", "at 50", "at 100"), "|---:|---:|---:|", *ratios, sep="\n")


if __name__ == "__main__":
    main()
