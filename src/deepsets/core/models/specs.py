"""The model table: each built-in model by name (``SPECS``), a model with other parts
after its name (``deepsets-max+phi=mlp+rho=relu-mlp``), and its readout as a sweep's axis
(``readout_of``, ``with_readout``, ``without_readout``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn

from deepsets.core.checks import did_you_mean
from deepsets.core.models.base import SetModel, import_class
from deepsets.core.models.deep_sets import DeepSets
from deepsets.core.models.own import HANDED, name_of
from deepsets.core.models.parts import PHIS, POOLS, PYG_PLUGIN, RHOS
from deepsets.core.models.pyg import AGGREGATIONS, aggr, aggregation_class
from deepsets.core.models.recurrent import GRU, LSTM
from deepsets.core.models.set_transformer import SetTransformer


@dataclass(frozen=True)
class ModelSpec:
    """A model by name: its class with the constructor arguments of its variant, what it
    is, and how it trains."""

    cls: type[nn.Module]
    args: Mapping[str, object] = field(default_factory=dict)  # the variant's, e.g. pooling
    label: str | None = None  # its name in figures and reports (default: the name)
    #: its training sets: ``left``-padded to max_card tokens (the handout) or ``none``, each
    #: set its own digits only (in batches of sets of one length)
    padding: str = "left"
    recipes: bool = False  # whether the run's recipe trains it (``recipes.RECIPES``)
    about: str = ""  # one line for ``deepsets models``
    #: ``ours`` (the default sweep's), ``papers`` (the field's, by name only) or ``pyg``
    #: (PyTorch Geometric's aggregations)
    family: str = "ours"
    #: raises ValueError when the model cannot be built here (an extra not installed)
    available: Callable[[], object] | None = None


#: The built-in models by the names the CLI and the run folder use.
SPECS: dict[str, ModelSpec] = {
    "deepsets": ModelSpec(DeepSets, {"activation": "tanh"}, "DeepSets", recipes=True,
                          about="DeepSets, sum pooling: the handout's (trained by --recipe)"),
    "deepsets-mean": ModelSpec(DeepSets, {"pooling": "mean"}, about="DeepSets, mean pooling"),
    "deepsets-max": ModelSpec(DeepSets, {"pooling": "max"}, about="DeepSets, max pooling"),
    "deepsets-laf": ModelSpec(DeepSets, {"pooling": "laf"}, family="papers",
                              about="DeepSets, LAF pooling (Pellegrini et al. 2021): phi "
                                    "squashed by a sigmoid, 9 learned aggregations each"),
    "lstm": ModelSpec(LSTM, label="LSTM", about="an LSTM over the set's digits in order: "
                      "the handout's"),
    "gru": ModelSpec(GRU, about="a GRU over the set's digits in order"),
    "set-transformer": ModelSpec(SetTransformer, about="Set Transformer (Lee et al. 2019)"),
    # a training regime: the same LSTM, on its sets unpadded
    "lstm-unpadded": ModelSpec(LSTM, label="LSTM (unpadded)", padding="none",
                               about="the LSTM trained on its sets without padding"),
    "gru-unpadded": ModelSpec(GRU, label="GRU (unpadded)", padding="none",
                              about="the GRU trained on its sets without padding"),
    **{f"pyg-{name}": ModelSpec(DeepSets, {"pooling": f"pyg-{name}", "rho": "tanh-mlp"},
                                family="pyg", about=f"phi, PyG's {entry.what}, rho",
                                available=aggr)
       for name, entry in AGGREGATIONS.items()},
}
#: Each built-in model's class.
MODELS: dict[str, type[SetModel]] = {name: spec.cls for name, spec in SPECS.items()}


#: The parts a model of parts takes after its name (``model+phi=mlp``), in this order,
#: each from its table.
PARTS = {"phi": PHIS, "pooling": POOLS, "rho": RHOS}


def model_name(model: object) -> str:
    """The name of a model given as a name, a class or a function that builds one
    (``own.name_of``: a class defined where no worker can import it is handed over)."""
    return name_of(model, reserved=SPECS)


def split_parts(name: str) -> tuple[str, dict[str, str]]:
    """``deepsets-max+rho=relu-mlp`` -> (``deepsets-max``, {``rho``: ``relu-mlp``})."""
    base, *given = name.split("+")
    parts = {}
    for item in given:
        key, _, value = item.partition("=")
        if key not in PARTS or not value or key in parts:
            raise ValueError(f"model {name!r}: {item!r} is not a part; give each of "
                             f"{', '.join(PARTS)} at most once, as {base}+rho=relu-mlp")
        parts[key] = value
    if list(parts) != [k for k in PARTS if k in parts]:
        raise ValueError(f"model {name!r}: give its parts in the order {', '.join(PARTS)}")
    return base, parts


def is_plugin(name: str) -> bool:
    """Whether ``name`` names a plug-in (``package.module:ClassName``, or a PyG aggregation
    ``pyg:package.module:ClassName``), or a model handed over as an object (``own``)."""
    base = split_parts(name)[0]
    return ":" in base or base in HANDED


def is_model_name(name: str) -> bool:
    """Whether ``name`` is a plug-in's, or a model's with other parts (``spec`` checks
    them)."""
    return is_plugin(name) or (split_parts(name)[0] in SPECS and "+" in name)


def model_class(name: str) -> type[nn.Module]:
    """The class of a built-in model, or of the plug-in ``package.module:ClassName``; of a
    model handed over as an object (``own.HANDED``), that object: a class, or a function
    that builds one.

    A plug-in's module is imported as ``python -m`` would: from the current
    folder too.
    """
    if isinstance(name, str) and split_parts(name)[0] in MODELS:
        return MODELS[split_parts(name)[0]]
    if isinstance(name, str) and name in HANDED:
        return HANDED[name][0]  # type: ignore[return-value]  # a class or a builder
    if not isinstance(name, str) or not is_plugin(name):
        raise ValueError(f"unknown model {name!r}{did_you_mean(name, MODELS)}; choose from "
                         + ", ".join(MODELS) + ", or name your own as package.module:ClassName")
    if name.startswith(PYG_PLUGIN):
        return DeepSets
    return import_class(name, nn.Module, f"model {name!r}")


def spec(name: str) -> ModelSpec:
    """The entry of model ``name``; a plug-in's is its class, trained the handout's way; a
    model of other parts is its named model's with those parts (``with_parts``)."""
    if name in SPECS:
        return SPECS[name]
    base, parts = split_parts(name)
    if base.startswith(PYG_PLUGIN):
        path = base.removeprefix(PYG_PLUGIN)
        entry = ModelSpec(DeepSets, {"pooling": base, "rho": "tanh-mlp"}, family="pyg",
                          about=f"phi, your aggregation {path}, rho",
                          available=lambda: aggregation_class(path))
    else:
        entry = SPECS.get(base) or ModelSpec(model_class(base))
    return with_parts(base, entry, parts) if parts else entry


def with_parts(base: str, entry: ModelSpec, parts: dict[str, str]) -> ModelSpec:
    """Model ``base``'s entry with other ``parts`` (each checked against its table), trained
    as ``base`` is (``deepsets``: by the run's recipe, whose refit applies where rho is
    still a linear layer over a sum: ``settings.LabConfig.recipe_for``)."""
    taken = getattr(entry.cls, "PARTS", ())
    for key in parts:
        if key not in taken:
            raise ValueError(f"model {base!r} takes no {key}: the deepsets-* and pyg-* "
                             "models take phi, pooling and rho, the recurrent ones rho")
    own = {**PART_DEFAULTS, **entry.args}
    for key, value in parts.items():
        if value not in PARTS[key]:
            raise ValueError(f"model {base}+{key}={value}: {key} {value!r} is not one of "
                             + ", ".join(PARTS[key]) + did_you_mean(value, PARTS[key]))
        if own[key] == value:
            raise ValueError(f"model {base} has {key}={value} already; name it {base}")
    about = ", ".join(f"{k} {v}" for k, v in parts.items())
    needs_pyg = parts.get("pooling", "").startswith("pyg-")
    return ModelSpec(entry.cls, {**entry.args, **parts}, family=entry.family,
                     about=f"{entry.about}; with {about}", padding=entry.padding,
                     available=aggr if needs_pyg else entry.available, recipes=entry.recipes)


#: The parts of a ``DeepSets`` built without any named (the handout's), from its signature.
PART_DEFAULTS = {key: inspect.signature(DeepSets).parameters[key].default for key in PARTS}


def parts_of(name: str) -> dict[str, str] | None:
    """Model ``name``'s parts (phi, pooling, rho); None for a model not made of parts, or a
    name that is no model's here (the constant guess, a sweep of another version)."""
    try:
        entry = spec(name)
    except ValueError:
        return None
    if entry.cls is not DeepSets:
        return None
    return {key: entry.args.get(key, default) for key, default in PART_DEFAULTS.items()}


def part_columns(name: str) -> dict[str, str]:
    """Model ``name``'s parts as a table's columns, ``phi``, ``pooling`` and ``readout``,
    empty where it has none (``parts_of``, ``readout_of``)."""
    parts = parts_of(name) or {}
    return {"phi": parts.get("phi", ""), "pooling": parts.get("pooling", ""),
            "readout": readout_of(name)}


#: A table's columns of a model's parts (``part_columns``).
PART_COLUMNS = ("phi", "pooling", "readout")


def readout_of(name: str) -> str:
    """Model ``name``'s readout, its rho (``parts.RHOS``): a model of parts' or a recurrent
    model's; empty for a model that takes none (the Set Transformer, a plug-in) or a name
    that is no model's here."""
    try:
        entry = spec(name)
    except ValueError:
        return ""
    if "rho" not in getattr(entry.cls, "PARTS", ()):
        return ""
    return str(entry.args.get("rho", PART_DEFAULTS["rho"]))


def with_readout(name: str, readout: str) -> str:
    """Model ``name`` with ``readout`` as its rho, named the one way: ``deepsets-max`` and
    ``relu-mlp`` give ``deepsets-max+rho=relu-mlp``, ``pyg-sum`` (whose rho is
    ``tanh-mlp``) and ``tanh-mlp`` give ``pyg-sum``. A model that takes no readout
    (``readout_of`` empty) stays as it is."""
    if not readout_of(name):
        return name
    base, parts = split_parts(name)
    parts = {k: v for k, v in parts.items() if k != "rho"}
    if spec(base).args.get("rho", PART_DEFAULTS["rho"]) != readout:
        parts["rho"] = readout
    return "+".join([base, *(f"{k}={v}" for k, v in parts.items())])


def without_readout(name: str) -> str:
    """Model ``name`` less its readout: the row of a grid of poolings x readouts
    (``deepsets-max+rho=relu-mlp`` -> ``deepsets-max``)."""
    base, parts = split_parts(name)
    return "+".join([base, *(f"{k}={v}" for k, v in parts.items() if k != "rho")])

