"""Why a trained DeepSets drifts on large sets, read off its per-token contributions.

A DeepSets model for the digit sum is linear in per-token contributions:
``f(X) = b2 + sum_{x in X} a_x`` with ``a_d = w2 . phi(d)``. Its error on N digits is a sum
of N per-digit errors, so the numbers a_1..a_max_digit and b2 predict it at every size. The
same contributions read single images (``per_image_accuracy``); ``padding_effect`` scores
the LSTM on short sets padded and not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from deepsets.core.data import create_test_dataset
from deepsets.core.evaluate import evaluate
from deepsets.core.models import DeepSets
from deepsets.core.tasks import PAD, get_task


@torch.no_grad()
def contributions(model: DeepSets) -> tuple[np.ndarray, float]:
    """``a`` (V,): what each token adds to the prediction (pad first), and the bias b2."""
    a = model.phi_table().double() @ model.rho.weight[0].double()  # (V, H) @ (H,) -> (V,)
    return a.cpu().numpy(), float(model.rho.bias)


def normal_abs_mean(mu: float, sigma: float) -> float:
    """E|Z| for Z ~ Normal(mu, sigma^2)."""
    if sigma == 0:
        return abs(mu)
    return (sigma * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * sigma * sigma))
            + mu * math.erf(mu / (sigma * math.sqrt(2))))


def normal_within(mu: float, sigma: float, half_width: float = 0.5) -> float:
    """P(|Z| < half_width) for Z ~ Normal(mu, sigma^2): the chance a rounded sum is right."""
    if sigma == 0:
        return float(abs(mu) < half_width)

    def cdf(t: float) -> float:
        return 0.5 * (1 + math.erf((t - mu) / (sigma * math.sqrt(2))))

    return cdf(half_width) - cdf(-half_width)


def predicted_error(a: np.ndarray, b2: float, cards: Iterable[int]) -> dict[str, list[float]]:
    """The error at each set size predicted from the contributions alone.

    On an unpadded test set of N uniform digits the error is
    ``b2 + sum_x (a_x - x)``: a sum of N independent per-digit errors
    ``e_d = a_d - d`` plus b2. So its mean is ``b2 + N mean(e)``, its variance
    ``N var(e)``, and, by the central limit theorem, it is nearly normal.
    """
    digits = np.arange(1, len(a))
    e = a[1:] - digits  # (max_digit,): per-digit error
    out: dict[str, list[float]] = {"mean": [], "std": [], "mae": [], "acc": []}
    for n in cards:
        mu, sigma = b2 + n * e.mean(), math.sqrt(n * e.var())
        out["mean"].append(mu)
        out["std"].append(sigma)
        out["mae"].append(normal_abs_mean(mu, sigma))
        out["acc"].append(normal_within(mu, sigma))
    return out


def drift(model: DeepSets, cards: Sequence[int], measured: dict[str, list[float]],
          max_card: int = 10) -> dict:
    """Contributions, the identified combinations, and predicted against measured error."""
    a, b2 = contributions(model)
    e = a[1:] - np.arange(1, len(a))
    predicted = predicted_error(a, b2, cards)
    return {
        "a": a.tolist(), "b2": b2,
        "digit_error_mean": float(e.mean()), "digit_error_std": float(e.std()),
        # every training set has exactly max_card tokens, so training pins down only
        # b2 + max_card * a_0 and the differences a_d - a_0, never a_0 itself
        "train_offset": b2 + max_card * float(a[0]),
        "cards": list(cards), "predicted": predicted,
        "measured": {"mae": list(measured["mae"]), "acc": list(measured["acc"])},
        "mae_ratio": [p / m if m > 0 else float("nan")
                      for p, m in zip(predicted["mae"], measured["mae"], strict=True)],
    }


def per_image_accuracy(model: DeepSets, cards: Sequence[int], measured: Sequence[float],
                       seed: int | np.random.Generator = 0, draws: int = 20_000,
                       task: str = "images") -> dict:
    """How well a DeepSets trained on image sums reads single images, and what that predicts.

    An image's own contribution ``a_x`` is what it adds to a prediction; rounded, it
    should be the digit shown. ``q`` is the share of images for which it is: on the
    training images and on the unseen test images. A set of N unseen images is
    right about ``q^N`` of the time if one misread image spoils the sum; errors can
    also cancel, so the sum of N per-image errors ``a_x - digit`` drawn from the test
    images (plus b2) is the second prediction, by sampling ``draws`` sets per size.
    ``task`` is the image sum the model learned (``images``, ``mnist-sum``).
    """
    a, b2 = contributions(model)
    elements = get_task(task).elements  # the image sum's: scikit-learn's or MNIST's
    tokens = {split: elements.pool(split) for split in ("train", "test")}
    shown = {split: elements.values(tokens[split]) for split in tokens}  # the digits shown
    q = {split: float(np.mean(np.round(a[tokens[split]]) == shown[split])) for split in tokens}
    errors = a[tokens["test"]] - shown["test"]
    rng = np.random.default_rng(seed)
    sampled = [float(np.mean(np.abs(b2 + errors[rng.integers(len(errors), size=(draws, n))]
                                    .sum(axis=1)) < 0.5)) for n in cards]
    return {"q_train": q["train"], "q_test": q["test"], "b2": b2, "cards": list(cards),
            "train_images": len(tokens["train"]), "test_images": len(errors),
            "predicted_q_power": [q["test"] ** n for n in cards],
            "predicted_from_errors": sampled, "measured": list(measured),
            "error_quantiles": {str(k): float(np.quantile(np.abs(errors), k))
                                for k in (0.5, 0.9, 0.99, 1.0)}}


def padding_effect(model: nn.Module, max_card: int = 10, max_digit: int = 10,
                   n_sets: int = 10_000, seed: int | np.random.Generator = 0) -> dict:
    """A model's accuracy on the same sets of 1..max_card digits, unpadded (as the test
    sets are) and left-padded with zeros to ``max_card`` tokens (as the training sets were)."""
    sizes = list(range(1, max_card + 1))
    X_test, y_test = create_test_dataset(n_sets, sizes, max_digit, seed)
    padded = [np.concatenate([np.full((len(X), max_card - X.shape[1]), PAD, dtype=X.dtype), X],
                             axis=1) for X in X_test]
    return {"sizes": sizes, "sets": n_sets,
            "unpadded": evaluate(model, X_test, y_test)["acc"],
            "padded": evaluate(model, padded, y_test)["acc"]}
