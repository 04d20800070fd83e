"""The set models by name: the handout's DeepSets and LSTM, the benchmark's others, and
plug-ins.

``build_model("lstm", input_dim=11, ...)`` makes one; ``MODELS`` lists the
built-in ones by the names the CLI and the run folder use. A model of parts (``DeepSets``:
phi, pooling, rho; ``parts``) takes other parts after its name, in that order:
``deepsets-max+phi=mlp+rho=relu-mlp`` is ``deepsets-max`` with the papers' phi and rho.

A plug-in is any importable ``nn.Module`` that maps tokens (B, N), or vectors (B, N, D),
to predictions (B,), named ``package.module:ClassName``; it gets the constructor arguments
it names of ``input_dim``, ``embedding_dim``, ``hidden_dim``, ``inputs`` and ``outputs``. It says
which inputs it takes in a class attribute ``takes`` (of ``INPUTS``; without one, tokens
and images): one that takes vectors gets (B, N, D) floats, and ``forward(x, mask)`` where
the sets' sizes differ.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn

from deepsets.core.checks import did_you_mean
from deepsets.core.models.base import (
    INPUTS,
    OutputError,
    SetModel,
    as_sets,
    check_predictions,
    check_sets,
    check_tokens,
    form_of,
    import_class,
    token_counts,
)
from deepsets.core.models.deep_sets import DeepSets
from deepsets.core.models.embeddings import (
    IMAGE_INPUTS,
    PixelEmbedding,
    Standardize,
    VectorEmbedding,
    reseed,
    standardize,
)
from deepsets.core.models.parts import PHIS, POOLS, PYG_PLUGIN, RHOS
from deepsets.core.models.pyg import AGGREGATIONS, aggr, aggregation_class
from deepsets.core.models.recurrent import GRU, LSTM, run_rnn
from deepsets.core.models.set_transformer import MAB, SetTransformer


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
    ``pyg:package.module:ClassName``)."""
    return ":" in split_parts(name)[0]


def is_model_name(name: str) -> bool:
    """Whether ``name`` is a plug-in's, or a model's with other parts (``spec`` checks
    them)."""
    return is_plugin(name) or (split_parts(name)[0] in SPECS and "+" in name)


def model_class(name: str) -> type[nn.Module]:
    """The class of a built-in model, or of the plug-in ``package.module:ClassName``.

    A plug-in's module is imported as ``python -m`` would: from the current
    folder too.
    """
    if isinstance(name, str) and split_parts(name)[0] in MODELS:
        return MODELS[split_parts(name)[0]]
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
    if entry.cls is not DeepSets:
        raise ValueError(f"model {base!r} is not made of parts (phi, pooling, rho): only "
                         "deepsets-* and pyg-* models take other parts")
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
    """Model ``name``'s parts as a table's columns, empty where it has none (``parts_of``)."""
    return parts_of(name) or dict.fromkeys(PARTS, "")


#: The inputs of a plug-in that does not say (``takes``): every model took these before
#: vectors.
TOKEN_INPUTS = ("tokens", "images", "mnist")


def reads_pixels(name: str) -> bool:
    """Whether model ``name`` is made of parts whose phi reads an image's pixels."""
    return PHIS.get((parts_of(name) or {}).get("phi"), PHIS["handout"]).pixels


def takes(name: str) -> tuple[str, ...]:
    """The inputs model ``name`` takes (``INPUTS``): a plug-in's ``takes``, else tokens and
    images; a model whose phi reads pixels (``reads_pixels``), images only."""
    if reads_pixels(name):
        return IMAGE_INPUTS
    return tuple(getattr(spec(name).cls, "takes", TOKEN_INPUTS))


def refusal(name: str, inputs: str, outputs: int) -> str | None:
    """Why model ``name`` cannot learn a task of these inputs and outputs (one line), or
    None when it can."""
    if reads_pixels(name) and inputs not in IMAGE_INPUTS:
        return f"model {name!r} has a phi that reads an image's pixels, and {inputs} are not images"
    if inputs not in takes(name):
        *most, last = takes(name)
        kinds = f"{', '.join(most)} and {last}" if most else last
        return (f"model {name!r} takes {kinds} only, not {inputs}; a "
                f"plug-in that takes {inputs} says so with takes = (..., {inputs!r})")
    if outputs > 1 and is_plugin(name) and "outputs" not in constructor_args(
            name, {"outputs": outputs}):
        return (f"model {name!r} names no outputs argument, so it cannot give the "
                f"{outputs} logits of a classification")
    return None


def constructor_args(name: str, model_args: dict) -> dict:
    """The arguments model ``name`` is built with: a plug-in takes those it names."""
    if not is_plugin(name):
        return model_args
    params = inspect.signature(model_class(name)).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return model_args
    return {k: v for k, v in model_args.items() if k in params}


#: Where a plug-in's inherited code is the libraries', not the user's: left out of its
#: fingerprint, so that it changes with the user's own code only.
LIBRARIES = ("builtins", "abc", "typing", "torch", "torch_geometric", "deepsets")


def plugin_class(name: str) -> type:
    """The class a plug-in's code lives in: its module's class, or its PyG aggregation's."""
    base = split_parts(name)[0]
    if base.startswith(PYG_PLUGIN):
        return aggregation_class(base.removeprefix(PYG_PLUGIN))
    return model_class(base)


def fingerprint(name: str) -> str | None:
    """What defines plug-in ``name``'s code: a SHA-256 (16 hex digits) of the source files
    of its class and of each class it inherits from outside the libraries (``LIBRARIES``),
    its own module's file first. None for a built-in model, whose code is the package's.

    The files are read from disk, not from the imported modules, so an edit since this
    process imported them counts: a run's workers import the file as it is now.
    """
    if not is_plugin(name):
        return None
    digest, seen = hashlib.sha256(), set()
    for cls in plugin_class(name).__mro__:
        if cls.__module__.split(".")[0] in LIBRARIES:
            continue
        try:
            path = inspect.getsourcefile(cls)
        except TypeError:  # defined where no file is (a notebook's cell): its own source
            path = None
        if path in seen:
            continue
        seen.add(path)
        digest.update(source_of(cls, path))
    return digest.hexdigest()[:16]


def source_of(cls: type, path: str | None) -> bytes:
    """The bytes of the file ``cls`` is defined in, else its own source, else its name."""
    try:
        if path is not None:
            with open(path, "rb") as f:
                return f.read()
        return inspect.getsource(cls).encode()
    except (OSError, TypeError):
        return cls.__qualname__.encode()


def upgraded(state: dict) -> dict:
    """A checkpoint dict of model ``state["model_name"]`` written by an older version, in
    today's arguments and weight names where its model's class says how
    (``DeepSets.upgraded``); as it is otherwise."""
    try:
        cls = spec(state["model_name"]).cls
    except ValueError:  # a plug-in that cannot be imported here: its loader says so
        return state
    if cls is not DeepSets:
        return state
    args, weights = DeepSets.upgraded(state["model_args"], state["model"])
    return {**state, "model_args": args, "model": weights}


def build_model(name: str, **model_args) -> nn.Module:
    """A fresh model by name, e.g. ``build_model("lstm", input_dim=11, ...)``."""
    model = spec(name).cls(**{**spec(name).args, **constructor_args(name, model_args)})
    if not isinstance(model, SetModel):  # ours know their arguments; a plug-in is told them
        model.model_args = constructor_args(name, model_args)
    return model


__all__ = [
    "GRU", "INPUTS", "LSTM", "MAB", "MODELS", "PARTS", "PHIS", "POOLS", "RHOS", "SPECS",
    "DeepSets", "ModelSpec", "OutputError", "PixelEmbedding", "SetModel", "SetTransformer",
    "Standardize", "VectorEmbedding", "as_sets", "reseed", "build_model", "check_predictions",
    "check_sets", "check_tokens", "constructor_args", "fingerprint", "form_of",
    "is_model_name", "is_plugin", "model_class", "part_columns", "parts_of", "refusal",
    "run_rnn", "spec", "split_parts", "standardize", "takes", "token_counts", "upgraded",
]
