"""The set functions of "Learning Aggregation Functions" (LAF, Pellegrini et al. 2021), and
the unique count, on sets of numbers: one entry each in ``FUNCTIONS``.

A function reads a batch of sets as ``values`` (n, N), the number each element stands for
(a digit, or the digit an image shows), and ``real`` (n, N), which positions hold an
element (False: padding). Every set holds at least one element.

Where a function divides 0 by 0 on a set it is 0 there: the skewness and the kurtosis of a
set whose elements are all equal (a set of one, say), and min / max of a set of zeros
(images of the digit 0). The std, skewness and kurtosis are the population's (the set's
own moments, as ``scipy.stats`` with ``bias=True``); the kurtosis is the excess one (0 for
a normal distribution).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SetFunction:
    """One function of a set of numbers: (values, real) (n, N) -> (n,)."""

    title: str  # e.g. "Sum": a task's title is "Sum of digits"
    compute: Callable[[np.ndarray, np.ndarray], np.ndarray]
    whole: bool  # whether its value on whole numbers is a whole number
    counts: bool = False  # whether its value is a count, a whole number on any numbers


def count(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return real.sum(axis=1)


def total(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return np.where(real, values, 0).sum(axis=1)


def largest(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return np.where(real, values, values.min(initial=0) - 1).max(axis=1)


def smallest(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return np.where(real, values, values.max(initial=0) + 1).min(axis=1)


def mean(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return total(values, real) / count(values, real)


def spread(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return largest(values, real) - smallest(values, real)


def inverse_count(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return 1.0 / count(values, real)


def median(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    """The middle element, or the mean of the two middle ones of a set of even size."""
    ordered = np.sort(np.where(real, values.astype(np.float64), np.inf), axis=1)
    n = count(values, real)[:, None]
    lower = np.take_along_axis(ordered, (n - 1) // 2, axis=1)[:, 0]
    upper = np.take_along_axis(ordered, n // 2, axis=1)[:, 0]
    return (lower + upper) / 2


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where both are 0 (never another division by 0)."""
    safe = np.where(denominator == 0, 1, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def min_over_max(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return ratio(smallest(values, real), largest(values, real))


def central_moment(values: np.ndarray, real: np.ndarray, k: int) -> np.ndarray:
    """The set's own k-th moment about its mean."""
    deviations = np.where(real, values - mean(values, real)[:, None], 0.0)
    return (deviations ** k).sum(axis=1) / count(values, real)


def std(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return np.sqrt(central_moment(values, real, 2))


def skewness(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    return ratio(central_moment(values, real, 3), central_moment(values, real, 2) ** 1.5)


def kurtosis(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    m2 = central_moment(values, real, 2)
    return np.where(m2 == 0, 0.0, ratio(central_moment(values, real, 4), m2 ** 2) - 3)


def distinct(values: np.ndarray, real: np.ndarray) -> np.ndarray:
    """How many different values each set holds (Janossy pooling's unique count)."""
    gap = values.min(initial=0) - 1  # below every value: padding sorts first
    ordered = np.sort(np.where(real, values, gap), axis=1)
    changes = (np.diff(ordered, axis=1) != 0).sum(axis=1) + 1  # distinct values, gap included
    return changes - (ordered[:, 0] == gap)


#: The LAF paper's twelve functions (its order), then the unique count, by the name a task
#: ends with.
FUNCTIONS: dict[str, SetFunction] = {
    "count": SetFunction("Count", count, whole=True, counts=True),
    "sum": SetFunction("Sum", total, whole=True),
    "max": SetFunction("Maximum", largest, whole=True),
    "min": SetFunction("Minimum", smallest, whole=True),
    "mean": SetFunction("Mean", mean, whole=False),
    "range": SetFunction("Range (max - min)", spread, whole=True),
    "inverse-count": SetFunction("Inverse count", inverse_count, whole=False),
    "median": SetFunction("Median", median, whole=False),
    "min-over-max": SetFunction("Min / max", min_over_max, whole=False),
    "std": SetFunction("Standard deviation", std, whole=False),
    "skewness": SetFunction("Skewness", skewness, whole=False),
    "kurtosis": SetFunction("Kurtosis", kurtosis, whole=False),
    "unique": SetFunction("Number of distinct values", distinct, whole=True, counts=True),
}
