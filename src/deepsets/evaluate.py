"""Evaluation (handout task 6): accuracy and MAE of a model at every test set size.

A prediction counts as correct when, rounded to the nearest integer, it equals
the true sum. Both scores use scikit-learn, as the handout asks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.metrics import accuracy_score, mean_absolute_error

from deepsets.models import SetModel, check_tokens
from deepsets.progress import Progress
from deepsets.train import resolve_device


@torch.inference_mode()
def predict(model: SetModel, X: np.ndarray | torch.Tensor, *, batch_tokens: int = 1 << 14,
            device: str = "cpu") -> np.ndarray:
    """The model's predictions (n,) for the sets ``X`` (n, N), in memory-bounded batches.

    Each batch holds about ``batch_tokens`` digits (3,276 sets of 5 digits, or
    one set of 10,000), so memory stays bounded whatever the set size; batches
    of this size also keep the LSTM's working set in cache (fastest in
    ``make bench``).
    """
    dev = resolve_device(device)
    model.to(dev).eval()
    X = check_tokens(torch.as_tensor(X), model.input_dim).long()
    rows = max(1, batch_tokens // max(1, X.shape[1]))
    out = [model(X[i:i + rows].to(dev)).float().cpu() for i in range(0, len(X), rows)]
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(accuracy of the rounded predictions, mean absolute error)."""
    acc = accuracy_score(y_true, np.round(y_pred).astype(np.int64))
    return float(acc), float(mean_absolute_error(y_true, y_pred))


def evaluate(model: SetModel, X_test: Sequence[np.ndarray], y_test: Sequence[np.ndarray], *,
             batch_tokens: int = 1 << 14, device: str = "cpu", name: str = "model",
             progress: Progress | None = None) -> dict[str, list[float]]:
    """``{"acc": [...], "mae": [...]}`` with one entry per test array, in order."""
    progress = progress or Progress()
    results: dict[str, list[float]] = {"acc": [], "mae": []}
    progress.start(name, f"evaluating {name}", len(X_test), "size")
    for X, y in zip(X_test, y_test, strict=True):
        acc, mae = score(y, predict(model, X, batch_tokens=batch_tokens, device=device))
        results["acc"].append(acc)
        results["mae"].append(mae)
        progress.advance(name)
    progress.end(name)
    return results
