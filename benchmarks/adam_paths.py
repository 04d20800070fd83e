"""The compiled Adam against torch's, step by step, on the image model's own parameters.

    python benchmarks/adam_paths.py [--seed 0] [--epochs 20] [--every 1]

Trains the lab's image DeepSets (``deepsets lab --task images --recipe exact``:
masked padding, the handout's settings) through ``optim.Adam``, the compiled
kernel that the lab uses by default. At every ``--every``-th step, before the
update, it copies the parameters, their gradients and Adam's moments into a
``torch.optim.Adam(fused=True)`` (the ``DEEPSETS_KERNELS=off`` path), and
computes the same update in float64 as the reference. After both updates it
prints, per epoch, how far each float32 result lies from the float64 one, in
units of the float32 spacing at that value (ulp): the largest distance, the
share of values not the nearest float, and the mean signed distance (a bias,
if either rounds one way). The same state in, so what differs is arithmetic
alone, and the training follows the default path throughout.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
import torch.nn.functional as F

from deepsets.core.optim import Adam
from deepsets.core.pipeline import seeded_model, train_sets
from deepsets.core.settings import LabConfig

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def reference(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int,
              lr: float) -> np.ndarray:
    """Adam's update of one parameter in float64 from its float32 state."""
    p, g, m, v = (a.astype(np.float64) for a in (p, g, m, v))
    m = m + (1 - BETA1) * (g - m)
    v = BETA2 * v + (1 - BETA2) * g * g
    return p - lr / (1 - BETA1 ** t) * m / (np.sqrt(v) / math.sqrt(1 - BETA2 ** t) + EPS)


def ulps(result: np.ndarray, exact: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Signed distance of a float32 result from the exact value, in float32 spacings at the
    larger of the parameter's old and new magnitude: ``p - update`` rounded once is within
    half of one (a result near 0 from a larger ``p`` has a finer spacing of its own, but the
    subtraction cannot be more exact than its operands)."""
    scale = np.maximum(np.abs(exact), np.abs(before)).astype(np.float32)
    return (result.astype(np.float64) - exact) / np.spacing(scale).astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--every", type=int, default=1, help="compare every k-th step")
    args = parser.parse_args()
    config = LabConfig(task="images", models=("deepsets",), recipe="exact", seed=args.seed,
                       epochs=args.epochs)
    X, y = (torch.as_tensor(a) for a in train_sets(config))
    y = y.float()
    torch.set_num_threads(1)
    model = seeded_model("deepsets", config)
    params = list(model.parameters())
    ours = Adam(params, lr=config.lr)
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    torchs = torch.optim.Adam(twins, lr=config.lr, fused=True)
    print(f"seed {args.seed}: {sum(p.numel() for p in params):,} parameters in "
          f"{len(params)} tensors; {len(X):,} training sets, batches of {config.batch_size}")
    generator = torch.Generator().manual_seed(config.seed)
    print("epoch | loss | compiled: largest ulp, not nearest, mean signed | "
          "torch: largest ulp, not nearest, mean signed | compiled vs torch: values apart")
    for epoch in range(args.epochs):
        stats = {"ours": [], "torch": []}
        apart = total = 0
        loss_sum = 0.0
        order = torch.randperm(len(X), generator=generator)
        for step, idx in enumerate(order.split(config.batch_size)):
            model.train()
            for p in params:
                p.grad = None
            loss = F.l1_loss(model(X[idx]), y[idx])
            loss.backward()
            loss_sum += loss.item() * len(idx)
            if step % args.every:
                ours.step()
                continue
            torchs.load_state_dict(ours.state_dict())  # the same moments and step counts
            before = [(p.detach().numpy().copy(), p.grad.numpy().copy(), m.numpy().copy(),
                       v.numpy().copy()) for p, m, v in zip(params, ours.exp_avg,
                                                            ours.exp_avg_sq, strict=True)]
            with torch.no_grad():
                for p, twin in zip(params, twins, strict=True):
                    twin.copy_(p)
                    twin.grad = p.grad.clone()
            ours.step()
            torchs.step()
            for i, (p, twin) in enumerate(zip(params, twins, strict=True)):
                exact = reference(*before[i], ours.steps[i], config.lr)
                a, b = p.detach().numpy(), twin.detach().numpy()
                stats["ours"].append(ulps(a, exact, before[i][0]).ravel())
                stats["torch"].append(ulps(b, exact, before[i][0]).ravel())
                apart += int((a != b).sum())
                total += a.size
        cells = []
        for key in ("ours", "torch"):
            d = np.concatenate(stats[key])
            cells.append(f"{np.abs(d).max():.2f}, {np.mean(np.abs(d) > 0.5):.2%}, "
                         f"{d.mean():+.4f}")
        print(f"{epoch + 1} | {loss_sum / len(X):.4f} | {cells[0]} | {cells[1]} | "
              f"{apart / total:.2%}", flush=True)


if __name__ == "__main__":
    main()
