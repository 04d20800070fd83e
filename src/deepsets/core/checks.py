"""Validators shared by the settings, the data generators and the models.

A leaf module: it imports nothing of the package, so every other module may
use it. Each check returns the value it accepts and raises ``ValueError``
naming the field, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import zlib
from collections.abc import Callable, Iterable

import numpy as np


class NotAllowed(ValueError):
    """``name=value is not allowed; <rule>``; a flag's error says the value and the rule."""

    def __init__(self, name: str, value: object, rule: str) -> None:
        super().__init__(f"{name}={value!r} is not allowed; {rule}")
        self.value, self.rule = value, rule


def as_tuple(name: str, value: object) -> tuple:
    """A list or tuple setting as a tuple; anything else is a ValueError naming it."""
    if not isinstance(value, (list, tuple)):
        raise NotAllowed(name, value, "use a list")
    return tuple(value)


def check_positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise NotAllowed(name, value, "use a whole number >= 1")
    return int(value)


def check_positive_float(name: str, value: object) -> float:
    """``value`` if it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise NotAllowed(name, value, "use a finite number > 0")
    return float(value)


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` if it can seed numpy and torch (an int in 0..2**63-1)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2**63:
        raise NotAllowed(name, seed, "use a whole number in 0..2**63-1")
    return int(seed)


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise NotAllowed(name, value, "use one of " + ", ".join(choices))
    return value


def check_names(name: str, values: object, choices: Iterable[str], kind: str = "name",
                also: Callable[[str], bool] | None = None) -> tuple[str, ...]:
    """A non-empty list of distinct names, each one of ``choices`` or accepted by ``also``
    (``kind``: model, task)."""
    choices = tuple(choices)
    values = as_tuple(name, values)
    if not values:
        raise ValueError(f"{name} is empty; choose from " + ", ".join(choices))
    for value in values:
        if not isinstance(value, str) or (value not in choices
                                          and not (also is not None and also(value))):
            raise ValueError(f"{name}: unknown {kind} {value!r}{did_you_mean(value, choices)}"
                             "; choose from " + ", ".join(choices))
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={list(values)} repeats a {kind}; give each once")
    return values


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'deepsets'?)`` for a name close to one of ``choices``; for a dotted
    path ``a.b.C``, the plug-in form ``a.b:C``; else nothing."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
    if close:
        return f" (did you mean {close[0]!r}?)"
    module, dot, cls = value.rpartition(".")
    if dot and module and cls[:1].isupper() and ":" not in value:
        return f" (did you mean {module + ':' + cls!r}? a model of your own is named " \
               "package.module:ClassName)"
    return ""


def check_sizes(name: str, values: object) -> tuple[int, ...]:
    """A non-empty list of distinct set sizes >= 1 (the test sizes, ``cards``)."""
    values = as_tuple(name, values)
    if not values:
        raise ValueError(f"{name} is empty; give at least one set size")
    sizes = tuple(check_positive_int(name, v) for v in values)
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{name}={list(sizes)} repeats a size; give each size once")
    return sizes


def derive_seed(seed: int, *keys: str | int) -> int:
    """An independent 63-bit seed for one purpose, e.g. ``derive_seed(0, "lstm", "init")``.

    One seed derives every generator, so runs are reproducible, and different
    purposes never share a stream of random numbers.
    """
    words = [check_seed(seed)] + [
        k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys
    ]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> 1)


# --- a flag's text -> its value (``settings.Setting.parse``) ---

def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def names(text: str) -> tuple[str, ...]:
    """``a,b`` -> ("a", "b")."""
    values = tuple(t.strip() for t in text.split(",") if t.strip())
    if not values:
        raise ValueError("give at least one name")
    return values


def sizes(text: str) -> tuple[int, ...]:
    """``5,10,20`` -> (5, 10, 20)."""
    parts = [t.strip() for t in text.split(",") if t.strip()]
    if not parts:
        raise ValueError("give at least one size, e.g. 5,10,20 or +1000")
    return tuple(whole_number(t) for t in parts)
