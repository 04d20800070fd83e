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

import inspect

from torch import nn

from deepsets.core.models.base import (
    INPUTS,
    OutputError,
    SetModel,
    as_sets,
    check_predictions,
    check_sets,
    check_tokens,
    form_of,
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
from deepsets.core.models.own import HANDED, code_fingerprint
from deepsets.core.models.parts import PHIS, POOLS, PYG_PLUGIN, RHOS
from deepsets.core.models.pyg import aggregation_class
from deepsets.core.models.recurrent import GRU, LSTM, run_rnn
from deepsets.core.models.set_transformer import MAB, SetTransformer
from deepsets.core.models.specs import (
    MODELS,
    PART_COLUMNS,
    PART_DEFAULTS,
    PARTS,
    SPECS,
    ModelSpec,
    is_model_name,
    is_plugin,
    model_class,
    model_name,
    part_columns,
    parts_of,
    readout_of,
    spec,
    split_parts,
    with_readout,
    without_readout,
)

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


def plugin_class(name: str) -> type:
    """The class a plug-in's code lives in: its module's class, or its PyG aggregation's."""
    base = split_parts(name)[0]
    if base.startswith(PYG_PLUGIN):
        return aggregation_class(base.removeprefix(PYG_PLUGIN))
    return model_class(base)


def fingerprint(name: str) -> str | None:
    """What defines plug-in ``name``'s code (``own.code_fingerprint``): a SHA-256 of the
    source files of its class and of each class it inherits from outside the libraries,
    read from disk, so an edit since this process imported them counts, as a run's
    workers import the file as it is now; a model handed over as an object, the one taken
    where it was (``own.HANDED``). None for a built-in model, whose code is the package's.
    """
    if name in HANDED:
        return HANDED[name][1]
    return code_fingerprint(plugin_class(name)) if is_plugin(name) else None


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
    "GRU", "INPUTS", "LSTM", "MAB", "MODELS", "PART_COLUMNS", "PART_DEFAULTS", "PARTS",
    "PHIS", "POOLS", "RHOS", "SPECS",
    "DeepSets", "ModelSpec", "OutputError", "PixelEmbedding", "SetModel", "SetTransformer",
    "Standardize", "VectorEmbedding", "as_sets", "reseed", "build_model", "check_predictions",
    "check_sets", "check_tokens", "constructor_args", "fingerprint", "form_of",
    "is_model_name", "is_plugin", "model_class", "model_name", "part_columns", "parts_of",
    "refusal", "readout_of", "run_rnn", "spec", "split_parts", "standardize", "takes",
    "token_counts", "upgraded", "with_readout", "without_readout",
]
