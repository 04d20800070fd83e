"""PyTorch Geometric's aggregations as the pooling of a set model: the poolings
``pyg-<name>`` (``parts.POOLS``) and the models of the same names.

The aggregation is ``torch_geometric.nn.aggr``'s own, fed the set's real elements only
(padding is never an element: the index PyG sees holds only them); the readout reads the
pooled vector, however wide the aggregation makes it. Needs the ``pyg`` extra
(``pip install 'deepsets[pyg]'``); the lab runs without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from deepsets.core.models.base import import_class


def train_sizes(k: int) -> torch.Tensor:
    """The training sets' sizes, 1..k uniformly (the handout's): PNA's degree histogram."""
    return torch.tensor([0.0] + [1.0] * k)


def aggr():
    """``torch_geometric.nn.aggr``, or a ValueError saying how to install it."""
    try:
        from torch_geometric.nn import aggr as module
    except ImportError:
        raise ValueError("the pyg-* models need PyTorch Geometric: "
                         "pip install 'deepsets[pyg]'") from None
    return module


def aggregation_class(path: str) -> type:
    """A user's own ``torch_geometric.nn.aggr.Aggregation`` subclass,
    ``package.module:ClassName``."""
    return import_class(path, aggr().Aggregation, f"aggregation {path!r}", "Aggregation")


def own_aggregation(path: str, h: int) -> nn.Module:
    """A user's aggregation for features of width H: it gets ``in_channels``,
    ``out_channels`` or ``channels`` = H if it names them."""
    cls = aggregation_class(path)
    names = inspect.signature(cls).parameters
    return cls(**{k: h for k in ("in_channels", "out_channels", "channels") if k in names})


def linear(h: int, out: int | None = None) -> nn.Module:
    return nn.Linear(h, out or h)


@dataclass(frozen=True)
class Aggregation:
    """One of PyG's aggregations: what it is, how it is built for features of width H and
    training sets of at most K elements, and what it needs."""

    what: str  # PyG's class and its arguments
    build: Callable[[int, int], nn.Module]
    #: its output depends on the order of the elements (LCM's learned monoid is commutative
    #: only approximately)
    ordered: bool = False
    #: built for sets of at most K elements: larger sets are not applicable
    bounded: bool = False
    #: how a batch is pooled: ``batch`` (all sets at once), ``by-size`` (it pads the sets to
    #: one length inside: one group of equally large sets at a time, so that no set's result
    #: sees another's padding) or ``alone`` (its result for a set depends on the whole
    #: batch, as the equilibrium's inner optimization on the batch's mean energy does)
    pooled: str = "batch"


#: Each aggregation by its name. Every one is PyG's own.
AGGREGATIONS: dict[str, Aggregation] = {
    "sum": Aggregation("SumAggregation", lambda h, k: aggr().SumAggregation()),
    "mean": Aggregation("MeanAggregation", lambda h, k: aggr().MeanAggregation()),
    "max": Aggregation("MaxAggregation", lambda h, k: aggr().MaxAggregation()),
    "min": Aggregation("MinAggregation", lambda h, k: aggr().MinAggregation()),
    "mul": Aggregation("MulAggregation: the product", lambda h, k: aggr().MulAggregation()),
    "var": Aggregation("VarAggregation", lambda h, k: aggr().VarAggregation()),
    "std": Aggregation("StdAggregation", lambda h, k: aggr().StdAggregation()),
    "softmax": Aggregation("SoftmaxAggregation, learnable temperature",
                           lambda h, k: aggr().SoftmaxAggregation(learn=True)),
    "powermean": Aggregation("PowerMeanAggregation, learnable p",
                             lambda h, k: aggr().PowerMeanAggregation(learn=True)),
    "median": Aggregation("MedianAggregation", lambda h, k: aggr().MedianAggregation()),
    "quantile": Aggregation("QuantileAggregation at 0.25, 0.5, 0.75",
                            lambda h, k: aggr().QuantileAggregation([0.25, 0.5, 0.75])),
    "lstm": Aggregation("LSTMAggregation: an LSTM over the elements in order",
                        lambda h, k: aggr().LSTMAggregation(h, h), ordered=True,
                        pooled="by-size"),
    "gru": Aggregation("GRUAggregation: a GRU over the elements in order",
                       lambda h, k: aggr().GRUAggregation(h, h), ordered=True,
                       pooled="by-size"),
    "set2set": Aggregation("Set2Set, 3 processing steps",
                           lambda h, k: aggr().Set2Set(h, processing_steps=3)),
    "sort": Aggregation("SortAggregation: the 10 largest elements, concatenated",
                        lambda h, k: aggr().SortAggregation(k=10), ordered=True),
    "gmt": Aggregation("GraphMultisetTransformer, 4 seeds",
                       lambda h, k: aggr().GraphMultisetTransformer(h, k=4)),
    "attentional": Aggregation("AttentionalAggregation: a learned gate",
                               lambda h, k: aggr().AttentionalAggregation(linear(h, 1),
                                                                          linear(h))),
    "equilibrium": Aggregation("EquilibriumAggregation", lambda h, k: aggr()
                               .EquilibriumAggregation(h, h, num_layers=[h]), pooled="alone"),
    "deepsets": Aggregation("DeepSetsAggregation: local and global linear layers",
                            lambda h, k: aggr().DeepSetsAggregation(linear(h), linear(h))),
    "set-transformer": Aggregation("SetTransformerAggregation",
                                   lambda h, k: aggr().SetTransformerAggregation(h)),
    "lcm": Aggregation("LCMAggregation: a learnable commutative monoid",
                       lambda h, k: aggr().LCMAggregation(h, h), ordered=True,
                       pooled="by-size"),
    "variance-preserving": Aggregation("VariancePreservingAggregation",
                                       lambda h, k: aggr().VariancePreservingAggregation()),
    # patches of 2: with 4, a set of 1 or 2 elements pools to NaN (PyG 2.8.1)
    "patch-transformer": Aggregation("PatchTransformerAggregation, patches of 2",
                                     lambda h, k: aggr().PatchTransformerAggregation(
                                         h, h, patch_size=2, hidden_channels=h),
                                     ordered=True, pooled="by-size"),
    "multi": Aggregation("MultiAggregation: mean, min, max, std, concatenated",
                         lambda h, k: aggr().MultiAggregation(["mean", "min", "max", "std"])),
    "pna": Aggregation("DegreeScalerAggregation (PNA): mean, min, max, std, each as is and "
                       "scaled up and down by the set size against the training sizes'",
                       lambda h, k: aggr().DegreeScalerAggregation(
                           ["mean", "min", "max", "std"],
                           ["identity", "amplification", "attenuation"], train_sizes(k))),
    "mlp": Aggregation("MLPAggregation: an MLP over the elements in order, padded to the "
                       "training sets' largest size", lambda h, k: aggr().MLPAggregation(
                           h, h, max_num_elements=k, num_layers=2, hidden_channels=h,
                           norm=None), ordered=True, bounded=True),
}


class PygPool(nn.Module):
    """One of PyG's aggregations, or a user's (``package.module:ClassName``), as the pooling
    of a set model: the real elements' features (E, H), in order, and the set each belongs
    to (E,) -> (B, W). ``width`` is W, however wide the aggregation makes it."""

    def __init__(self, name: str, h: int, max_elements: int) -> None:
        super().__init__()
        self.name, self.max_elements = name, max_elements
        entry = AGGREGATIONS.get(name)
        self.entry = entry or Aggregation(f"your aggregation {name}", lambda h, k: None)
        self.aggregation = entry.build(h, max_elements) if entry else own_aggregation(name, h)
        with torch.no_grad():  # how wide the pooled vector is: one set of two elements
            self.width = self.aggregation(torch.zeros(2, h), torch.zeros(2, dtype=torch.long),
                                          dim_size=1).shape[-1]

    def not_applicable(self, size: int) -> str | None:
        """Why sets of ``size`` elements are beyond this pooling (``bounded``); else None."""
        if self.entry.bounded and size > self.max_elements:
            return (f"not applicable beyond size {self.max_elements}: "
                    f"{self.entry.what.split(':')[0]} reads at most "
                    f"max_num_elements={self.max_elements} elements (PyG drops the rest)")
        return None

    def forward(self, h: torch.Tensor, index: torch.Tensor, n_sets: int) -> torch.Tensor:
        if self.entry.pooled == "alone":
            return self.pool_alone(h, index, n_sets)
        if self.entry.pooled == "by-size":
            return self.pool_by_size(h, index, n_sets)
        return self.aggregation(h, index, dim_size=n_sets)  # (B, W)

    def pool_by_size(self, h: torch.Tensor, index: torch.Tensor, n_sets: int) -> torch.Tensor:
        """The pooled vectors (B, W), the sets of one size together (``by-size``)."""
        sizes = torch.bincount(index, minlength=n_sets)  # (B,)
        pooled = None
        for size in torch.unique(sizes):
            rows = torch.nonzero(sizes == size).squeeze(1)  # (G,), sorted
            mine = sizes[index] == size  # the elements of those sets
            values = self.aggregation(h[mine], torch.searchsorted(rows, index[mine]),
                                      dim_size=len(rows))
            if pooled is None:
                pooled = values.new_empty(n_sets, values.shape[-1])
            pooled[rows] = values
        return pooled

    def pool_alone(self, h: torch.Tensor, index: torch.Tensor, n_sets: int) -> torch.Tensor:
        """The pooled vectors (B, W), each set alone (``alone``): its elements are one run of
        ``h``, since ``index`` is sorted."""
        counts = torch.bincount(index, minlength=n_sets).tolist()
        with torch.enable_grad():  # the equilibrium optimizes inside, even to predict
            return torch.cat([self.aggregation(part, part.new_zeros(len(part), dtype=torch.long),
                                               dim_size=1) for part in h.split(counts)])
