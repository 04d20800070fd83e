"""How far a trained DeepSets stays exact: the largest set size predicted from its learned
per-digit error and from float32's rounding, then checked on sets of up to 10^6 digits in
float32 and float64.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch

from deepsets.core.checks import derive_seed
from deepsets.core.data import chunked_test_sets
from deepsets.core.evaluate import predict, score
from deepsets.core.models import DeepSets
from deepsets.core.settings import LabConfig
from deepsets.lab.drift import contributions, normal_within

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
    return FLOAT32_ROUNDOFF * float((model.rho.weight[0].double() * m).abs().sum())


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

    ``measured`` (``float32_and_float64``) holds, for a few sizes, the
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


def float32_and_float64(model: DeepSets, config: LabConfig, cards: Sequence[int],
                        n_sets: int) -> dict[str, list]:
    """A trained DeepSets on ``n_sets`` unpadded sets of each size in ``cards``, computed in
    float32 as trained and in float64: the accuracy of each, and the spread (standard
    deviation) of their difference, float32's rounding error."""
    rng = np.random.default_rng(derive_seed(config.seed, "data", "precision"))
    double = copy.deepcopy(model).double()
    out: dict[str, list] = {"cards": list(cards), "sets": n_sets, "measured_float32": [],
                            "measured_float64": [], "rounding_sd": []}
    for card in cards:
        targets, preds = [], {"float32": [], "float64": []}
        # 4 sets of a million digits at a time: the check needs no more memory than the lab
        for X, y in chunked_test_sets(card, n_sets, config.max_digit, rng, max_tokens=1 << 22):
            targets.append(y)
            for precision, m in (("float32", model), ("float64", double)):
                preds[precision].append(predict(m, X, batch_tokens=config.eval_batch_tokens,
                                                device=config.device))
        y = np.concatenate(targets)
        p32, p64 = np.concatenate(preds["float32"]), np.concatenate(preds["float64"])
        out["measured_float32"].append(score(y, p32)[0])
        out["measured_float64"].append(score(y, p64)[0])
        out["rounding_sd"].append(float(np.std(p32.astype(np.float64) - p64)))
    return out
