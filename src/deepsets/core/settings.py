"""The settings of a lab run (``LabConfig``) and of a sweep (``CompareConfig``), both built
from one table, ``SETTINGS`` (``settings_table.py``): each setting's default (the
handout's), its check, how a flag reads it and its help. The presets (``QUICK``, ``SWEEP``,
``HANDOUT``, ``LAF_PROTOCOL``) live here. A bad value raises ``ValueError`` naming the
setting, the value and what is allowed, before any work starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from deepsets.core.choices import check_fit
from deepsets.core.data import HANDOUT_CARDS
from deepsets.core.models import (
    PART_DEFAULTS,
    SPECS,
    constructor_args,
    parts_of,
    readout_of,
    spec,
    with_readout,
)
from deepsets.core.recipes import RECIPES, Recipe
from deepsets.core.settings_table import SETTINGS, setting
from deepsets.core.tasks import SUITES, TASKS


def differences(stored: dict, given: Settings, skip: Sequence[str] = ()) -> dict[str, tuple]:
    """``{setting: (stored, given)}`` for each setting that changes the numbers and differs
    from ``stored`` (as a file holds them: one it lacks, written before the setting was
    one, has its default), ``skip`` aside."""
    defaults = given.__class__().to_dict() if stored.keys() < given.to_dict().keys() else {}
    stored = {**defaults, **stored}
    return {k: (stored.get(k), v) for k, v in given.to_dict().items()
            if k not in skip and not SETTINGS[k].speed_only and stored.get(k) != v}


class Settings:
    """What a lab's and a sweep's settings share: checks, presets, dicts, differences."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, SETTINGS[f.name].check(f.name,
                                                                   getattr(self, f.name)))

    def preset(self, name: str):
        """These settings with preset ``name`` (``PRESETS``) over them."""
        return replace(self, **self.PRESETS[name])

    def quick(self):
        """A tiny preset of the same pipeline that finishes in seconds (smoke tests)."""
        return self.preset("quick")

    def to_dict(self) -> dict:
        """Plain JSON-able settings (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict):
        """Settings read back from a file; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)

    def differences(self, other) -> dict[str, tuple]:
        """``{field: (mine, theirs)}`` for every setting that changes the numbers."""
        return differences(self.to_dict(), other)

    def same_results_as(self, other) -> bool:
        """Whether two settings must give the same numbers (the device aside)."""
        return not self.differences(other)


#: A sweep's own defaults over the handout's: each run has the handout's set sizes, model
#: sizes and optimizer, but a fifth of the training sets and half the epochs, so that 72
#: runs fit in minutes on 2 cores; DeepSets trains the exact way.
SWEEP = {"epochs": 10, "n_train": 20_000, "n_per_card": 1_000, "recipe": "exact"}
#: ``--preset handout``: every run of a sweep at the handout's full settings.
HANDOUT = {k: SETTINGS[k].default for k in ("n_train", "epochs", "n_per_card")}
#: ``--preset laf``: the LAF paper's protocol, every function over digits and images at the
#: handout's full settings: 100,000 training sets of at most 10 elements, test sizes 5 to 50
#: as published, then on to 100.
LAF_PROTOCOL = {"tasks": SUITES["laf"], **HANDOUT, "cards": HANDOUT_CARDS}
#: ``--quick``: the same pipeline in seconds, for a lab run and for a sweep.
QUICK = {
    "lab": {"n_train": 10_000, "epochs": 2, "n_per_card": 200, "cards": (5, 10, 20, 50)},
    "sweep": {"seeds": 2, "epochs": 1, "n_train": 2_000, "n_per_card": 100,
              "cards": (5, 10, 20)},
}


@dataclass(frozen=True)
class LabConfig(Settings):
    """Everything that decides the numbers of one lab run; the defaults are the handout's."""

    seed: int = setting("seed")
    task: str = setting("task")
    # data (handout section 2.1, tasks 1-2)
    n_train: int = setting("n_train")
    max_card: int = setting("max_card")
    max_digit: int = setting("max_digit")
    n_per_card: int = setting("n_per_card")
    cards: tuple[int, ...] = setting("cards")
    # models (tasks 3-4), in the order they are trained
    models: tuple[str, ...] = setting("models")
    recipe: str = setting("recipe")
    embedding_dim: int = setting("embedding_dim")
    hidden_dim: int = setting("hidden_dim")
    # training (task 5)
    epochs: int = setting("epochs")
    batch_size: int = setting("batch_size")
    lr: float = setting("lr")
    # evaluation (task 6); changes speed and memory, not results
    eval_batch_tokens: int = setting("eval_batch_tokens")
    device: str = setting("device")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"quick": QUICK["lab"]}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fit(self.models, (self.task,))

    @property
    def sizes(self) -> tuple[int, ...]:
        """The test sizes in elements (``cards`` in units of the task's ``scale``)."""
        return TASKS[self.task].sizes(self.cards)

    @property
    def max_size(self) -> int:
        """The largest training set, in elements."""
        return TASKS[self.task].sizes([self.max_card])[0]

    def recipe_for(self, name: str) -> Recipe:
        """The switches model ``name`` trains with: the run's recipe as it applies on its
        task, for a model the recipe trains (``ModelSpec.recipes``: DeepSets, of any
        parts), its refit only where rho is a linear layer over a sum (the layer it solves
        for); else the handout's."""
        if not spec(name).recipes:
            return RECIPES[SETTINGS["recipe"].default]
        recipe = RECIPES[self.recipe].on(self.task, TASKS[self.task].elements.inputs)
        parts = parts_of(name) or PART_DEFAULTS
        return recipe if (parts["pooling"], parts["rho"]) == ("sum", "linear") else \
            replace(recipe, refit=False)

    def schedule(self, name: str) -> str:
        """The learning-rate schedule model ``name`` trains with (``train.SCHEDULES``)."""
        return self.recipe_for(name).schedule

    def padding(self, name: str) -> str:
        """How model ``name``'s training sets are padded: ``left`` to max_card tokens (the
        handout), ``free`` (0..max_card pad tokens a set, whatever its size) or ``none``.
        Vectors have no pad token: every model trains on them in batches of one size."""
        if TASKS[self.task].elements.form == "vectors":
            return "none"
        return "free" if self.recipe_for(name).free_pads else spec(name).padding

    def model_args(self, name: str) -> dict:
        """The constructor arguments of model ``name`` in this run."""
        elements = TASKS[self.task].elements
        args = {"input_dim": elements.vocabulary(self.max_digit),
                "embedding_dim": self.embedding_dim, "hidden_dim": self.hidden_dim,
                "inputs": elements.inputs, **spec(name).args}
        if TASKS[self.task].outputs > 1:  # a logit per class
            args["outputs"] = TASKS[self.task].outputs
        if spec(name).recipes:
            recipe = self.recipe_for(name)
            args["mask_padding"] = recipe.mask_padding
            if recipe.deform:  # an argument only when on: older checkpoints
                args["deform"] = True
        if "max_elements" in inspect.signature(spec(name).cls).parameters:
            args["max_elements"] = self.max_size  # a pooling built for at most this many
        return constructor_args(name, args)


@dataclass(frozen=True)
class CompareConfig(Settings):
    """A sweep of tasks x models x seeds, each run a lab run of one model."""

    tasks: tuple[str, ...] = setting("tasks")
    #: each of our built-in models once, trained the handout's way (no other regime)
    models: tuple[str, ...] = setting(
        "models", tuple(name for name, s in SPECS.items()
                        if s.family == "ours" and s.padding == "left"))
    readouts: tuple[str, ...] = setting("readouts")
    seeds: int = setting("seeds")
    epochs: int = setting("epochs", SWEEP["epochs"])
    n_train: int = setting("n_train", SWEEP["n_train"])
    n_per_card: int = setting("n_per_card", SWEEP["n_per_card"])
    cards: tuple[int, ...] = setting("cards")
    recipe: str = setting("recipe", SWEEP["recipe"])
    device: str = setting("device")
    max_card: int = setting("max_card")
    max_digit: int = setting("max_digit")
    embedding_dim: int = setting("embedding_dim")
    hidden_dim: int = setting("hidden_dim")
    batch_size: int = setting("batch_size")
    lr: float = setting("lr")

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"quick": QUICK["sweep"],
                                                     "handout": HANDOUT, "laf": LAF_PROTOCOL}
    #: Which runs a sweep holds, not how each runs (a folder's may change: ``prepare_sweep``)
    GRID: ClassVar[tuple[str, ...]] = ("tasks", "models", "readouts", "seeds")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fit(self.all_models, self.tasks)
        if self.readouts and not any(readout_of(m) for m in self.models):
            raise ValueError(f"readouts={','.join(self.readouts)}: none of the models "
                             "has a readout to choose (deepsets-*, pyg-*, lstm, gru have)")

    @property
    def all_models(self) -> tuple[str, ...]:
        """Every model the sweep runs: each of ``models`` with each of ``readouts``
        (``models.with_readout``), once; a model without a readout, or a sweep without
        readouts, as named."""
        if not self.readouts:
            return self.models
        return tuple(dict.fromkeys(with_readout(m, r) for m in self.models
                                   for r in self.readouts))

    def handout(self) -> CompareConfig:
        """Every run at the handout's full settings."""
        return self.preset("handout")

    def runs(self) -> list[LabConfig]:
        """One lab configuration per (task, model, seed); the others are this sweep's."""
        shared = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name in {g.name for g in fields(LabConfig)}}
        return [LabConfig(**{**shared, "task": task, "models": (model,), "seed": seed,
                             "recipe": self.recipe if spec(model).recipes
                             else SETTINGS["recipe"].default})
                for task in self.tasks for model in self.all_models
                for seed in range(self.seeds)]
