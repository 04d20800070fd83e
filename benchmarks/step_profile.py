"""Where a training step's time goes, per model, at the lab's thread counts.

    python benchmarks/step_profile.py [--steps 400]

Times the parts of one training step (batch 64, handout sizes) by running
loops that stop after each part, then prints torch.profiler's busiest
operators for each model's step. Then, side by side in turns: each step with
``torch.optim.Adam`` (fused) against the package's ``optim.Adam``, and the
LSTM's forward and backward alone through the compiled kernel, PyTorch's
fused kernel (the fallback) and ``nn.LSTM`` on the embeddings (the
reference). The numbers behind docs/speed.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from unittest.mock import patch

import torch
import torch.nn.functional as F
from torch import profiler

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference  # noqa: E402

from deepsets import LSTM, DeepSets, SetTransformer, create_train_dataset  # noqa: E402
from deepsets.core import kernels  # noqa: E402
from deepsets.core.devices import torch_threads  # noqa: E402
from deepsets.core.optim import make_adam  # noqa: E402
from deepsets.core.pipeline import threads_for  # noqa: E402


def per_step(fn, batches) -> float:
    """Microseconds per batch of ``fn(idx)`` over ``batches``, best of three passes."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for idx in batches:
            fn(idx)
        best = min(best, time.perf_counter() - start)
    return best / len(batches) * 1e6


def parts(model, X, y, batches) -> dict[str, float]:
    """Cumulative step times: each entry does one more part of the step than the last."""
    opt = make_adam(model.parameters(), lr=1e-3)  # as train.fit

    def loss(idx):
        return F.l1_loss(model(X[idx]), y[idx])

    def full(idx):  # the training step as train.fit takes it
        opt.zero_grad(set_to_none=True)
        value = loss(idx)
        value.backward()
        value.item()
        opt.step()

    times = {
        "take the batch (X[idx], y[idx])": per_step(lambda idx: (X[idx], y[idx]), batches),
        "+ forward and loss": per_step(lambda idx: loss(idx).item(), batches),
        "+ backward": per_step(lambda idx: loss(idx).backward(), batches),
        "+ zero_grad and Adam step: the training step": per_step(full, batches),
    }
    with profiler.profile(activities=[profiler.ProfilerActivity.CPU]) as prof:
        for idx in batches[:100]:
            full(idx)
    times["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400, help="batches per timed loop")
    args = parser.parse_args()
    X, y = create_train_dataset(n_train=64 * args.steps, seed=0)
    X, y = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float32)
    batches = torch.randperm(len(X), generator=torch.Generator().manual_seed(0)).split(64)
    for name, cls in (("deepsets", DeepSets), ("lstm", LSTM),
                      ("set-transformer", SetTransformer)):
        torch.manual_seed(0)
        with torch_threads(threads_for(name)):
            times = parts(cls(), X, y, batches)
        print(f"\n## {name}, {threads_for(name)} thread(s), microseconds per step\n")
        print("| part | us |\n|---|---:|")
        for label, value in times.items():
            if label != "profile":
                print(f"| {label} | {value:.0f} |")
        print(f"\n```\n{times['profile']}```")
    optimizers(X, y, batches)
    lstm_paths(X, y, batches)


def step_with(model, optimizer, X, y):
    """The training step as train.fit takes it, with ``optimizer``."""
    def step(idx):
        optimizer.zero_grad(set_to_none=True)
        value = F.l1_loss(model(X[idx]), y[idx])
        value.backward()
        value.item()
        optimizer.step()
    return step


def optimizers(X, y, batches) -> None:
    """Each model's step with torch.optim.Adam (fused) and with optim.Adam, in turns."""
    print("\n## the step with each Adam, microseconds (best of 3, in turns)\n")
    print("| model | torch.optim.Adam | optim.Adam |\n|---|---:|---:|")
    for name, cls in (("deepsets", DeepSets), ("lstm", LSTM)):
        torch.manual_seed(0)
        model = cls()
        with torch_threads(threads_for(name)):
            ours = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True), make_adam(
                model.parameters(), lr=1e-3)
            times = [per_step(step_with(model, opt, X, y), batches) for opt in ours]
        print(f"| {name} | {times[0]:.0f} | {times[1]:.0f} |")


def lstm_paths(X, y, batches) -> None:
    """The LSTM's forward and backward alone (no optimizer), through each path."""
    torch.manual_seed(0)
    model = LSTM()
    plain = reference.LSTM(11, 128, 64)  # the handout's: nn.LSTM on the embeddings
    plain.load_state_dict(model.state_dict())

    def compiled(idx):
        F.l1_loss(model(X[idx]), y[idx]).backward()

    def fallback(idx):
        with patch.object(kernels, "trains_lstm", lambda *_: False):
            F.l1_loss(model(X[idx]), y[idx]).backward()

    def handout(idx):
        F.l1_loss(plain(X[idx]), y[idx]).backward()

    print("\n## the LSTM's forward and backward, microseconds per batch of 64\n")
    print(f"{kernels.status()}\n")
    print("| path | 1 thread | 2 threads |\n|---|---:|---:|")
    for label, fn in (("compiled kernel (kernels.cpp)", compiled),
                      ("PyTorch's fused kernel on the gate table (the fallback)", fallback),
                      ("nn.LSTM on the embeddings (the reference)", handout)):
        times = []
        for threads in (1, 2):
            with torch_threads(threads):
                times.append(per_step(fn, batches))
        print(f"| {label} | {times[0]:.0f} | {times[1]:.0f} |")


if __name__ == "__main__":
    main()
