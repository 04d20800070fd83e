"""Training (handout task 5): L1 loss, Adam, mini-batches reshuffled every epoch.

``fit`` knows nothing about a particular model. After every epoch it writes a
checkpoint (atomically), and when that checkpoint exists it continues from the
last completed epoch: the shuffling of epoch k is derived from the seed and k
alone, so a resumed run computes the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepsets.config import derive_seed
from deepsets.models import DeepSets, SetModel, check_tokens, token_counts
from deepsets.progress import Progress
from deepsets.runfolder import load_checkpoint, save_checkpoint

log = logging.getLogger(__name__)


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; says where it stopped and what is saved."""


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (cuda when available) as a torch device."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but this machine has no CUDA GPU; use --device cpu")
    return torch.device(device)


@contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def init_model(model_cls: type[SetModel], seed: int, name: str, **model_args: int) -> SetModel:
    """A fresh model whose initial weights depend only on ``seed`` and ``name``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, name, "init"))
        return model_cls(**model_args)


def epoch_order(n: int, seed: int, name: str, epoch: int) -> torch.Tensor:
    """The shuffled order of the training sets in one epoch (0-based ``epoch``)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, name, "shuffle", epoch))
    return torch.randperm(n, generator=gen)


def train_epoch(model: SetModel, optimizer: torch.optim.Optimizer, X: torch.Tensor,
                y: torch.Tensor, name: str, epoch: int, batch_size: int, seed: int,
                progress: Progress, kept: str) -> dict[str, float]:
    """One pass over the training sets in this epoch's order; returns its history entry."""
    began = time.perf_counter()
    order = epoch_order(len(X), seed, name, epoch).to(X.device)
    model.train()
    total = 0.0
    for step, idx in enumerate(order.split(batch_size)):
        # one mini-batch: indices -> tokens and targets, L1 loss and its gradients, Adam step
        optimizer.zero_grad(set_to_none=True)
        value = model.l1_loss_backward(X[idx], y[idx]).item()
        if not math.isfinite(value):
            raise TrainingDiverged(f"{name}: the loss became {value} at epoch {epoch + 1}, "
                                   f"step {step + 1}{kept}; try a smaller --lr")
        optimizer.step()
        total += value * len(idx)
        progress.advance(name, loss=value)
    return {"epoch": epoch + 1, "loss": total / len(X), "seconds": time.perf_counter() - began}


def fit(
    model: SetModel,
    X: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    name: str,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
    checkpoint: Path | None = None,
    config: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` to predict ``y`` from the sets ``X``; returns the per-epoch history.

    With ``checkpoint``, the model, optimizer, epoch and history are saved
    there after each epoch, and training continues from it when it exists.
    """
    progress = progress or Progress()
    dev = resolve_device(device)
    model.to(dev)
    X = check_tokens(torch.as_tensor(X), model.input_dim).to(dev, torch.long)  # (n, N)
    y = torch.as_tensor(y, dtype=torch.float32, device=dev)  # (n,)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)  # one kernel a step
    history: list[dict[str, float]] = []
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, expect_name=name)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history = int(state["epoch"]), list(state["history"])
        log.info("%s: resuming after epoch %d from %s", name, start, checkpoint)

    n = len(X)
    steps = math.ceil(n / batch_size)

    def kept(done: int) -> str:  # what an error message can promise is saved
        return f"; epochs 1-{done} are saved in {checkpoint}" if checkpoint and done else ""

    progress.start(name, f"training {name}", (epochs - start) * steps, "batch")
    done = start  # epochs completed and saved
    try:
        for epoch in range(start, epochs):
            history.append(train_epoch(model, optimizer, X, y, name, epoch, batch_size, seed,
                                       progress, kept(done)))
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, name, optimizer=optimizer.state_dict(),
                                epoch=epoch + 1, history=history, config=config or {})
            done = epoch + 1
            progress.write(name, f"{name} epoch {epoch + 1}/{epochs}: loss "
                                 f"{history[-1]['loss']:.4f}, {history[-1]['seconds']:.1f} s")
    except KeyboardInterrupt:
        raise Interrupted(f"{name} stopped after {done} of {epochs} epochs{kept(done)}") from None
    progress.end(name)
    return history


@torch.no_grad()
def refit_output(model: DeepSets, X: np.ndarray | torch.Tensor,
                 y: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Replace DeepSets' output layer by the least-squares fit on the training sets.

    Given phi, the prediction ``w2 . sum_x phi(x) + b2`` is linear in the output
    layer, so the output layer that best fits the training sets has a closed
    form (handout question 1 exposes this structure). The fit runs in float64
    on the token counts, since a set's pooled features are ``counts @ phi``; of
    all best fits it takes the one of least norm. Returns the training MAE
    before and after.
    """
    dev = model.fc2.weight.device
    X = torch.as_tensor(X, dtype=torch.long, device=dev)
    y = torch.as_tensor(y, dtype=torch.float64, device=dev)
    table = model.phi_table().double()  # (V, H)
    features = token_counts(X, model.input_dim).double() @ table  # (n, V) @ (V, H) -> (n, H)
    design = torch.cat([features, torch.ones_like(features[:, :1])], dim=1)  # (n, H + 1)
    before = (design @ torch.cat([model.fc2.weight[0], model.fc2.bias]).double() - y)
    solution = torch.linalg.lstsq(design.cpu(), y.cpu().unsqueeze(1), driver="gelsd").solution
    solution = solution.squeeze(1).to(dev)  # (H + 1,)
    model.fc2.weight.copy_(solution[:-1].unsqueeze(0))
    model.fc2.bias.copy_(solution[-1:])
    after = design @ solution - y
    return {"train_mae_before": float(before.abs().mean()),
            "train_mae_after": float(after.abs().mean())}
