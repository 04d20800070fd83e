"""The set functions to learn, one entry each in ``TASKS``: where a task's elements come
from, its target (a function of ``setfunctions.FUNCTIONS`` on the numbers the elements
stand for), whether the target is a whole number, and so how it is scored.

A new task is one entry here (and its tests): the generators, the models' inputs, the
scores and the titles all read it. Tasks come in suites: ``default`` (the sweep's four),
``laf`` (the LAF paper's functions and the unique count, over digits and over images),
``reals`` (the LAF functions over reals), ``mnist`` (the same functions over MNIST's
images, from the ``mnist`` extra) and ``vectors`` (the field's continuous tasks).

Elements are tokens (digits, or indices of images: scikit-learn's 8x8 or MNIST's) or real
vectors (``core/vectors.py``): a vector task's elements come with their own generator
(``Elements.draw``), and its set sizes count in units of ``Task.scale`` elements (a
population statistic needs hundreds of samples where a sum needs ten digits).

How a prediction is scored (docs/benchmark.md): a whole-number target by accuracy after
rounding and MAE, a real one by MAE alone, a class by accuracy. A model *meets* a task at a
test size when its accuracy there is at least ``ACCURACY_BAR`` (whole targets, classes), or
its MAE at most ``ERROR_FRACTION`` of the constant guess's (real targets): the guess is the
training targets' mean, the best a model can do that ignores the set. A task with a
reference estimator (``Task.estimator``: the statistician's plug-in estimate of T1 and T2)
is met where a model's MAE is within ``ESTIMATE_FACTOR`` of that estimate's, and below the
guess's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from deepsets.core import mnist, vectors
from deepsets.core.checks import did_you_mean
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

    #: what a model embeds: "tokens" (digit tokens), "images" (scikit-learn's pixels),
    #: "mnist" (MNIST's pixels), or "vectors"
    inputs: str
    #: the tokens a set draws from in a split (train or test); None: the digits 1..max_digit
    pool: Callable[[str], np.ndarray | None]
    #: how many tokens a model embeds, padding included, given max_digit; for vectors their
    #: dimension
    vocabulary: Callable[[int], int]
    #: the number each element stands for (n, N) -> (n, N): a digit, the digit an image
    #: shows (padding stands for 0), or a real
    values: Callable[[np.ndarray], np.ndarray]
    words: str  # "digits": a task's title is "Sum of digits"
    #: vectors: (rng, n, size) -> sets (n, size, dim) float32 and their targets, or None
    #: where the target is the task's function of the values (``core/vectors.py``)
    draw: Callable[[np.random.Generator, int, int], vectors.Draw] | None = None
    #: raises ValueError (one line: how to install it) where the elements are not here
    available: Callable[[], object] | None = None

    @property
    def form(self) -> str:
        """How a batch of these sets looks: ``tokens`` (B, N) integers, 0 the padding (digits
        and images), or ``vectors`` (B, N, dim) floats with a mask of the real elements."""
        return "vectors" if self.inputs == "vectors" else "tokens"


def vector_elements(dim: int, draw: Callable, words: str) -> Elements:
    """Real vectors of ``dim`` coordinates, from ``draw``; a value is the first coordinate."""
    return Elements("vectors", lambda split: None, lambda max_digit: dim,
                    lambda X: X[..., 0].astype(np.float64), words, draw)


def shown_digits(X: np.ndarray) -> np.ndarray:
    """The digit each image token shows (padding: 0)."""
    return np.concatenate([[0], digit_images()[1]])[X]


def mnist_tokens(split: str) -> np.ndarray:
    """The tokens of MNIST's training or test images: image i of the training split is
    token i + 1, image i of the test split token 60,001 + i (``mnist.pixels``' rows)."""
    first = 1 if split == "train" else mnist.N_IMAGES["train"] + 1
    return np.arange(first, first + mnist.N_IMAGES[split])


def shown_mnist(X: np.ndarray) -> np.ndarray:
    """The digit each MNIST token shows (padding: 0)."""
    return mnist.labels()[X]


DIGITS = Elements("tokens", lambda split: None, lambda max_digit: max_digit + 1,
                  lambda X: X, "digits")
#: Held-out test images: a test set never holds an image seen in training.
IMAGES = Elements("images", image_tokens, lambda max_digit: len(digit_images()[1]) + 1,
                  shown_digits, "digit images")
#: MNIST (``core/mnist.py``): training sets draw from its 60,000 training images, test sets
#: from its 10,000 test images.
MNIST = Elements("mnist", mnist_tokens, lambda max_digit: mnist.VOCABULARY, shown_mnist,
                 "MNIST digits", available=mnist.archive)
REALS = vector_elements(1, vectors.reals, "reals")

#: Whole-number targets: a model meets the task at a size where this share of its rounded
#: predictions is exact.
ACCURACY_BAR = 0.9
#: Real targets: a model meets the task at a size where its MAE is at most this fraction
#: of the constant guess's MAE there.
ERROR_FRACTION = 0.25
#: Tasks with a reference estimator: a model meets the task at a size where its MAE is at
#: most this multiple of the estimator's there (and below the constant guess's). The
#: estimate's error falls as 1/sqrt(N), so twice its error is what it makes of a quarter of
#: the samples.
ESTIMATE_FACTOR = 2.0


@dataclass(frozen=True)
class Task:
    """What to learn of a set: a set function of its elements' numbers (sets (n, N) ->
    targets (n,)), or for vectors a target drawn with the set (a class, a parameter of
    the distribution it samples)."""

    elements: Elements
    function: SetFunction | None  # None: the target comes with the draw (``Elements.draw``)
    title: str = ""  # the report's and the figures' title (default: "Sum of digits")
    about: str = ""  # a few words for --help
    classes: tuple[str, ...] = ()  # a classification's classes; () for a regression
    #: a set of size c holds c x scale elements (vectors: the sizes of settings and flags
    #: count in these units; results count elements)
    scale: int = 1
    #: the statistician's estimate of the target from the set's own samples (n, N, D) ->
    #: (n,), scored beside the models (``results.ESTIMATE``) as the criterion's yardstick
    estimator: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if not self.title:
            object.__setattr__(self, "title",
                               f"{self.function.title} of {self.elements.words}")

    @property
    def whole(self) -> bool:
        """Whole-number targets: scored by accuracy after rounding, and MAE."""
        if self.function is None:
            return False
        return self.function.counts or (self.function.whole and self.elements.form == "tokens")

    @property
    def guessed(self) -> bool:
        """Real-valued targets: the constant guess (``results.GUESS``) is scored beside the
        models, the yardstick of the criterion."""
        return not self.whole and not self.classes

    @property
    def loss(self) -> str:
        """What training minimizes (``train.LOSSES``): L1, or cross-entropy over classes."""
        return "cross-entropy" if self.classes else "l1"

    @property
    def outputs(self) -> int:
        """A model's outputs per set: one value, or a logit per class."""
        return len(self.classes) or 1

    @property
    def metrics(self) -> tuple[str, ...]:
        """What a prediction is scored by: accuracy after rounding for whole numbers (and
        MAE), MAE for reals, accuracy for classes."""
        return ("acc",) if self.classes else ("acc", "mae") if self.whole else ("mae",)

    @property
    def criterion(self) -> str:
        """When a model meets the task at a test size, in words."""
        if not self.guessed:
            return f"accuracy >= {ACCURACY_BAR:.0%}"
        if self.estimator is not None:
            return (f"MAE <= {ESTIMATE_FACTOR:g} x the plug-in estimate's, and below the "
                    "constant guess's")
        return f"MAE <= {ERROR_FRACTION:g} x the constant guess's"

    def meets(self, acc: float | None, mae: float | None, guess_mae: float | None,
              estimate_mae: float | None = None) -> bool:
        """Whether scores at one size meet the task's criterion (``criterion``), given the
        constant guess's MAE there and the estimator's (``estimator``); a missing score (a
        size the model does not apply to) does not."""
        if not self.guessed:
            return acc is not None and acc >= ACCURACY_BAR
        if mae is None or guess_mae is None:
            return False
        if self.estimator is None:
            return mae <= ERROR_FRACTION * guess_mae
        return estimate_mae is not None and mae <= ESTIMATE_FACTOR * estimate_mae \
            and mae < guess_mae

    def sizes(self, cards) -> tuple[int, ...]:
        """The element counts of sets of sizes ``cards`` (``scale``)."""
        return tuple(c * self.scale for c in cards)

    def target(self, X: np.ndarray) -> np.ndarray:
        real = X != PAD if self.elements.form == "tokens" else np.ones(X.shape[:2], bool)
        return self.function.compute(self.elements.values(X), real)

    def targets(self, X: np.ndarray) -> np.ndarray:
        """The targets of the sets ``X``: int64 for whole numbers and classes, else
        float64."""
        return self.typed(self.target(X))

    @property
    def dtype(self) -> type:
        """The targets' type: int64 for whole numbers and classes, else float64."""
        return np.int64 if self.whole or self.classes else np.float64

    @property
    def kind(self) -> str:
        """``classes``, ``whole`` or ``real``: what its targets are, in a word."""
        return "classes" if self.classes else "whole" if self.whole else "real"

    def typed(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y, dtype=self.dtype)

    def draw(self, rng: np.random.Generator, n: int, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` sets of ``size`` vectors (n, size, dim) float32 and their targets (n,)."""
        X, drawn = self.elements.draw(rng, n, size)
        return X, self.typed(drawn) if self.function is None else self.targets(X)


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
#: The LAF functions over reals, ``reals-<function>``: all but the unique count (reals
#: drawn from a continuum are all distinct).
REALS_LAF = tuple(f"reals-{f}" for f in FUNCTIONS if f != "unique")
TASKS.update({name: Task(REALS, FUNCTIONS[name.removeprefix("reals-")])
              for name in REALS_LAF})
#: The LAF functions and the unique count over MNIST's images, ``mnist-<function>``.
MNIST_TASKS = tuple(f"mnist-{f}" for f in FUNCTIONS)
TASKS.update({name: Task(MNIST, FUNCTIONS[name.removeprefix("mnist-")]) for name in MNIST_TASKS})
TASKS["mnist-sum"] = replace(TASKS["mnist-sum"], about="DeepSets' image sums, on MNIST")
TASKS["reals-max"] = replace(TASKS["reals-max"], about="Set Transformer's max regression")
#: The field's continuous tasks; the population statistics' sets count 30 samples a unit
#: (training sets of up to 300 at the default 10), the clouds' 10 points.
TASKS.update({
    "gaussian-entropy": Task(vector_elements(2, vectors.gaussian_entropy, "Gaussian samples"),
                             None, "Entropy of a rotated Gaussian's first coordinate",
                             about="DeepSets' population statistic T1", scale=30,
                             estimator=vectors.entropy_estimate),
    "gaussian-mi": Task(vector_elements(vectors.MI_DIM, vectors.gaussian_mi,
                                        "Gaussian samples"),
                        None, "Mutual information of a 16-D Gaussian's halves",
                        about="DeepSets' T2", scale=30, estimator=vectors.mi_estimate),
    "point-clouds": Task(vector_elements(3, vectors.point_clouds, "points"), None,
                         "Shape of a point cloud", about="classification of 8 shapes",
                         classes=tuple(vectors.SHAPES), scale=10),
})
#: DeepSets' image sums (scikit-learn's digits, MNIST's): the lab explains them by q, the
#: share of single images read right.
IMAGE_SUMS = ("images", "mnist-sum")
#: Each suite's tasks, by the name ``--tasks`` takes for all of them.
SUITES: dict[str, tuple[str, ...]] = {
    "default": ("sum", "max", "unique", "images"), "laf": LAF,
    "digits": tuple(laf_name("", f) for f in FUNCTIONS), "reals": REALS_LAF,
    "mnist": MNIST_TASKS,
    "vectors": ("reals-max", "gaussian-entropy", "gaussian-mi", "point-clouds")}
#: Each suite in a few words, for --help.
SUITE_ABOUT = {"default": ", ".join(SUITES["default"]),
               "laf": f"the LAF paper's {len(LAF)}, over digits and images",
               "digits": f"the {len(FUNCTIONS)} over digits",
               "reals": "the LAF functions over reals",
               "mnist": f"the {len(FUNCTIONS)} over MNIST",
               "vectors": ", ".join(SUITES["vectors"])}


def get_task(name: str) -> Task:
    """The task ``name``; an unknown name is a ValueError listing the tasks."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}{did_you_mean(name, TASKS)}; choose from "
                         + ", ".join(TASKS))
    return TASKS[name]
