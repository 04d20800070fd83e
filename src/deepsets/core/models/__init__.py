"""The set models by name: the handout's DeepSets and LSTM, the benchmark's others, and
plug-ins.

``build_model("lstm", input_dim=11, ...)`` makes one; ``MODELS`` lists the
built-in ones by the names the CLI and the run folder use. A plug-in is any
importable ``nn.Module`` that maps tokens (B, N) to predictions (B,), named
``package.module:ClassName``; it gets the constructor arguments it names of
``input_dim``, ``embedding_dim``, ``hidden_dim`` and ``inputs``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

from torch import nn

from deepsets.core.models.base import PixelEmbedding, SetModel, check_tokens, token_counts
from deepsets.core.models.deep_sets import DeepSets
from deepsets.core.models.recurrent import GRU, LSTM, run_rnn
from deepsets.core.models.set_transformer import MAB, SetTransformer

#: The models by the names the CLI and the run folder use.
MODELS: dict[str, type[SetModel]] = {
    "deepsets": DeepSets, "deepsets-mean": DeepSets, "deepsets-max": DeepSets,
    "lstm": LSTM, "gru": GRU, "set-transformer": SetTransformer,
    "lstm-unpadded": LSTM,  # the same LSTM, trained on unpadded sets (LabConfig.padding)
}
#: Constructor arguments that make a named variant of a model class.
VARIANTS: dict[str, dict] = {"deepsets-mean": {"pooling": "mean"},
                             "deepsets-max": {"pooling": "max"}}


def is_plugin(name: str) -> bool:
    """Whether ``name`` names a plug-in (``package.module:ClassName``)."""
    return ":" in name


def model_class(name: str) -> type[nn.Module]:
    """The class of a built-in model, or of the plug-in ``package.module:ClassName``.

    A plug-in's module is imported as ``python -m`` would: from the current
    folder too.
    """
    if name in MODELS:
        return MODELS[name]
    if not isinstance(name, str) or not is_plugin(name):
        raise ValueError(f"unknown model {name!r}; choose from " + ", ".join(MODELS)
                         + ", or name your own as package.module:ClassName")
    module_name, _, class_name = name.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"model {name!r}: cannot import {module_name} ({err})") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ValueError(f"model {name!r}: {module_name} has no nn.Module class {class_name!r}")
    return cls


def constructor_args(name: str, model_args: dict) -> dict:
    """The arguments model ``name`` is built with: a plug-in takes those it names."""
    if not is_plugin(name):
        return model_args
    params = inspect.signature(model_class(name)).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return model_args
    return {k: v for k, v in model_args.items() if k in params}


def build_model(name: str, **model_args) -> nn.Module:
    """A fresh model by name, e.g. ``build_model("lstm", input_dim=11, ...)``."""
    model = model_class(name)(**{**VARIANTS.get(name, {}), **constructor_args(name, model_args)})
    if is_plugin(name):  # a built-in model knows its arguments; a plug-in is told them
        model.model_args = constructor_args(name, model_args)
    return model


__all__ = [
    "GRU", "LSTM", "MAB", "MODELS", "VARIANTS", "DeepSets", "PixelEmbedding", "SetModel",
    "SetTransformer", "build_model", "check_tokens", "constructor_args", "is_plugin",
    "model_class", "run_rnn", "token_counts",
]
