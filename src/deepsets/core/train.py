"""Training (handout task 5): L1 loss, Adam, mini-batches reshuffled every epoch.

``fit`` knows nothing about a particular model: it asks the model for predictions and
computes the loss (``LOSSES``: L1, or cross-entropy for a classification) and its
gradients itself. After every epoch it writes a checkpoint (atomically), and when that
checkpoint exists it continues from the last completed epoch: the shuffling of epoch k
(and a model's own draws, ``reseed``) is derived from the seed and k alone, so a resumed
run computes the same numbers as an uninterrupted one. The recipes' least-squares refit
of DeepSets' output layer is a training step too (``refit_output``, ``refit_checkpoint``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepsets.core.checks import derive_seed
from deepsets.core.devices import flushed_denormals, resolve_device
from deepsets.core.models import (
    DeepSets,
    as_sets,
    check_predictions,
    reseed,
    standardize,
    token_counts,
)
from deepsets.core.optim import make_adam
from deepsets.core.progress import Outbox, Progress, Stop
from deepsets.core.runfolder import CheckpointError, load_checkpoint, mismatch, save_checkpoint
from deepsets.core.tasks import PAD

log = logging.getLogger(__name__)


#: Models built in threads side by side take torch's global generator in turns.
_INIT = threading.Lock()


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training; says where it stopped and what is saved."""


def init_model(make: Callable[..., nn.Module], seed: int, name: str,
               **model_args: object) -> nn.Module:
    """``make(**model_args)`` (a model class, or a builder) with initial weights that depend
    only on ``seed`` and ``name``."""
    with _INIT, torch.random.fork_rng(devices=[]):  # torch's generator is the process's
        torch.manual_seed(derive_seed(seed, name, "init"))
        return make(**model_args)


def epoch_order(n: int, seed: int, name: str, epoch: int) -> torch.Tensor:
    """The shuffled order of the training sets in one epoch (0-based ``epoch``)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, name, "shuffle", epoch))
    return torch.randperm(n, generator=gen)


def epoch_batches(n: int, batch_size: int, seed: int, name: str, epoch: int,
                  lengths: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The mini-batches of one epoch: indices into the training sets, in training order.

    Without ``lengths``, ``epoch_order`` cut into runs of ``batch_size``. With
    ``lengths`` (n,), every batch holds sets of one length: the epoch's order
    within each length, cut into batches, and the batches shuffled.
    """
    order = epoch_order(n, seed, name, epoch)
    if lengths is None:
        return list(order.split(batch_size))
    lengths = lengths.cpu()
    by_length = order[torch.argsort(lengths[order], stable=True)]  # shuffled within a length
    _, counts = torch.unique_consecutive(lengths[by_length], return_counts=True)
    batches = [batch for group in by_length.split(counts.tolist())
               for batch in group.split(batch_size)]
    gen = torch.Generator().manual_seed(derive_seed(seed, name, "batches", epoch))
    return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]


#: What training minimizes (``tasks.Task.loss``): predictions, targets -> the mean loss.
LOSSES = {"l1": F.l1_loss, "cross-entropy": F.cross_entropy}

#: Learning-rate schedules: the rate at step t of T as a fraction of ``lr``.
SCHEDULES = {
    "constant": lambda t, total: 1.0,  # the handout's Adam
    "cosine": lambda t, total: 0.5 * (1 + math.cos(math.pi * t / total)),  # decays to zero
}


def train_epoch(model: nn.Module, optimizer, X: torch.Tensor,
                y: torch.Tensor, batches: list[torch.Tensor], lengths: torch.Tensor | None,
                rate: Callable[[int], float], first_step: int, name: str, epoch: int,
                progress: Progress, stop: Stop, kept: str,
                loss_fn: Callable = F.l1_loss, seed: int = 0) -> dict[str, float]:
    """One pass over the training sets, batch by batch; returns its history entry.

    ``rate(t)`` is the learning rate at step t of the whole training, and
    ``first_step`` this epoch's first. With ``lengths`` a batch is the last ``length``
    columns of its sets (all of one length). A model's own draws (``reseed``) come from
    ``seed``, ``name`` and ``epoch``."""
    began = time.perf_counter()
    model.train()
    reseed(model, derive_seed(seed, name, "deform", epoch))
    total = 0.0
    with flushed_denormals():  # an LSTM's long backward passes run 10x faster
        for step, idx in enumerate(batches):
            stop.check()  # then a mini-batch: indices -> sets and targets, loss, gradients, Adam
            start = 0 if lengths is None else X.shape[1] - int(lengths[idx[0]])
            idx = idx.to(X.device)
            sets = X[idx] if start == 0 else X[idx, start:]
            for group in optimizer.param_groups:
                group["lr"] = rate(first_step + step)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(sets), y[idx])
            loss.backward()
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(f"{name}: the loss became {value} at epoch {epoch + 1}, "
                                       f"step {step + 1}{kept}; try a smaller --lr")
            optimizer.step()
            total += value * len(idx)
            progress.advance(name, loss=value)
    seen = sum(len(idx) for idx in batches)
    return {"epoch": epoch + 1, "loss": total / seen, "seconds": time.perf_counter() - began}


def checked_loss(loss: str, name: str, outputs: int | None, model: nn.Module) -> Callable:
    """The loss ``loss`` (``LOSSES``) that first checks the predictions of model ``name``
    against the output contract (``check_predictions``: ``outputs`` per set, by default
    1 for L1 and the model's ``outputs`` for cross-entropy, all finite) on the first batch,
    so that a model that breaks it fails at once, before any step; then the loss alone."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not allowed; use " + " or ".join(LOSSES))
    if outputs is None:
        outputs = 1 if loss == "l1" else getattr(model, "outputs", None)
    loss_fn, first = LOSSES[loss], True

    def checked(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal first
        if first:
            check_predictions(pred, len(y), name, outputs, finite=True)
            first = False
        return loss_fn(pred, y)

    return checked


def resume(checkpoint: Path | None, name: str, model: nn.Module, optimizer,
           fingerprint: str | None = None) -> tuple[int, list[dict[str, float]]]:
    """The epochs done and their history; the model and optimizer loaded from
    ``checkpoint`` when it exists (else 0 and []). A checkpoint resumes only when it is of
    this model: its name, its arguments and (a plug-in's) the ``fingerprint`` of its code."""
    if checkpoint is None or not Path(checkpoint).exists():
        return 0, []
    state = load_checkpoint(checkpoint, expect_name=name)
    why = mismatch(state, name, getattr(model, "model_args", None), fingerprint)
    if why is not None:
        raise CheckpointError(f"{checkpoint} {why}; start over with --force")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    log.info("%s: resuming after epoch %d from %s", name, state["epoch"], checkpoint)
    return int(state["epoch"]), list(state["history"])


def checked_lengths(lengths: np.ndarray | torch.Tensor | None,
                    X: torch.Tensor) -> torch.Tensor | None:
    """``lengths`` as a (n,) tensor on the CPU, each in 1..N for the sets ``X`` (n, N)."""
    if lengths is None:
        return None
    n, width = X.shape[:2]
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if not (lengths.shape == (n,) and bool(((lengths >= 1) & (lengths <= width)).all())):
        raise ValueError(f"lengths must be {n} set lengths in 1..{width}, got shape "
                         f"{tuple(lengths.shape)}")
    return lengths


def real_positions(X: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Which positions of the sets ``X`` (n, N, ...) hold elements, (n, N) bool: with
    ``lengths``, the last ``lengths[i]`` of set i; else all."""
    width = torch.arange(X.shape[1], device=X.device)
    if lengths is None:
        return torch.ones(X.shape[:2], dtype=torch.bool, device=X.device)
    return width >= X.shape[1] - lengths.to(X.device).unsqueeze(1)


def training_tensors(model: nn.Module, X, y, loss: str,
                     dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The sets (``as_sets``: tokens int64, vectors float32) and targets (classes int64,
    else float32) on ``dev``."""
    kind = torch.long if loss == "cross-entropy" else torch.float32
    return as_sets(model, X).to(dev), torch.as_tensor(y, dtype=kind, device=dev)


def fit(
    model: nn.Module,
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
    progress: Progress | None = None,
    outbox: Outbox | None = None,
    stop: Stop | None = None,
    lengths: np.ndarray | torch.Tensor | None = None,
    schedule: str = "constant",
    loss: str = "l1",
    outputs: int | None = None,
    fingerprint: str | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` to predict ``y`` from the sets ``X``; returns the per-epoch history.

    ``X`` (n, N) holds left-padded sets of tokens, or (n, N, D) of vectors. With
    ``lengths`` (n,) set i is only its last ``lengths[i]`` columns, and every batch holds
    sets of one length (``epoch_batches``). ``loss`` is ``LOSSES``'s: L1 on predictions
    (n,), or cross-entropy of logits (n, K) and classes ``y``. ``schedule`` sets the
    learning rate step by step from ``lr`` (``SCHEDULES``); ``outputs`` is the number of
    predictions a set gets (1, or K logits; default: 1 for L1, the model's ``outputs`` for
    cross-entropy), checked on the first batch (``checked_loss``). With
    ``checkpoint``, the model, optimizer, epoch and history (and a plug-in's
    ``fingerprint``) are saved there after each epoch (and handed to ``outbox``), and
    training continues from it when it exists and is of this model and code (``resume``).
    ``stop`` is asked before every step.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r} is not allowed; use " + " or ".join(SCHEDULES))
    loss_fn = checked_loss(loss, name, outputs, model)
    progress, outbox, stop = progress or Progress(), outbox or Outbox(), stop or Stop()
    model.to(dev := resolve_device(device))
    X, y = training_tensors(model, X, y, loss, dev)
    optimizer = make_adam(model.parameters(), lr)  # one compiled call a step, where built
    n, lengths = len(X), checked_lengths(lengths, X)
    standardize(model, X, y, real_positions(X, lengths))  # vectors (a checkpoint's if resumed)
    start, history = resume(checkpoint, name, model, optimizer, fingerprint)
    steps = len(epoch_batches(n, batch_size, seed, name, 0, lengths))  # the same every epoch

    def rate(step: int) -> float:  # the learning rate at step ``step`` of the whole training
        return lr * SCHEDULES[schedule](step, epochs * steps)

    def kept(done: int) -> str:  # what an error message can promise is saved
        return f"; epochs 1-{done} are saved in {checkpoint}" if checkpoint and done else ""

    progress.start(name, f"training {name}", (epochs - start) * steps, "batch")
    done = start  # epochs completed and saved
    try:
        for epoch in range(start, epochs):
            batches = epoch_batches(n, batch_size, seed, name, epoch, lengths)
            history.append(train_epoch(model, optimizer, X, y, batches, lengths, rate,
                                       epoch * steps, name, epoch, progress, stop,
                                       kept(done), loss_fn, seed))
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, name, optimizer=optimizer.state_dict(),
                                epoch=epoch + 1, history=history,
                                **({} if fingerprint is None else {"fingerprint": fingerprint}))
            done = epoch + 1
            if checkpoint is not None:
                outbox.saved(checkpoint)
            progress.write(name, f"{name} epoch {epoch + 1}/{epochs}: loss "
                                 f"{history[-1]['loss']:.4f}, {history[-1]['seconds']:.1f} s")
    except KeyboardInterrupt:
        raise Interrupted(f"{name} stopped after {done} of {epochs} epochs{kept(done)}") from None
    progress.end(name)
    return history


# --- the least-squares refit of DeepSets' output layer (recipes refit, exact) ---

@torch.no_grad()
def refit_output(model: DeepSets, X: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
                 lengths: np.ndarray | torch.Tensor | None = None) -> dict[str, float]:
    """Replace DeepSets' output layer by the least-squares fit on the training sets.

    Given phi, the prediction ``w2 . sum_x phi(x) + b2`` is linear in the output
    layer, so the output layer that best fits the training sets has a closed
    form (handout question 1 exposes this structure). The fit runs in float64
    on the token counts, since a set's pooled features are ``counts @ phi``; of
    all best fits it takes the one of least norm. ``lengths`` are the sets'
    lengths as the model was trained on them (``train.fit``): set i is the last
    ``lengths[i]`` columns of ``X``. Returns the training MAE before and after.

    The fit is only as identified as the sets are: when every set has the same
    number of tokens, a shift of every token's contribution by t and of b2 by
    -t x tokens fits them all equally, and the solver returns one of them, rarely t = 0.
    """
    dev = model.rho.weight.device
    X = torch.as_tensor(X, dtype=torch.long, device=dev)
    y = torch.as_tensor(y, dtype=torch.float64, device=dev)
    counts = token_counts(X, model.input_dim).double()  # (n, V)
    if lengths is not None:  # a set holds only its own pads
        counts[:, PAD] -= X.shape[1] - torch.as_tensor(lengths, dtype=torch.float64, device=dev)
    table = model.phi_table().double()  # (V, H)
    features = counts @ table  # (n, V) @ (V, H) -> (n, H)
    design = torch.cat([features, torch.ones_like(features[:, :1])], dim=1)  # (n, H + 1)
    before = (design @ torch.cat([model.rho.weight[0], model.rho.bias]).double() - y)
    solution = torch.linalg.lstsq(design.cpu(), y.cpu().unsqueeze(1), driver="gelsd").solution
    solution = solution.squeeze(1).to(dev)  # (H + 1,)
    model.rho.weight.copy_(solution[:-1].unsqueeze(0))
    model.rho.bias.copy_(solution[-1:])
    after = design @ solution - y
    return {"train_mae_before": float(before.abs().mean()),
            "train_mae_after": float(after.abs().mean())}


def refit_checkpoint(ckpt: Path, name: str, model: DeepSets, X: np.ndarray, y: np.ndarray,
                     lengths: np.ndarray | None, progress: Progress, outbox: Outbox) -> None:
    """Recipes refit/exact: the least-squares output layer, once, saved in the checkpoint."""
    state = load_checkpoint(ckpt, name)
    if "refit" in state:  # already done; fit() loaded the refit weights
        return
    progress.stage("refitting the DeepSets output layer by least squares")
    info = refit_output(model, X, y, lengths)
    extra = {k: v for k, v in state.items() if k not in ("model", "model_name", "model_args")}
    save_checkpoint(ckpt, model, name, **extra, refit=info)
    outbox.saved(ckpt)
