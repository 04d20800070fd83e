"""The set models by name: the handout's DeepSets and LSTM, and the benchmark's others.

``build_model("lstm", input_dim=11, ...)`` makes one; ``MODELS`` lists them
by the names the CLI and the run folder use.
"""

from __future__ import annotations

from deepsets.models.base import PixelEmbedding, SetModel, check_tokens, token_counts
from deepsets.models.deep_sets import DeepSets
from deepsets.models.recurrent import GRU, LSTM, run_rnn
from deepsets.models.set_transformer import MAB, SetTransformer

#: The models by the names the CLI and the run folder use.
MODELS: dict[str, type[SetModel]] = {
    "deepsets": DeepSets, "deepsets-mean": DeepSets, "deepsets-max": DeepSets,
    "lstm": LSTM, "gru": GRU, "set-transformer": SetTransformer,
}
#: Constructor arguments that make a named variant of a model class.
VARIANTS: dict[str, dict] = {"deepsets-mean": {"pooling": "mean"},
                             "deepsets-max": {"pooling": "max"}}


def build_model(name: str, **model_args) -> SetModel:
    """A fresh model by name, e.g. ``build_model("lstm", input_dim=11, ...)``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from " + ", ".join(MODELS))
    return MODELS[name](**{**VARIANTS.get(name, {}), **model_args})


__all__ = [
    "GRU", "LSTM", "MAB", "MODELS", "VARIANTS", "DeepSets", "PixelEmbedding", "SetModel",
    "SetTransformer", "build_model", "check_tokens", "run_rnn", "token_counts",
]
