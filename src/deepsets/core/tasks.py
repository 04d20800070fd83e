"""The set functions to learn, one entry each in ``TASKS``: where a task's elements come
from, its target (a function of ``setfunctions.FUNCTIONS`` on the numbers the elements
stand for), whether the target is a whole number, and so how it is scored.

A new task is one entry here (and its tests): the generators, the models' inputs, the
scores and the titles all read it. Tasks come in suites: ``default`` (the sweep's four)
and ``laf`` (the LAF paper's functions and the unique count, over digits and over images).

How a prediction is scored (docs/benchmark.md): a whole-number target by accuracy after
rounding and MAE, a real one by MAE alone. A model *meets* a task at a test size when its
accuracy there is at least ``ACCURACY_BAR`` (whole targets), or its MAE at most
``ERROR_FRACTION`` of the constant guess's (real targets): the guess is the training
targets' mean, the best a model can do that ignores the set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepsets.core.setfunctions import FUNCTIONS, SetFunction

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
    #: the number each token stands for (n, N) -> (n, N): a digit, or the digit an image
    #: shows; padding stands for 0
    values: Callable[[np.ndarray], np.ndarray]
    words: str  # "digits": a task's title is "Sum of digits"


def shown_digits(X: np.ndarray) -> np.ndarray:
    """The digit each image token shows (padding: 0)."""
    return np.concatenate([[0], digit_images()[1]])[X]


DIGITS = Elements("tokens", lambda split: None, lambda max_digit: max_digit + 1,
                  lambda X: X, "digits")
#: Held-out test images: a test set never holds an image seen in training.
IMAGES = Elements("images", image_tokens, lambda max_digit: len(digit_images()[1]) + 1,
                  shown_digits, "digit images")

#: Whole-number targets: a model meets the task at a size where this share of its rounded
#: predictions is exact.
ACCURACY_BAR = 0.9
#: Real targets: a model meets the task at a size where its MAE is at most this fraction
#: of the constant guess's MAE there.
ERROR_FRACTION = 0.25


@dataclass(frozen=True)
class Task:
    """One set function on one kind of element: sets of tokens (n, N) -> targets (n,)."""

    elements: Elements
    function: SetFunction
    title: str = ""  # the report's and the figures' title (default: "Sum of digits")
    about: str = ""  # a few words for --help

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title",
                               f"{self.function.title} of {self.elements.words}")

    @property
    def whole(self) -> bool:
        """Whole-number targets: scored by accuracy after rounding, and MAE."""
        return self.function.whole

    @property
    def metrics(self) -> tuple[str, ...]:
        """What a prediction is scored by: accuracy after rounding only for whole numbers."""
        return ("acc", "mae") if self.whole else ("mae",)

    @property
    def criterion(self) -> str:
        """When a model meets the task at a test size, in words."""
        return (f"accuracy >= {ACCURACY_BAR:.0%}" if self.whole else
                f"MAE <= {ERROR_FRACTION:g} x the constant guess's")

    def meets(self, acc: float | None, mae: float | None, guess_mae: float | None) -> bool:
        """Whether scores at one size meet the task's criterion (``criterion``); a missing
        score (a size the model does not apply to) does not."""
        if self.whole:
            return acc is not None and acc >= ACCURACY_BAR
        return mae is not None and guess_mae is not None and mae <= ERROR_FRACTION * guess_mae

    def target(self, X: np.ndarray) -> np.ndarray:
        return self.function.compute(self.elements.values(X), X != PAD)

    def targets(self, X: np.ndarray) -> np.ndarray:
        """The targets of the sets ``X``: int64 for whole numbers, else float64."""
        return np.asarray(self.target(X), dtype=np.int64 if self.whole else np.float64)


#: The default sweep's four first, as they were; then the LAF suite's others.
TASKS: dict[str, Task] = {
    "sum": Task(DIGITS, FUNCTIONS["sum"], about="the handout"),
    "max": Task(DIGITS, FUNCTIONS["max"], "Largest digit"),  # Set Transformer's
    "unique": Task(DIGITS, FUNCTIONS["unique"], "Number of distinct digits"),  # Janossy's
    # the DeepSets paper's image sums: sets of handwritten digits
    "images": Task(IMAGES, FUNCTIONS["sum"], "Sum of digit images",
                   about="sums of handwritten digit images"),
}


def laf_name(prefix: str, function: str) -> str:
    """A LAF task's name: the function over digits, ``images-<function>`` over images
    (``images`` is the image sum)."""
    return "images" if prefix + function == "images-sum" else prefix + function


#: The LAF suite: each function over digits, then each over images.
LAF = tuple(laf_name(prefix, f) for prefix in ("", "images-") for f in FUNCTIONS)
TASKS.update({name: Task(IMAGES if name.startswith("images") else DIGITS,
                         FUNCTIONS[name.removeprefix("images-")])
              for name in LAF if name not in TASKS})
#: Each suite's tasks, by the name ``--tasks`` takes for all of them.
SUITES: dict[str, tuple[str, ...]] = {"default": ("sum", "max", "unique", "images"),
                                      "laf": LAF}


def get_task(name: str) -> Task:
    """The task ``name``; an unknown name is a ValueError listing the tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose from " + ", ".join(TASKS))
    return TASKS[name]
