"""Evaluation (handout task 6): accuracy and MAE of a model at every test set size.

A prediction counts as correct when, rounded to the nearest integer, it equals
the true sum; a classification's when its largest logit is the true class
(``accuracy``). The scores are scikit-learn's ``accuracy_score`` and
``mean_absolute_error``, which the handout suggests, computed in numpy (the
tests check them against scikit-learn's), so evaluating imports no scikit-learn
(its cost: docs/speed.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

from deepsets.core.devices import resolve_device, torch_threads
from deepsets.core.models import as_sets
from deepsets.core.progress import Progress


def predict(model: nn.Module, X: np.ndarray | torch.Tensor, *, batch_tokens: int = 1 << 14,
            device: str = "cpu", workers: int | None = None) -> np.ndarray:
    """The model's predictions (n,) for the sets ``X`` (n, N), in memory-bounded batches;
    for sets of vectors ``X`` is (n, N, D), and a classifier gives its logits (n, K).

    Each batch holds about ``batch_tokens`` digits (3,276 sets of 5 digits, or
    one set of 10,000), so memory stays bounded whatever the set size; batches
    of this size also keep the LSTM's working set in cache (fastest in
    ``make bench``). On the CPU every batch runs on one intra-op thread, so the
    numbers do not depend on the machine's core count; a model with
    ``parallel_batches`` runs ``workers`` batches side by side in threads
    (default: torch's thread count), which beats splitting its matrix
    products across threads (docs/speed.md).
    """
    dev = resolve_device(device)
    model.to(dev).eval()
    X = as_sets(model, X)
    rows = max(1, batch_tokens // max(1, X.shape[1]))
    batches = [X[i:i + rows] for i in range(0, len(X), rows)]
    cpu = dev.type == "cpu"

    # a model whose forward differentiates inside (an optimizing pooling) says so
    no_autograd = torch.no_grad if getattr(model, "differentiates", False) \
        else torch.inference_mode

    def run(batch: torch.Tensor) -> torch.Tensor:
        with no_autograd():  # thread-local, like torch's thread count
            if cpu:
                torch.set_num_threads(1)
            out = model(batch.to(dev)).detach().cpu()
            return out if out.dtype == torch.float64 else out.float()  # float64 stays

    parallel = cpu and getattr(model, "parallel_batches", False)
    workers = min(len(batches), workers or torch.get_num_threads()) if parallel else 1
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            out = list(pool.map(run, batches))
    else:
        with torch_threads(torch.get_num_threads()):  # run() sets 1 here: restore it after
            out = [run(batch) for batch in batches]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(accuracy of the rounded predictions, mean absolute error)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    acc = np.mean(y_true == np.round(y_pred).astype(np.int64))
    return float(acc), float(np.mean(np.abs(y_true - y_pred.astype(np.float64))))


def accuracy(y_true: np.ndarray, logits: np.ndarray) -> float:
    """The share of sets whose largest logit (n, K) is their class (n,)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(logits).argmax(axis=1)))


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``{"acc", "mae"}`` of predictions (n,) (``score``), or ``{"acc"}`` of logits (n, K)."""
    if np.ndim(y_pred) == 2:
        return {"acc": accuracy(y_true, y_pred)}
    return dict(zip(("acc", "mae"), score(y_true, y_pred), strict=True))


def evaluate(model: nn.Module, X_test: Sequence[np.ndarray], y_test: Sequence[np.ndarray], *,
             batch_tokens: int = 1 << 14, device: str = "cpu", name: str = "model",
             progress: Progress | None = None) -> dict[str, list[float]]:
    """``{"acc": [...], "mae": [...]}`` with one entry per test array, in order (a
    classifier's: ``{"acc": [...]}``)."""
    progress = progress or Progress()
    results: dict[str, list[float]] = {}
    progress.start(name, f"evaluating {name}", len(X_test), "size")
    for X, y in zip(X_test, y_test, strict=True):
        found = scores(y, predict(model, X, batch_tokens=batch_tokens, device=device))
        for metric, value in found.items():
            results.setdefault(metric, []).append(value)
        progress.advance(name)
    progress.end(name)
    return results
