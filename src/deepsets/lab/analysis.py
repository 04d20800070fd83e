"""The numbers behind the handout's questions and behind DeepSets' drift.

A DeepSets model for the digit sum is linear in per-token contributions:
``f(X) = b2 + sum_{x in X} a_x`` with ``a_d = w2 . phi(d)``. Everything here
follows from that: the exact solutions of question 1, why a trained model's
error grows with the set size, and how well that error can be predicted from
the 11 numbers a_0..a_10 and b2 alone.
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
from deepsets.core.optim import make_adam
from deepsets.core.tasks import PAD, digit_images, image_tokens

# --- the drift of a trained DeepSets --------------------------------------------------


@torch.no_grad()
def contributions(model: DeepSets) -> tuple[np.ndarray, float]:
    """``a`` (V,): what each token adds to the prediction (pad first), and the bias b2."""
    a = model.phi_table().double() @ model.fc2.weight[0].double()  # (V, H) @ (H,) -> (V,)
    return a.cpu().numpy(), float(model.fc2.bias)


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
    e = a[1:] - digits  # (10,): per-digit error
    out: dict[str, list[float]] = {"mean": [], "std": [], "mae": [], "acc": []}
    for n in cards:
        mu, sigma = b2 + n * e.mean(), math.sqrt(n * e.var())
        out["mean"].append(mu)
        out["std"].append(sigma)
        out["mae"].append(normal_abs_mean(mu, sigma))
        out["acc"].append(normal_within(mu, sigma))
    return out


#: float32's unit roundoff: a rounded result is within this fraction of the exact one.
FLOAT32_ROUNDOFF = 2.0 ** -24
#: Above this sum float32 cannot even represent every integer (the spacing becomes 2).
FLOAT32_EXACT_INTEGERS = 2 ** 24


@torch.no_grad()
def float32_error_scale(model: DeepSets) -> float:
    """s: a float32 prediction for a set of N digits is off by about s N from rounding alone.

    The pooled features of N uniform digits are ``h_j ~ N m_j`` (``m_j``, phi_j's
    mean over the digits); float32 stores each within ``u |h_j|``, and the output
    weighs them by ``w2_j``. So the rounding error is of order
    ``u N sum_j |w2_j m_j|``, growing linearly with N like the mean drift, and
    float64 shrinks it 2^29-fold.
    """
    m = model.phi_table().double()[1:].mean(dim=0)  # (H,): mean phi over the digits
    return FLOAT32_ROUNDOFF * float((model.fc2.weight[0].double() * m).abs().sum())


def float32_spacing(x: float) -> float:
    """The gap between neighbouring float32 numbers near ``x`` (2^-23 of its power of 2)."""
    return 2.0 ** (math.floor(math.log2(abs(x))) - 23) if x else 0.0


def predicted_accuracy(a: np.ndarray, b2: float, n: int, rounding: float = 0.0) -> float:
    """The chance a set of ``n`` uniform digits is summed exactly, from the contributions
    (``predicted_error``), computed exactly (``rounding`` 0) or in float32.

    In float32 the error gains a rounding spread ``rounding * n``, and the output itself
    lies on float32's grid of spacing g near the sum: an error within ``K g + g / 2`` of
    0 (K g the largest grid step below 0.5) rounds to the right integer, and one that
    lands exactly on +-0.5 (when g divides it) is a tie, rounded to even: right half the
    time. Above 2^24 (g = 2) odd sums cannot be output at all.
    """
    e = a[1:] - np.arange(1, len(a))
    mu, var = b2 + n * e.mean(), n * e.var()
    if not rounding:
        return normal_within(mu, math.sqrt(var))
    sigma = math.sqrt(var + (rounding * n) ** 2)
    g = float32_spacing(n * float(np.arange(1, len(a)).mean()))  # at the mean sum
    if g >= 1:  # only multiples of g exist: a sum is right when it is one and is hit
        return normal_within(mu, sigma, g / 2) / g
    steps = math.ceil(0.5 / g) - 1  # grid steps strictly inside (-0.5, 0.5)
    right = normal_within(mu, sigma, steps * g + g / 2)
    if (steps + 1) * g == 0.5:  # ties at +-0.5 round to even
        right += (normal_within(mu, sigma, 0.5 + g / 2) - right) / 2
    return right


def largest_exact_size(a: np.ndarray, b2: float, rounding: float = 0.0,
                       level: float = 0.99, limit: int = 10 ** 12) -> int:
    """The largest set size at which at least ``level`` of the sets are predicted exact
    (``predicted_accuracy`` falls with n): 0 if none, ``limit`` if it never falls."""
    def exact(n: int) -> bool:
        return predicted_accuracy(a, b2, n, rounding) >= level

    if not exact(1):
        return 0
    good = 1
    while good < limit and exact(min(2 * good, limit)):  # doubling, then halving the gap
        good = min(2 * good, limit)
    if good == limit:
        return limit
    bad = 2 * good
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if exact(mid) else (good, mid)
    return good


def exact_reach(model: DeepSets, measured: dict[str, list], level: float = 0.99) -> dict:
    """How far the trained model stays exact (at least ``level`` of the sets right), from
    its two limits: the learned per-digit error alone (float64 arithmetic) and with
    float32's rounding added.

    ``measured`` (``pipeline.float32_and_float64``) holds, for a few sizes, the
    accuracy in float32 and float64 and the spread of their difference. The spread at
    the first size, divided by the size, is float32's rounding per digit (it grows
    linearly with N, like ``float32_error_scale``); the other sizes check the prediction.
    """
    a, b2 = contributions(model)
    rounding = measured["rounding_sd"][0] / measured["cards"][0]
    mean_digit = float(np.arange(1, len(a)).mean())
    return {"level": level, "first_order_scale": float32_error_scale(model),
            "rounding_per_digit": rounding,
            "learned": largest_exact_size(a, b2, 0.0, level),
            "float32": largest_exact_size(a, b2, rounding, level),
            "representable": int(FLOAT32_EXACT_INTEGERS / mean_digit),
            "check": {**measured,
                      "predicted_float32": [predicted_accuracy(a, b2, n, rounding)
                                            for n in measured["cards"]],
                      "predicted_float64": [predicted_accuracy(a, b2, n)
                                            for n in measured["cards"]]}}


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


# --- images: the per-image accuracy behind the set accuracy -----------------------------


def per_image_accuracy(model: DeepSets, cards: Sequence[int], measured: Sequence[float],
                       seed: int | np.random.Generator = 0, draws: int = 20_000) -> dict:
    """How well a DeepSets trained on image sums reads single images, and what that predicts.

    An image's own contribution ``a_x`` is what it adds to a prediction; rounded, it
    should be the digit shown. ``q`` is the share of images for which it is: on the
    training images and on the unseen test images. A set of N unseen images is
    right about ``q^N`` of the time if one misread image spoils the sum; errors can
    also cancel, so the sum of N per-image errors ``a_x - digit`` drawn from the test
    images (plus b2) is the second prediction, by sampling ``draws`` sets per size.
    """
    a, b2 = contributions(model)
    shown = np.concatenate([[0], digit_images()[1]])  # token -> the digit its image shows
    q = {split: float(np.mean(np.round(a[image_tokens(split)]) == shown[image_tokens(split)]))
         for split in ("train", "test")}
    errors = a[image_tokens("test")] - shown[image_tokens("test")]
    rng = np.random.default_rng(seed)
    sampled = [float(np.mean(np.abs(b2 + errors[rng.integers(len(errors), size=(draws, n))]
                                    .sum(axis=1)) < 0.5)) for n in cards]
    return {"q_train": q["train"], "q_test": q["test"], "b2": b2, "cards": list(cards),
            "train_images": len(image_tokens("train")), "test_images": len(errors),
            "predicted_q_power": [q["test"] ** n for n in cards],
            "predicted_from_errors": sampled, "measured": list(measured),
            "error_quantiles": {str(k): float(np.quantile(np.abs(errors), k))
                                for k in (0.5, 0.9, 0.99, 1.0)}}


# --- the LSTM and its padding ----------------------------------------------------------


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


# --- question 1: the exact DeepSets with ReLU ------------------------------------------


@torch.no_grad()
def optimal_relu_deepsets(input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                          scale: float = 1.0, pad_shift: float = 0.0) -> DeepSets:
    """Question 1's canonical exact solution, and members of its family.

    Embedding ``e_d = scale * d * u1``, first hidden unit ``relu(e_d . u1 / scale) = d``,
    ``w2 = u1``, every other weight and bias 0: then ``a_d = d``, ``a_0 = 0``,
    ``b2 = 0`` and the model outputs the exact sum of any set of any size.

    ``pad_shift`` s != 0 builds the counter-example: a second hidden unit adds s
    for every token (pad included) and ``b2 = -max_card * s``. That model is
    exact on every training set (all have 10 tokens) yet off by ``(N - 10) s``
    on an unpadded set of N digits.
    """
    model = DeepSets(input_dim, embedding_dim, hidden_dim, activation="relu")
    for p in model.parameters():
        p.zero_()
    model.embedding.weight[:, 0] = scale * torch.arange(input_dim, dtype=torch.float32)
    model.fc1.weight[0, 0] = 1.0 / scale
    model.fc2.weight[0, 0] = 1.0
    if pad_shift:
        model.embedding.weight[:, 1] = 1.0  # every token, pad included
        model.fc1.weight[1, 1] = 1.0  # relu(1) = 1
        model.fc2.weight[0, 1] = pad_shift
        model.fc2.bias[0] = -(input_dim - 1) * pad_shift  # training sets hold 10 tokens
    return model


def question1(X_train: np.ndarray, y_train: np.ndarray, X_test: list[np.ndarray],
              y_test: list[np.ndarray], cards: Sequence[int], big_cards: Sequence[int] = (
                  1_000, 10_000), n_big: int = 1_000, seed: int = 0) -> dict:
    """Evaluate the exact ReLU solution (and the padding counter-example) everywhere."""
    X_big, y_big = create_test_dataset(n_big, big_cards, seed=seed)
    all_cards = [*cards, *big_cards]
    out = {"cards": all_cards, "n_big": n_big}
    members = {
        "canonical": optimal_relu_deepsets(),
        "scaled": optimal_relu_deepsets(scale=0.37),
        "pad_shift": optimal_relu_deepsets(pad_shift=0.01),
    }
    for name, model in members.items():
        a, b2 = contributions(model)
        train = evaluate(model, [X_train], [y_train])
        test = evaluate(model, [*X_test, *X_big], [*y_test, *y_big])
        out[name] = {"a": a.tolist(), "b2": b2, "train_acc": train["acc"][0],
                     "train_mae": train["mae"][0], **test}
    return out


# --- question 2: sets whose elements sum to the same vector ----------------------------

#: Four sets of two 2-D vectors, each summing to [0, 0]. Two elements that sum to
#: zero are always {x, -x}, so these stand for any such sets.
Q2_SETS = np.array([[[1.0, 2.0], [-1.0, -2.0]],
                    [[2.0, 1.0], [-2.0, -1.0]],
                    [[3.0, 0.0], [-3.0, 0.0]],
                    [[1.0, -1.0], [-1.0, 1.0]]])  # (4 sets, 2 elements, 2 dims)


def min_pairwise_distance(reps: np.ndarray) -> float:
    """The smallest distance between two of the set representations (rows)."""
    dist = np.linalg.norm(reps[:, None] - reps[None], axis=-1)
    return float(dist[~np.eye(len(reps), dtype=bool)].min())


class PhiSum(nn.Module):
    """A DeepSets on 2-D vectors: rho(sum_x phi(x)) with a configurable phi."""

    def __init__(self, phi: str, hidden: int = 16) -> None:
        super().__init__()
        layers = {"linear": [nn.Linear(2, hidden)],
                  "tanh": [nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()],
                  "tanh-no-bias": [nn.Linear(2, hidden, bias=False), nn.Tanh()],
                  "relu": [nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden)]}[phi]
        self.phi = nn.Sequential(*layers)
        self.rho = nn.Linear(hidden, 1)

    def represent(self, sets: torch.Tensor) -> torch.Tensor:
        return self.phi(sets).sum(dim=1)  # (S, M, 2) -> (S, M, H) -> (S, H)

    def forward(self, sets: torch.Tensor) -> torch.Tensor:
        return self.rho(self.represent(sets)).squeeze(-1)  # (S, H) -> (S,)


def question2(seed: int = 0, steps: int = 500) -> dict:
    """Can DeepSets tell apart four sets that all sum to [0, 0]? Measured for four phis.

    For each phi: the smallest distance between the four representations
    sum(phi(x)) at initialisation, and whether a model trained to output
    0, 1, 2, 3 for the four sets gets there (its mean squared error).
    """
    sets = torch.tensor(Q2_SETS, dtype=torch.float32)
    targets = torch.arange(4, dtype=torch.float32)
    out = {"sets": Q2_SETS.tolist(), "targets": targets.tolist()}
    for phi in ("linear", "tanh-no-bias", "tanh", "relu"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = PhiSum(phi)
        with torch.no_grad():
            init_gap = min_pairwise_distance(model.represent(sets).numpy())
        opt = make_adam(model.parameters(), lr=0.01)
        for _ in range(steps):
            loss = ((model(sets) - targets) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out[phi] = {"init_min_distance": init_gap,
                        "trained_min_distance": min_pairwise_distance(
                            model.represent(sets).numpy()),
                        "trained_mse": float(((model(sets) - targets) ** 2).mean()),
                        "predictions": model(sets).tolist()}
    return out
