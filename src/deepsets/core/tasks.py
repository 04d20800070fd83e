"""The set functions to learn, one entry each in ``TASKS``: where a task's elements come
from, its target, whether the target is a whole number, and so its metrics.

A new task is one entry here (and its tests): the generators, the models' inputs, the
scores and the titles all read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PAD = 0  # the padding token; elements are 1..max_digit (or image tokens)
N_TRAIN_IMAGES = 1_200  # of scikit-learn's 1,797 digit images; the other 597 are for testing


@lru_cache(maxsize=1)
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits: pixels (1797, 64) in [0, 1], labels.

    Shipped inside scikit-learn, so nothing is downloaded.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)


@lru_cache(maxsize=2)
def image_tokens(split: str) -> np.ndarray:
    """The tokens (image index + 1) of the training or the test images.

    One fixed shuffle splits the images, whatever the run's seed, so a test
    set never holds an image seen in training.
    """
    order = np.random.default_rng(0).permutation(len(digit_images()[1])) + 1
    return order[:N_TRAIN_IMAGES] if split == "train" else order[N_TRAIN_IMAGES:]


@dataclass(frozen=True)
class Elements:
    """Where a task's elements come from, and what a model embeds of them."""

    inputs: str  # what a model embeds: "tokens" (digit tokens) or "images" (their pixels)
    #: the tokens a set draws from in a split (train or test); None: the digits 1..max_digit
    pool: Callable[[str], np.ndarray | None]
    #: how many tokens a model embeds, padding included, given max_digit
    vocabulary: Callable[[int], int]


DIGITS = Elements("tokens", lambda split: None, lambda max_digit: max_digit + 1)
#: Held-out test images: a test set never holds an image seen in training.
IMAGES = Elements("images", image_tokens, lambda max_digit: len(digit_images()[1]) + 1)


@dataclass(frozen=True)
class Task:
    """One set function: sets of elements (n, N) -> targets (n,)."""

    title: str  # the report's and the figures' title
    elements: Elements
    target: Callable[[np.ndarray], np.ndarray]
    whole: bool = True  # whole-number targets: scored by accuracy after rounding, and MAE
    about: str = ""  # a few words for --help

    @property
    def metrics(self) -> tuple[str, ...]:
        """What a prediction is scored by: accuracy after rounding only for whole numbers."""
        return ("acc", "mae") if self.whole else ("mae",)

    def targets(self, X: np.ndarray) -> np.ndarray:
        """The targets of the sets ``X``: int64 for whole numbers, else float64."""
        return np.asarray(self.target(X), dtype=np.int64 if self.whole else np.float64)


def distinct_digits(X: np.ndarray) -> np.ndarray:
    """How many different digits each set holds (Janossy pooling's unique count)."""
    ordered = np.sort(X, axis=1)
    changes = (np.diff(ordered, axis=1) != 0).sum(axis=1) + 1  # distinct values, pad included
    return changes - (ordered[:, 0] == PAD)


def image_sums(X: np.ndarray) -> np.ndarray:
    """The sum of the digits shown by each set of image tokens (padding counts 0)."""
    labels = np.concatenate([[0], digit_images()[1]])  # token -> digit shown
    return labels[X].sum(axis=1)


TASKS: dict[str, Task] = {
    "sum": Task("Sum of digits", DIGITS, lambda X: X.sum(axis=1), about="the handout"),
    "max": Task("Largest digit", DIGITS, lambda X: X.max(axis=1)),  # Set Transformer's
    "unique": Task("Number of distinct digits", DIGITS, distinct_digits),  # Janossy pooling's
    # the DeepSets paper's image sums: sets of handwritten digits
    "images": Task("Sum of digit images", IMAGES, image_sums,
                   about="sums of handwritten digit images"),
}


def get_task(name: str) -> Task:
    """The task ``name``; an unknown name is a ValueError listing the tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from " + ", ".join(TASKS))
    return TASKS[name]
