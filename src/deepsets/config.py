"""Settings of the lab, with the handout's values as defaults.

Every field is validated in ``__post_init__``: a bad value raises ``ValueError``
naming the field, the value and what is allowed, before any work starts.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

#: Handout section 2.1: test sets of 5, 10, ..., 100 digits.
HANDOUT_CARDS = tuple(range(5, 101, 5))
#: The models of the handout (tasks 3 and 4), in the order they are trained.
HANDOUT_MODELS = ("deepsets", "lstm")
DEVICES = ("cpu", "cuda", "auto")
#: How DeepSets is trained. ``handout`` is the handout, unchanged. The others
#: keep its data, sizes and optimizer and change one thing each (issue 3):
RECIPES = {
    "handout": "the handout as written: pad tokens add phi(0), output layer from Adam",
    "masked": "pad tokens add nothing (phi(PAD) = 0)",
    "refit": "after Adam, the output layer is refit by least squares on the training sets",
    "exact": "masked + refit: the output layer solves the sum exactly",
}


@dataclass(frozen=True)
class LabConfig:
    """Everything that decides the numbers of one lab run."""

    seed: int = 0  # derives every generator: data, weight init, shuffling
    task: str = "sum"  # the set function: sum (the handout), max, unique or images (sums)
    # data (handout section 2.1, tasks 1-2)
    n_train: int = 100_000  # training sets
    max_card: int = 10  # training sets hold 1..max_card digits, left-padded to max_card
    max_digit: int = 10  # digits are drawn uniformly from 1..max_digit; 0 is padding
    n_per_card: int = 10_000  # test sets per test size
    cards: tuple[int, ...] = HANDOUT_CARDS  # test set sizes
    # models (tasks 3-4)
    models: tuple[str, ...] = HANDOUT_MODELS  # which models to train, in order
    recipe: str = "handout"  # how DeepSets is trained, one of RECIPES
    embedding_dim: int = 128  # h1: size of each digit's embedding
    hidden_dim: int = 64  # h2: DeepSets hidden units / LSTM hidden state
    # training (task 5)
    epochs: int = 20  # passes over the training set
    batch_size: int = 64  # training sets per optimizer step
    lr: float = 1e-3  # Adam learning rate
    # evaluation (task 6); changes speed and memory, not results
    eval_batch_tokens: int = 1 << 14  # digits per evaluation batch
    device: str = "cpu"  # cpu, cuda or auto (cuda when available)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cards", as_tuple("cards", self.cards))
        object.__setattr__(self, "models", as_tuple("models", self.models))
        for name in ("n_train", "max_card", "max_digit", "n_per_card", "embedding_dim",
                     "hidden_dim", "epochs", "batch_size", "eval_batch_tokens"):
            check_positive_int(name, getattr(self, name))
        check_seed(self.seed)
        if not self.cards:
            raise ValueError("cards is empty; give at least one test set size")
        for card in self.cards:
            check_positive_int("cards", card)
        if len(set(self.cards)) != len(self.cards):
            raise ValueError(f"cards={list(self.cards)} repeats a size; give each size once")
        from deepsets.models import MODELS  # late import: models imports torch

        if not self.models:
            raise ValueError("models is empty; choose from " + ", ".join(MODELS))
        for model in self.models:
            if not isinstance(model, str) or model not in MODELS:
                raise ValueError(f"models: unknown model {model!r}; choose from "
                                 + ", ".join(MODELS))
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models={list(self.models)} repeats a model")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) \
                or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(f"lr={self.lr!r} is not allowed; use a finite number > 0")
        from deepsets.data import TASKS

        if not isinstance(self.task, str) or self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not allowed; use one of "
                             + ", ".join(TASKS))
        if not isinstance(self.recipe, str) or self.recipe not in RECIPES:
            raise ValueError(f"recipe={self.recipe!r} is not allowed; use one of "
                             + ", ".join(RECIPES))
        if not isinstance(self.device, str) or self.device not in DEVICES:
            raise ValueError(f"device={self.device!r} is not allowed; use one of "
                             + ", ".join(DEVICES))

    def to_dict(self) -> dict:
        """Plain JSON-able settings (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> LabConfig:
        """Settings read back from ``config.json``; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)

    def quick(self) -> LabConfig:
        """A tiny preset of the same pipeline that finishes in seconds (smoke tests)."""
        return replace(self, n_train=10_000, n_per_card=200, epochs=2, cards=(5, 10, 20, 50))

    @property
    def mask_padding(self) -> bool:
        """Whether DeepSets ignores pad tokens (recipes masked and exact)."""
        return self.recipe in ("masked", "exact")

    @property
    def refit(self) -> bool:
        """Whether DeepSets' output layer is refit in closed form after training."""
        return self.recipe in ("refit", "exact")

    def same_results_as(self, other: LabConfig) -> bool:
        """Whether two configs must give the same numbers (the device aside)."""
        mine, theirs = self.to_dict(), other.to_dict()
        for key in ("device", "eval_batch_tokens"):
            mine.pop(key), theirs.pop(key)
        return mine == theirs


def as_tuple(name: str, value: object) -> tuple:
    """A list or tuple setting as a tuple; anything else is a ValueError naming it."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name}={value!r} is not allowed; use a list")
    return tuple(value)


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; use a whole number >= 1")
    return int(value)


def check_seed(seed: object) -> int:
    """Return ``seed`` if it can seed numpy and torch (an int in 0..2**63-1)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2**63:
        raise ValueError(f"seed={seed!r} is not allowed; use a whole number in 0..2**63-1")
    return int(seed)


def derive_seed(seed: int, *keys: str | int) -> int:
    """An independent 63-bit seed for one purpose, e.g. ``derive_seed(0, "lstm", "init")``.

    One config seed derives every generator, so runs are reproducible, and
    different purposes never share a stream of random numbers.
    """
    words = [check_seed(seed)] + [
        k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys
    ]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> 1)
