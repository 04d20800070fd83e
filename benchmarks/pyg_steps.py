"""The training step of PyG's simple aggregations against our DeepSets' general path.

One process, one thread, the handout's training sets and model sizes (h1 128, h2 64,
batch 64): seconds per Adam step of ``pyg-sum``, ``pyg-mean``, ``pyg-max`` against
``DeepSets.forward_each_element`` (phi on every element, the handout's forward) and
against its token-table fast path, in interleaved rounds (each model's fastest round).
Prints a Markdown table of ratios; ``--steps``, ``--rounds``.
"""

from __future__ import annotations

import argparse
import resource

import torch

from deepsets.core.pipeline import seeded_model, train_sets
from deepsets.core.settings import LabConfig
from deepsets.sweep.costs import seconds_per_step


def step_seconds(model, X, y, steps: int, batch: int = 64) -> float:
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    return seconds_per_step(model, X, y, order[:batch * (steps + 5)].split(batch), 1e-3,
                            warmup=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the models")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = LabConfig(n_train=args.steps * 64 + 1_000)
    X, y = (torch.as_tensor(a) for a in train_sets(config))
    y = y.float()
    per_element = seeded_model("deepsets", config)
    per_element.forward = per_element.forward_each_element  # the general path
    models = {"deepsets, per element": per_element,
              "deepsets, token table": seeded_model("deepsets", config),
              **{name: seeded_model(name, config) for name in ("pyg-sum", "pyg-mean",
                                                               "pyg-max")}}
    rows = {name: float("inf") for name in models}
    for _ in range(args.rounds):  # interleaved rounds; each model's fastest
        for name, model in models.items():
            rows[name] = min(rows[name], step_seconds(model, X, y, args.steps))
    base = rows["deepsets, per element"]
    print("| model | ms per step | / deepsets per element |\n|---|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds * 1e3:.3f} | {seconds / base:.2f} |")
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
