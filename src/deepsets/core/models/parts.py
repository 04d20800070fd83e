"""The parts of a set model, ``rho(pool(phi(x) for x in X))``, each from its own table.

- ``PHIS``: the element encoder, applied after the model's embedding of an element (a
  learned vector per token, an MLP on an image's pixels, an MLP on a vector): (..., E) ->
  (..., H).
- ``POOLS``: the pooling of a set's encoded elements into one vector of ``width`` W,
  permutation invariant unless it says ``ordered``. Ours read the padded features
  (B, N, H) and which positions hold an element (B, N); PyTorch Geometric's
  (``pyg-<name>``, ``pyg.AGGREGATIONS``) read the real elements packed (E, H) and the set
  each belongs to. A pooling with a token-table fast path (``table``) also pools sets of
  tokens from their token counts and a table of phi per token: the same numbers without
  an element axis.
- ``RHOS``: the readout, (B, W) -> (B, outputs).

A new encoder, pooling or readout is one entry here. ``DeepSets`` composes them, as PyTorch
Geometric's ``DeepSetsAggregation(local_nn, global_nn)`` composes its own around a sum; the
named models (``deepsets``, ``pyg-sum``, ...) are choices of parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from deepsets.core.checks import check_choice
from deepsets.core.models.laf import LAFAggregation
from deepsets.core.models.set_transformer import MAB

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


@dataclass(frozen=True)
class Phi:
    """An element encoder: ``build(E, H, activation)`` -> a module (..., E) -> (..., H)."""

    build: Callable[[int, int, str], nn.Module]
    about: str
    #: it reads an image's pixels itself (E = the pixels), in place of the model's pixel
    #: embedding: images only
    pixels: bool = False


@dataclass(frozen=True)
class Rho:
    """A readout: ``build(W, H, outputs)`` -> a module (B, W) -> (B, outputs)."""

    build: Callable[[int, int, int], nn.Module]
    about: str


@dataclass(frozen=True)
class Pool:
    """A pooling: ``build(H, K)`` -> a module for features of width H and training sets of
    at most K elements, whose ``width`` says how wide its output is; and what it can do."""

    build: Callable[[int, int], nn.Module]
    about: str
    #: it reads the real elements packed, ``(h (E, H), index (E,), sets)`` (PyG's); else the
    #: padded features and the real positions, ``(h (B, N, H), real (B, N) or None)``
    packed: bool = False
    #: its output depends on the order of the elements
    ordered: bool = False
    #: it pools sets of tokens from their counts (``from_counts``): phi once per token
    table: bool = False
    #: the handout's padding applies: unless the model masks padding, a pad token is one
    #: more element (adds phi(PAD) to a sum)
    pads: bool = False


def embedding_alone(e: int, h: int, activation: str) -> nn.Module:
    if e != h:
        raise ValueError(f"phi='embedding' passes the embedding on as the features, so it "
                         f"needs embedding_dim == hidden_dim (got {e} and {h})")
    return nn.Identity()


def image_mlp(p: int, h: int, last: bool) -> nn.Module:
    """The papers' image encoder: the pixels through layers of 300, 100 and H units, tanh
    after each (``last`` False: not after the last)."""
    layers = [nn.Linear(p, 300), nn.Tanh(), nn.Linear(300, 100), nn.Tanh(), nn.Linear(100, h)]
    return nn.Sequential(*layers, *[nn.Tanh()] * last)


PHIS: dict[str, Phi] = {
    "handout": Phi(lambda e, h, act: nn.Sequential(nn.Linear(e, h), ACTIVATIONS[act]()),
                   "the handout's: a linear layer and tanh (or ReLU) on the embedding"),
    "mlp": Phi(lambda e, h, act: nn.Sequential(nn.ReLU(), nn.Linear(e, h), nn.ReLU(),
                                               nn.Linear(h, h)),
               "the papers': a ReLU MLP, two more layers on the embedding (vectors: four "
               "linear layers in all, as the Set Transformer paper's encoder)"),
    "embedding": Phi(embedding_alone, "the embedding alone, as the LAF paper's integer "
                     "model (Embedding(10, 10), then the pooling); embedding = hidden size"),
    "image-mlp": Phi(lambda p, h, act: image_mlp(p, h, last=True),
                     "the DeepSets paper's image encoder: an image's pixels through 300, "
                     "100 and hidden units, tanh after each (images only)", pixels=True),
    "image-laf": Phi(lambda p, h, act: image_mlp(p, h, last=False),
                     "the LAF paper's: image-mlp without the last tanh, which the LAF "
                     "pooling's sigmoid takes the place of (images only)", pixels=True),
}

RHOS: dict[str, Rho] = {
    "linear": Rho(lambda w, h, k: nn.Linear(w, k), "the handout's: one linear layer"),
    "relu-mlp": Rho(lambda w, h, k: nn.Sequential(nn.Linear(w, h), nn.ReLU(), nn.Linear(h, k)),
                    "the papers': Linear, ReLU, Linear"),
    "tanh-mlp": Rho(lambda w, h, k: nn.Sequential(nn.Linear(w, h), nn.Tanh(), nn.Linear(h, k)),
                    "Linear, tanh, Linear: bounded between its output layer's extremes"),
    "laf-mlp": Rho(lambda w, h, k: nn.Sequential(nn.Linear(w, 1000), nn.Tanh(),
                                                 nn.Linear(1000, 100), nn.Tanh(),
                                                 nn.Linear(100, k)),
                   "the LAF paper's MNIST readout: layers of 1000 and 100 with tanh, then "
                   "linear"),
}


def masked(real: torch.Tensor | None) -> torch.Tensor | None:
    """(B, N) -> (B, N, 1), to broadcast over the features."""
    return None if real is None else real.unsqueeze(-1)


class SumPool(nn.Module):
    """The sum of the set's features (DeepSets); ``real`` None: every position counts."""

    def __init__(self, h: int) -> None:
        super().__init__()
        self.width = h

    def forward(self, h: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return h.sum(dim=1) if real is None else (h * masked(real)).sum(dim=1)  # (B, H)

    def from_counts(self, counts: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Counts (B, V) of every token, padding included, and phi's table (V, H)."""
        return counts @ table  # (B, V) @ (V, H) -> (B, H)

    def extra_repr(self) -> str:
        return f"width={self.width}"


class MeanPool(SumPool):
    """The mean over the set's elements, padding left out."""

    def forward(self, h: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        real = masked(real)
        return (h * real).sum(1) / real.sum(1).clamp_min(1)

    def from_counts(self, counts: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        digits = counts[:, 1:]  # (B, V - 1): the elements' tokens, not the padding
        return digits @ table[1:] / digits.sum(1, keepdim=True).clamp_min(1)


class MaxPool(SumPool):
    """The largest value of each feature over the set's elements (``sign`` -1: the
    smallest)."""

    def __init__(self, h: int, sign: int = 1) -> None:
        super().__init__(h)
        self.sign = sign

    def extra_repr(self) -> str:
        return f"width={self.width}, {'largest' if self.sign > 0 else 'smallest'}"

    def forward(self, h: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        if self.sign > 0:
            return h.masked_fill(~masked(real), -torch.inf).amax(dim=1)
        return h.masked_fill(~masked(real), torch.inf).amin(dim=1)

    def from_counts(self, counts: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        present = (counts[:, 1:] > 0).unsqueeze(-1)  # (B, V - 1, 1): the tokens in the set
        if self.sign > 0:
            return torch.where(present, table[1:], -torch.inf).amax(dim=1)  # (B, H)
        return torch.where(present, table[1:], torch.inf).amin(dim=1)


class LAFPool(nn.Module):
    """LAF (``laf.LAFAggregation``) on the features squashed into (0, 1) by a sigmoid, as
    the paper's ``sigmoid -> LAFLayer``: (B, N, H) -> (B, H * units)."""

    UNITS = 9  # the paper's integer model has 9 (its MNIST model 60 on 30 features)

    def __init__(self, h: int) -> None:
        super().__init__()
        self.laf = LAFAggregation(self.UNITS)
        self.width = h * self.UNITS

    def forward(self, h: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        return self.laf(torch.sigmoid(h), real)

    def from_counts(self, counts: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        return self.laf.from_counts(counts[:, 1:], torch.sigmoid(table[1:]))


class PMAPool(nn.Module):
    """Pooling by multihead attention (Set Transformer, Lee et al. 2019): one learned seed
    vector attends over the set's elements, padding masked out: (B, N, H) -> (B, H)."""

    def __init__(self, h: int, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.width = heads, h
        self.mab = MAB(h, heads)
        self.seed = nn.Parameter(torch.randn(1, 1, h) / h ** 0.5)

    def forward(self, h: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        B, H = len(h), self.width
        real = h.new_ones(h.shape[:2], dtype=torch.bool) if real is None else real
        k, v = self.mab.project(h, slice(H, None)).split(H, -1)  # (B, N, H) each
        q = self.mab.project(self.seed, slice(0, H)).expand(B, -1, -1)  # (B, 1, H)
        keep = real.to(h.dtype).repeat_interleave(self.heads, dim=0).unsqueeze(1)
        pooled = self.mab.block(self.seed.expand(B, -1, -1), self.mab.attend(q, k, v, keep))
        return pooled[:, 0]  # (B, 1, H) -> (B, H)


def pyg_pool(name: str) -> Callable[[int, int], nn.Module]:
    def build(h: int, k: int) -> nn.Module:
        from deepsets.core.models.pyg import PygPool  # needs the pyg extra: built on demand

        return PygPool(name, h, k)
    return build


def pyg_pools() -> dict[str, Pool]:
    """PyG's aggregations as poolings, ``pyg-<name>`` (their table is ``pyg.AGGREGATIONS``,
    which imports PyG only when one is built)."""
    from deepsets.core.models.pyg import AGGREGATIONS

    return {f"pyg-{name}": Pool(pyg_pool(name), f"PyG's {entry.what}", packed=True,
                                ordered=entry.ordered)
            for name, entry in AGGREGATIONS.items()}


POOLS: dict[str, Pool] = {
    "sum": Pool(lambda h, k: SumPool(h), "the sum (DeepSets)", table=True, pads=True),
    "mean": Pool(lambda h, k: MeanPool(h), "the mean", table=True),
    "max": Pool(lambda h, k: MaxPool(h), "the largest value of each feature", table=True),
    "min": Pool(lambda h, k: MaxPool(h, sign=-1), "the smallest value of each feature",
                table=True),
    "laf": Pool(lambda h, k: LAFPool(h), "LAF (Pellegrini et al. 2021): 9 learned "
                "aggregations of each sigmoid-squashed feature", table=True),
    "pma": Pool(lambda h, k: PMAPool(h), "Set Transformer's pooling by multihead attention, "
                "one seed, 4 heads"),
    **pyg_pools(),
}

#: A user's own PyG aggregation as the pooling: ``pyg:package.module:ClassName``.
PYG_PLUGIN = "pyg:"


def pool_spec(name: str) -> Pool:
    """The entry of pooling ``name``: of ``POOLS``, or a user's PyG aggregation."""
    if name in POOLS:
        return POOLS[name]
    if name.startswith(PYG_PLUGIN):
        path = name.removeprefix(PYG_PLUGIN)
        return Pool(pyg_pool(path), f"your aggregation {path}", packed=True)
    raise ValueError(f"pooling={name!r} is not allowed; use one of " + ", ".join(POOLS)
                     + ", or pyg:package.module:ClassName")


def choice(table: dict, what: str, name: str):
    """``table[name]``, or a ValueError naming ``what`` and the choices."""
    return table[check_choice(what, name, table)]
