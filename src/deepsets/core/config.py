"""Settings of the lab, with the handout's values as defaults.

Every field is validated in ``__post_init__``: a bad value raises ``ValueError``
naming the field, the value and what is allowed, before any work starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from deepsets.core.checks import (
    check_choice,
    check_names,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_sizes,
)
from deepsets.core.data import HANDOUT_CARDS, TASKS, vocabulary_size
from deepsets.core.models import MODELS, VARIANTS, constructor_args, is_plugin, model_class

#: The models of the handout (tasks 3 and 4), in the order they are trained.
HANDOUT_MODELS = ("deepsets", "lstm")
DEVICES = ("cpu", "cuda", "auto")
#: How DeepSets is trained. ``handout`` is the handout, unchanged. The others
#: keep its data, sizes and optimizer and change the model, the training sets'
#: padding or the learning rate:
RECIPES = {
    "handout": "the handout as written: pad tokens add phi(0), output layer from Adam",
    "masked": "pad tokens add nothing (phi(PAD) = 0)",
    "refit": "after Adam, the output layer is refit by least squares on the training sets",
    "exact": "masked + refit: the output layer solves the sum exactly (images: masked only)",
    "pads": "each training set gets 0..max_card pad tokens, drawn apart from its size",
    "cosine": "the learning rate decays to zero on a cosine",
    "padded": "pads + cosine: the handout's model unchanged, exact from its data and schedule",
}
#: The models trained on their sets unpadded, in batches of sets of one length.
UNPADDED_MODELS = ("lstm-unpadded",)
#: Every built-in model once, each trained the handout's way: the sweep's default.
ARCHITECTURES = tuple(name for name in MODELS if name not in UNPADDED_MODELS)
#: Settings that change speed and memory but never the numbers.
SPEED_ONLY = ("device", "eval_batch_tokens")


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
        for name in ("n_train", "max_card", "max_digit", "n_per_card", "embedding_dim",
                     "hidden_dim", "epochs", "batch_size", "eval_batch_tokens"):
            check_positive_int(name, getattr(self, name))
        check_seed(self.seed)
        check_positive_float("lr", self.lr)
        object.__setattr__(self, "cards", check_sizes("cards", self.cards))
        object.__setattr__(self, "models", check_models(self.models))
        check_choice("task", self.task, TASKS)
        check_choice("recipe", self.recipe, RECIPES)
        check_choice("device", self.device, DEVICES)

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
        return replace(self, **QUICK)

    def differences(self, other: LabConfig) -> dict[str, tuple]:
        """``{field: (mine, theirs)}`` for every setting that changes the numbers."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine
                if k not in SPEED_ONLY and mine[k] != theirs[k]}

    def same_results_as(self, other: LabConfig) -> bool:
        """Whether two configs must give the same numbers (the device aside)."""
        return not self.differences(other)

    @property
    def mask_padding(self) -> bool:
        """Whether DeepSets ignores pad tokens (recipes masked and exact)."""
        return self.recipe in ("masked", "exact")

    @property
    def refit(self) -> bool:
        """Whether DeepSets' output layer is refit in closed form after training.

        Not on images: the refit fits the training images' own values, and unseen
        images pay for it (docs/recipes.md), so there ``exact`` is ``masked``.
        """
        return self.recipe in ("refit", "exact") and self.task != "images"

    def schedule(self, name: str) -> str:
        """The learning-rate schedule model ``name`` trains with (``train.SCHEDULES``)."""
        if name == "deepsets" and self.recipe in ("cosine", "padded"):
            return "cosine"
        return "constant"

    def padding(self, name: str) -> str:
        """How model ``name``'s training sets are padded: ``left`` to max_card tokens (the
        handout), ``free`` (0..max_card pad tokens a set, whatever its size) or ``none``."""
        if name == "deepsets" and self.recipe in ("pads", "padded"):
            return "free"
        return "none" if name in UNPADDED_MODELS else "left"

    def model_args(self, name: str) -> dict:
        """The constructor arguments of model ``name`` in this run."""
        args = {"input_dim": vocabulary_size(self.task, self.max_digit),
                "embedding_dim": self.embedding_dim, "hidden_dim": self.hidden_dim,
                "inputs": "images" if self.task == "images" else "tokens",
                **VARIANTS.get(name, {})}
        if name == "deepsets":
            args.update(activation="tanh", mask_padding=self.mask_padding)
        return constructor_args(name, args)


def check_models(names: object, field: str = "models") -> tuple[str, ...]:
    """Built-in model names and importable plug-ins (``package.module:ClassName``)."""
    names = check_names(field, names, MODELS, "model", also=is_plugin)
    for name in names:
        model_class(name)  # a plug-in that does not import is an error now, not mid-run
    return names


#: The ``--quick`` preset: the same pipeline in seconds.
QUICK = {"n_train": 10_000, "n_per_card": 200, "epochs": 2, "cards": (5, 10, 20, 50)}
