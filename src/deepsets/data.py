"""The digit-sum data of the handout (section 2.1, tasks 1 and 2).

A sample is a multiset of digits from 1..10 and its target is the sum of its
digits. Token 0 means padding: training sets are left-padded with zeros to a
common length so they can be batched; test sets are unpadded, one array per
set size.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from deepsets.config import HANDOUT_CARDS, check_positive_int, check_seed

PAD = 0  # the padding token; digits are 1..max_digit


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an int seed, or the Generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed))


def create_train_dataset(
    n_train: int = 100_000,
    max_card: int = 10,
    max_digit: int = 10,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Task 1: ``n_train`` sets of 1..max_card digits, left zero-padded to ``max_card``.

    Each set's size is uniform on 1..max_card and each digit uniform on
    1..max_digit, so ``{4, 5, 1, 7, 5}`` becomes ``[0, 0, 0, 0, 0, 4, 5, 1, 7, 5]``.
    Returns ``X`` (n_train, max_card) int64 and the sums ``y`` (n_train,) int64.
    """
    n_train = check_positive_int("n_train", n_train)
    max_card = check_positive_int("max_card", max_card)
    max_digit = check_positive_int("max_digit", max_digit)
    rng = as_generator(seed)
    cards = rng.integers(1, max_card + 1, size=n_train)  # (n,)
    digits = rng.integers(1, max_digit + 1, size=(n_train, max_card))  # (n, max_card)
    # a set of c digits keeps its last c columns: padding only on the left
    keep = np.arange(max_card) >= (max_card - cards)[:, None]  # (n, max_card)
    X = np.where(keep, digits, PAD).astype(np.int64)
    return X, X.sum(axis=1)


def create_test_dataset(
    n_per_card: int = 10_000,
    cards: Iterable[int] = HANDOUT_CARDS,
    max_digit: int = 10,
    seed: int | np.random.Generator = 1,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Task 2: ``n_per_card`` unpadded sets of each size in ``cards`` (5, 10, ..., 100).

    Returns two lists in the order of ``cards``: arrays ``X[i]`` of shape
    (n_per_card, cards[i]) int64 and their sums ``y[i]`` of shape (n_per_card,).
    """
    n_per_card = check_positive_int("n_per_card", n_per_card)
    cards = [check_positive_int("cards", c) for c in cards]
    if not cards:
        raise ValueError("cards is empty; give at least one test set size")
    max_digit = check_positive_int("max_digit", max_digit)
    rng = as_generator(seed)
    X = [rng.integers(1, max_digit + 1, size=(n_per_card, c), dtype=np.int64) for c in cards]
    return X, [x.sum(axis=1) for x in X]


def set_sizes(X: np.ndarray) -> np.ndarray:
    """How many digits each (possibly padded) set holds."""
    return (X != PAD).sum(axis=1)


def distinct_digits(X: np.ndarray) -> np.ndarray:
    """How many different digits each set holds (Janossy pooling's unique count)."""
    ordered = np.sort(X, axis=1)
    changes = (np.diff(ordered, axis=1) != 0).sum(axis=1) + 1  # distinct values, pad included
    return changes - (ordered[:, 0] == PAD)


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


def image_sums(X: np.ndarray) -> np.ndarray:
    """The sum of the digits shown by each set of image tokens (padding counts 0)."""
    labels = np.concatenate([[0], digit_images()[1]])  # token -> digit shown
    return labels[X].sum(axis=1)


#: The set functions to learn: each maps sets (n, N) to integer targets (n,).
TASKS = {
    "sum": lambda X: X.sum(axis=1),  # the handout's task
    "max": lambda X: X.max(axis=1),  # Set Transformer's max regression
    "unique": distinct_digits,  # Janossy pooling's unique count
    "images": image_sums,  # the DeepSets paper's image sums: sets of handwritten digits
}


def task_targets(task: str, X: np.ndarray) -> np.ndarray:
    """The targets of ``task`` for the sets ``X``."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from " + ", ".join(TASKS))
    return np.asarray(TASKS[task](X), dtype=np.int64)
