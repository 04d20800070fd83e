"""The settings table, ``SETTINGS``: each setting of a lab run or a sweep with its default
(the handout's), its check, how a flag reads it and its help; ``LabConfig`` and
``CompareConfig`` (``settings.py``) are made of them, and ``flags.py`` builds every flag from
them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field
from typing import Any

from deepsets.core.checks import (
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_sizes,
    names,
    number,
    sizes,
    whole_number,
)
from deepsets.core.choices import check_models, check_readouts, check_tasks
from deepsets.core.data import HANDOUT_CARDS
from deepsets.core.models import RHOS
from deepsets.core.recipes import RECIPES
from deepsets.core.tasks import SUITE_ABOUT, SUITES, TASKS

DEVICES = ("cpu", "cuda", "auto")


def described(about: dict[str, str]) -> str:
    """``sum (the handout), max, unique, or images (...)``: names with their notes."""
    words = [f"{name} ({note})" if note else name for name, note in about.items()]
    return ", ".join(words[:-1]) + ", or " + words[-1] if len(words) > 1 else words[0]


@dataclass(frozen=True)
class Setting:
    """One setting: its default, its check, how a flag reads it, its help."""

    default: Any
    check: Callable[[str, Any], Any]  # (name, value) -> the value; ValueError if bad
    help: str  # the flag's help; the flag adds the default, read from the config
    parse: Callable[[str], Any] | None = None  # a flag's text -> value; None: no flag
    choices: Sequence[str] | None = None  # a flag of one of these (argparse checks it)
    noun: str = ""  # "training set": a preset's description says "2,000 training sets"
    speed_only: bool = False  # changes speed and memory, never the numbers


def choice(options: Sequence[str]) -> Callable[[str, Any], Any]:
    return lambda name, value: check_choice(name, value, options)


SETTINGS: dict[str, Setting] = {
    "seed": Setting(0, lambda n, v: check_seed(v, n), "derives all randomness",
                    whole_number),
    "seeds": Setting(3, check_positive_int, "seeds per task and model (0..seeds-1)",
                     whole_number, noun="seed"),
    "task": Setting("sum", choice(TASKS), "the set function to learn: "
                    + described({k: TASKS[k].about for k in SUITES["default"]})
                    + "; or one of the LAF suite's, over reals, or of vectors (deepsets "
                    "tasks lists them all)",
                    choices=tuple(TASKS)),
    "tasks": Setting(SUITES["default"], lambda n, v: check_tasks(v, n),
                     "comma-separated tasks (deepsets tasks lists them), or a suite of them: "
                     + "; ".join(f"{k} = {about}" for k, about in SUITE_ABOUT.items()),
                     names),
    "n_train": Setting(100_000, check_positive_int, "training sets of a run", whole_number,
                       noun="training set"),
    "max_card": Setting(10, check_positive_int,
                        "training sets hold 1..max_card digits, left-padded to max_card"),
    "max_digit": Setting(10, check_positive_int,
                         "digits are drawn uniformly from 1..max_digit; 0 is padding"),
    "n_per_card": Setting(10_000, check_positive_int, "test sets per size", whole_number,
                          noun="test set per size"),
    "cards": Setting(HANDOUT_CARDS, check_sizes, "test set sizes, comma-separated; a leading + "
                     "adds them to the default (e.g. +1000,10000)", sizes, noun="size"),
    "models": Setting(("deepsets", "lstm"), lambda n, v: check_models(v, n),
                      "comma-separated models (deepsets models lists them), or your own "
                      "as package.module:Class", names),
    "readouts": Setting((), lambda n, v: check_readouts(v, n),
                        "comma-separated readouts, an axis of the sweep like its tasks and "
                        "seeds: each model that has a rho (deepsets-*, pyg-*, lstm, gru) runs "
                        "once with each of " + described({k: "" for k in RHOS}).replace(
                            ", or ", " or ") + "; none: each model's own", names),
    "recipe": Setting("handout", choice(RECIPES), "how the sum-pooling DeepSets is trained: "
                      + "; ".join(f"{k}: {r.about}" for k, r in RECIPES.items()),
                      choices=tuple(RECIPES)),
    "embedding_dim": Setting(128, check_positive_int, "h1, embedding size", whole_number),
    "hidden_dim": Setting(64, check_positive_int, "h2, hidden units", whole_number),
    "epochs": Setting(20, check_positive_int, "training epochs of a run", whole_number,
                      noun="epoch"),
    "batch_size": Setting(64, check_positive_int, "training sets per step", whole_number),
    "lr": Setting(1e-3, check_positive_float, "Adam learning rate", number),
    "eval_batch_tokens": Setting(1 << 14, check_positive_int, "digits per evaluation batch",
                                 speed_only=True),
    "device": Setting("cpu", choice(DEVICES), "where to compute: cpu, cuda or auto = cuda "
                      "when available (a sweep's runs on cuda ask for a GPU each)",
                      choices=DEVICES, speed_only=True),
}


def setting(name: str, default: Any = MISSING) -> Any:
    """A config field for setting ``name``: its default, or the one given."""
    return field(default=SETTINGS[name].default if default is MISSING else default)


def describe(values: dict[str, Any]) -> str:
    """A preset in words: ``2 seeds, 1 epoch, 2,000 training sets, 100 test sets at sizes
    5, 10, 20``."""
    def count(name: str) -> str:
        noun, value = SETTINGS[name].noun, values[name]
        plural = noun.replace("set", "sets", 1) if "set" in noun else noun + "s"
        return f"{value:,} {noun if value == 1 else plural}"

    words = [count(k) for k in values if SETTINGS[k].noun and k != "cards"]
    if "cards" in values:
        sizes = "sizes " + ", ".join(f"{c:,}" for c in values["cards"])
        words = [w.replace(" per size", f" at {sizes}") for w in words] \
            if "n_per_card" in values else [*words, sizes]
    return ", ".join(words)

