"""The papers' models trained by ``train.fit`` against a plain PyTorch loop of the same
model on the same batches: one thread, Adam, L1.

    python benchmarks/papers_speed.py [--epochs 1] [--n-train 20000] [--repeat 3]

Each case is a model of parts as ``deepsets reproduce`` trains it, on one task's training
sets:

- ``max, mlp phi and rho, digits``: the Set Transformer paper's DeepSets (a ReLU MLP phi,
  max pooling, a ReLU MLP rho) on the sum task's left-padded digit sets, batch 128;
- ``LAF, digits``: the LAF paper's integer model (``deepsets-laf``) on the same sets,
  batch 64;
- ``max, mlp phi and rho, reals``: the same DeepSets on max regression, batch 128,
  batches of one set size as ``fit`` makes them.

The plain loop is what a user writes: the same modules (copied, so the same weights),
phi on every element of every padded set, the pooling over the real elements written
out, ``torch.optim.Adam`` and ``F.l1_loss``, on the batches ``fit`` trains on
(``train.epoch_batches``). Ours is ``fit`` itself: for tokens phi once per vocabulary
token and the pooling from token counts, and Adam in one compiled call where the kernels
build. Each side runs in its own process (``--side``), two epochs, alternately,
``--repeat`` times; the table gives the median seconds of the second epoch (the first
pays the one-time costs), plain / ours, and each side's peak resident memory
(``ru_maxrss``). The first epoch's mean loss is shown: the same up to float rounding for
max pooling; LAF's training is chaotic (a last-bit difference between the two forwards
grows into another trajectory within a few steps, as its denominator nears its guard).
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from deepsets.core.models import DeepSets, build_model
from deepsets.core.pipeline import laid_out, train_sets
from deepsets.core.settings import LabConfig
from deepsets.core.train import epoch_batches, fit, real_positions

PAPERS = {"phi": "mlp", "rho": "relu-mlp"}
#: case -> (task, model name, model arguments, batch size)
CASES = {
    "max, mlp phi and rho, digits": ("sum", "deepsets-max", PAPERS, 128),
    "LAF, digits": ("sum", "deepsets-laf", {}, 64),
    "max, mlp phi and rho, reals": ("reals-max", "deepsets-max", PAPERS, 128),
}


class Plain(torch.nn.Module):
    """phi on every element, the pooling written out over the real elements, rho."""

    def __init__(self, model: DeepSets) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)  # the same modules and weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        h = m.encoder(m.embedding(x))  # (B, N, H): phi on every element
        real = (x != 0) if x.dim() == 2 else torch.ones(x.shape[:2], dtype=torch.bool)
        if m.pooling == "max":
            pooled = h.masked_fill(~real.unsqueeze(-1), -torch.inf).amax(dim=1)
        else:  # LAF on the sigmoid of phi, its padding left out
            pooled = m.pool.laf(torch.sigmoid(h), real)
        return m.readout(m.rho(pooled))


def setup(case: str, n_train: int):
    task, name, args, batch = CASES[case]
    config = LabConfig(task=task, models=(name,), n_train=n_train)
    X, y = train_sets(config)
    X, lengths = laid_out(config, name, X)
    torch.manual_seed(0)
    model = build_model(name, **{**config.model_args(name), **args})
    return model, torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float32), \
        (None if lengths is None else torch.as_tensor(lengths)), batch


def plain_fit(model, X, y, lengths, batch: int, epochs: int) -> list[dict]:
    """The plain loop on ``fit``'s batches; per epoch its mean loss and seconds."""
    if X.is_floating_point():  # what fit does first: the standardization, fitted
        model.fit_scales(X, y, real_positions(X, lengths))
    plain = Plain(model)
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    history = []
    for epoch in range(epochs):
        began, total = time.perf_counter(), 0.0
        for idx in epoch_batches(len(X), batch, 0, "m", epoch, lengths):
            start = 0 if lengths is None else X.shape[1] - int(lengths[idx[0]])
            optimizer.zero_grad()
            loss = F.l1_loss(plain(X[idx, start:]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append({"loss": total / len(X), "seconds": time.perf_counter() - began})
    return history


def one_side(case: str, side: str, n_train: int) -> dict:
    """Two epochs of one side; the second's seconds (the first pays one-time costs:
    imports, the kernels' load, the allocator's growth) and the first's mean loss."""
    torch.set_num_threads(1)
    model, X, y, lengths, batch = setup(case, n_train)
    if side == "plain":
        history = plain_fit(model, X, y, lengths, batch, epochs=2)
    else:
        history = fit(model, X, y, name="m", epochs=2, batch_size=batch, lengths=lengths)
    return {"seconds": history[1]["seconds"], "loss": history[0]["loss"],
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", choices=("plain", "ours"))
    parser.add_argument("--case", choices=tuple(CASES))
    args = parser.parse_args()
    if args.side:
        print(json.dumps(one_side(args.case, args.side, args.n_train)))
        return
    print(f"the second epoch of {args.n_train:,} training sets, one thread, median of "
          f"{args.repeat}; peak resident memory of each side's process; the first epoch's "
          "mean loss\n")
    print("| case | plain s | ours s | plain / ours | plain MiB | ours MiB | mean loss "
          "plain / ours |\n|---|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        runs = {"plain": [], "ours": []}
        for _ in range(args.repeat):
            for side in runs:
                out = subprocess.run([sys.executable, __file__, "--side", side, "--case",
                                      case, "--n-train", str(args.n_train)],
                                     capture_output=True, text=True, check=True)
                runs[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
        sec = {s: statistics.median(r["seconds"] for r in v) for s, v in runs.items()}
        mib = {s: max(r["peak_mib"] for r in v) for s, v in runs.items()}
        print(f"| {case} | {sec['plain']:.2f} | {sec['ours']:.2f} | "
              f"{sec['plain'] / sec['ours']:.2f} | {mib['plain']:.0f} | {mib['ours']:.0f} | "
              f"{runs['plain'][0]['loss']:.4f} / {runs['ours'][0]['loss']:.4f} |")


if __name__ == "__main__":
    main()
