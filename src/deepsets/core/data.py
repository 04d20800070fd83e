"""The data of the handout (section 2.1, tasks 1 and 2) and of the other set tasks.

A sample is a multiset of elements and its target is a function of the set
(``tasks.TASKS``): the sum of its digits in the handout. Elements are tokens:
digits 1..10, or for the ``images`` task indices of handwritten digit images.
Token 0 means padding: training sets are left-padded with zeros to a common
length so they can be batched; test sets are unpadded, one array per set size.

Sets of real vectors (``tasks.Elements.draw``) are drawn by their task's own generator,
a size at a time; their sizes count in units of ``Task.scale`` elements. Their training
sets are left-padded with zeros, and which rows are real is told apart from the values,
by each set's length (``VectorSets``): a zero vector is a real element.

``create_train_dataset`` and ``create_test_dataset`` are the only generators.
The lab calls the second once per chunk of rows with one shared generator, so
test sets of 10,000 digits never have to sit in memory all at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from deepsets.core.checks import check_positive_int, check_seed
from deepsets.core.tasks import PAD, Task, get_task

#: Handout section 2.1: test sets of 5, 10, ..., 100 digits.
HANDOUT_CARDS = tuple(range(5, 101, 5))


class VectorSets(NamedTuple):
    """Sets of vectors of several sizes in one array: ``values`` (n, N, dim) float32, set i
    the last ``lengths[i]`` rows of ``values[i]``, the rows before it zero."""

    values: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:  # the number of sets, as for an array of tokens
        return len(self.values)


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
    *,
    task: str = "sum",
    pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Task 1: ``n_train`` sets of 1..max_card digits, left zero-padded to ``max_card``.

    Each set's size is uniform on 1..max_card and each digit uniform on
    1..max_digit, so ``{4, 5, 1, 7, 5}`` becomes ``[0, 0, 0, 0, 0, 4, 5, 1, 7, 5]``.
    ``pool`` draws the elements from these tokens instead (``element_pool``);
    ``task`` chooses the targets (``tasks.TASKS``). Returns ``X`` (n_train, max_card)
    int64 and the targets ``y`` (n_train,): the sums by default, int64 for a task of
    whole numbers, else float64. A task of vectors gives ``X`` as ``VectorSets`` of
    1..max_card units of ``Task.scale`` elements (``max_digit`` unused).
    """
    n_train = check_positive_int("n_train", n_train)
    max_card = check_positive_int("max_card", max_card)
    max_digit = check_positive_int("max_digit", max_digit)
    rng = as_generator(seed)
    if get_task(task).elements.form == "vectors":
        return vector_train_sets(get_task(task), n_train, max_card, rng)
    cards = rng.integers(1, max_card + 1, size=n_train)  # (n,)
    values = rng.integers(1, pool_size(max_digit, pool) + 1, size=(n_train, max_card))
    # a set of c elements keeps its last c columns: padding only on the left
    keep = np.arange(max_card) >= (max_card - cards)[:, None]  # (n, max_card)
    X = from_pool(np.where(keep, values, PAD).astype(np.int64), pool)
    return X, get_task(task).targets(X)


def create_test_dataset(
    n_per_card: int = 10_000,
    cards: Iterable[int] = HANDOUT_CARDS,
    max_digit: int = 10,
    seed: int | np.random.Generator = 1,
    *,
    task: str = "sum",
    pool: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Task 2: ``n_per_card`` unpadded sets of each size in ``cards`` (5, 10, ..., 100).

    Returns two lists in the order of ``cards``: arrays ``X[i]`` of shape
    (n_per_card, cards[i]) int64 and their targets ``y[i]`` of shape
    (n_per_card,). Each size is one draw from ``seed``, so calling this once
    per size (or per chunk of rows) with the same Generator gives the same sets.
    """
    n_per_card = check_positive_int("n_per_card", n_per_card)
    cards = [check_positive_int("cards", c) for c in cards]
    if not cards:
        raise ValueError("cards is empty; give at least one test set size")
    high = pool_size(check_positive_int("max_digit", max_digit), pool)
    rng = as_generator(seed)
    if get_task(task).elements.form == "vectors":  # sizes in units of the scale
        drawn = [get_task(task).draw(rng, n_per_card, size)
                 for size in get_task(task).sizes(cards)]
        return [X for X, _ in drawn], [y for _, y in drawn]
    X = [from_pool(rng.integers(1, high + 1, size=(n_per_card, c), dtype=np.int64), pool)
         for c in cards]
    return X, [get_task(task).targets(x) for x in X]


#: A test chunk's numbers: tokens, vectors. A vector chunk's generation holds float64
#: temporaries of several times its size, and its chunks come and go in the allocator's
#: arenas: 1 << 22 keeps 10,000 clouds of 1,600 points at 445-801 MiB peak, against 1,826 MiB
#: at the tokens' 1 << 24 (docs/vectors/README.md).
CHUNK_NUMBERS = (1 << 24, 1 << 22)


def chunked_test_sets(
    card: int, n_per_card: int, max_digit: int, rng: np.random.Generator, *,
    task: str = "sum", pool: np.ndarray | None = None, max_tokens: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The ``n_per_card`` test sets of one size from ``create_test_dataset``, in chunks of
    at most ``max_tokens`` elements (at least one set each; vectors: numbers), drawn from
    ``rng`` in turn. By default ``CHUNK_NUMBERS`` of the task's kind of elements."""
    kind = get_task(task)
    max_tokens = max_tokens or CHUNK_NUMBERS[kind.elements.form == "vectors"]
    rows = max(1, max_tokens // (card * numbers_per_element(kind)))
    for start in range(0, n_per_card, rows):
        (X,), (y,) = create_test_dataset(min(rows, n_per_card - start), [card], max_digit,
                                         rng, task=task, pool=pool)
        yield X, y


def free_padding(X: np.ndarray, max_pads: int,
                 seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The sets of ``X`` with a number of pad tokens that is independent of their size.

    Each left-padded set of ``X`` (n, N) keeps its elements and gets 0..max_pads pad
    tokens, drawn uniformly. Returns the sets left-padded to N + max_pads columns and
    each set's length (its elements and its own pads): the set is the last ``length``
    columns. In ``X`` itself a set of c elements always has N - c pads, so the pad
    count tells the set size.
    """
    max_pads = check_positive_int("max_pads", max_pads)
    rng = as_generator(seed)
    pads = rng.integers(0, max_pads + 1, size=len(X))  # (n,)
    wide = np.concatenate([np.full((len(X), max_pads), PAD, dtype=X.dtype), X], axis=1)
    return wide, set_sizes(X) + pads


def numbers_per_element(task: Task) -> int:
    """How much of a chunk one unit of set size takes: 1 token, or scale x dim numbers."""
    return 1 if task.elements.form == "tokens" else task.scale * task.elements.vocabulary(0)


def vector_train_sets(task: Task, n_train: int, max_card: int,
                      rng: np.random.Generator) -> tuple[VectorSets, np.ndarray]:
    """``n_train`` sets of 1..max_card units of ``task.scale`` vectors, uniformly, each
    size's sets drawn together in increasing order of size, left-padded with zeros."""
    cards = rng.integers(1, max_card + 1, size=n_train)  # (n,)
    lengths = cards * task.scale
    X = np.zeros((n_train, max_card * task.scale, task.elements.vocabulary(0)), np.float32)
    y = np.zeros(n_train, dtype=task.dtype)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        X[rows, X.shape[1] - length:], y[rows] = task.draw(rng, len(rows), int(length))
    return VectorSets(X, lengths), y


def set_sizes(X: np.ndarray) -> np.ndarray:
    """How many elements (non-pad tokens) each set holds: (n, N) -> (n,)."""
    return (X != PAD).sum(axis=1)


def pool_size(max_digit: int, pool: np.ndarray | None) -> int:
    """How many distinct elements a set draws from."""
    return max_digit if pool is None else len(pool)


def from_pool(X: np.ndarray, pool: np.ndarray | None) -> np.ndarray:
    """Map drawn values 1..len(pool) to the pool's tokens (padding stays 0)."""
    return X if pool is None else np.concatenate([[PAD], pool])[X]


def element_pool(task: str, split: str) -> np.ndarray | None:
    """The tokens a task's sets are drawn from in ``split`` (train or test): None for the
    digits 1..max_digit (``tasks.Elements``)."""
    return get_task(task).elements.pool(split)
