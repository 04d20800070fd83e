"""PyTorch Geometric's aggregations as the pooling of a set model: ``pyg-<name>``.

``rho(aggregate_{x in X} phi(x))``: phi is the element encoder (the token embedding, the
pixel MLP for images, or the vector MLP) with a layer and tanh; the aggregation is
``torch_geometric.nn.aggr``'s own, fed the set's real elements only (padding is never an
element: the index PyG sees holds only them); rho reads the pooled vector, however wide
the aggregation makes it. Needs the ``pyg`` extra (``pip install 'deepsets[pyg]'``); the
lab runs without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from deepsets.core.models.base import SetModel, import_class


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


#: Each aggregation by its name: what it is (PyG's class, its arguments) and how it is
#: built for features of width H and training sets of at most K elements. Every one is
#: PyG's own.
AGGREGATIONS: dict[str, tuple[str, Callable[[int, int], nn.Module]]] = {
    "sum": ("SumAggregation", lambda h, k: aggr().SumAggregation()),
    "mean": ("MeanAggregation", lambda h, k: aggr().MeanAggregation()),
    "max": ("MaxAggregation", lambda h, k: aggr().MaxAggregation()),
    "min": ("MinAggregation", lambda h, k: aggr().MinAggregation()),
    "mul": ("MulAggregation: the product", lambda h, k: aggr().MulAggregation()),
    "var": ("VarAggregation", lambda h, k: aggr().VarAggregation()),
    "std": ("StdAggregation", lambda h, k: aggr().StdAggregation()),
    "softmax": ("SoftmaxAggregation, learnable temperature",
                lambda h, k: aggr().SoftmaxAggregation(learn=True)),
    "powermean": ("PowerMeanAggregation, learnable p",
                  lambda h, k: aggr().PowerMeanAggregation(learn=True)),
    "median": ("MedianAggregation", lambda h, k: aggr().MedianAggregation()),
    "quantile": ("QuantileAggregation at 0.25, 0.5, 0.75",
                 lambda h, k: aggr().QuantileAggregation([0.25, 0.5, 0.75])),
    "lstm": ("LSTMAggregation: an LSTM over the elements in order",
             lambda h, k: aggr().LSTMAggregation(h, h)),
    "gru": ("GRUAggregation: a GRU over the elements in order",
            lambda h, k: aggr().GRUAggregation(h, h)),
    "set2set": ("Set2Set, 3 processing steps", lambda h, k: aggr().Set2Set(h, processing_steps=3)),
    "sort": ("SortAggregation: the 10 largest elements, concatenated",
             lambda h, k: aggr().SortAggregation(k=10)),
    "gmt": ("GraphMultisetTransformer, 4 seeds",
            lambda h, k: aggr().GraphMultisetTransformer(h, k=4)),
    "attentional": ("AttentionalAggregation: a learned gate",
                    lambda h, k: aggr().AttentionalAggregation(linear(h, 1), linear(h))),
    "equilibrium": ("EquilibriumAggregation",
                    lambda h, k: aggr().EquilibriumAggregation(h, h, num_layers=[h])),
    "deepsets": ("DeepSetsAggregation: local and global linear layers",
                 lambda h, k: aggr().DeepSetsAggregation(linear(h), linear(h))),
    "set-transformer": ("SetTransformerAggregation",
                        lambda h, k: aggr().SetTransformerAggregation(h)),
    "lcm": ("LCMAggregation: a learnable commutative monoid",
            lambda h, k: aggr().LCMAggregation(h, h)),
    "variance-preserving": ("VariancePreservingAggregation",
                            lambda h, k: aggr().VariancePreservingAggregation()),
    # patches of 2: with 4, a set of 1 or 2 elements pools to NaN (PyG 2.8.1)
    "patch-transformer": ("PatchTransformerAggregation, patches of 2",
                          lambda h, k: aggr().PatchTransformerAggregation(
                              h, h, patch_size=2, hidden_channels=h)),
    "multi": ("MultiAggregation: mean, min, max, std, concatenated",
              lambda h, k: aggr().MultiAggregation(["mean", "min", "max", "std"])),
    "pna": ("DegreeScalerAggregation (PNA): mean, min, max, std, each as is and scaled up "
            "and down by the set size against the training sizes'",
            lambda h, k: aggr().DegreeScalerAggregation(
                ["mean", "min", "max", "std"], ["identity", "amplification", "attenuation"],
                train_sizes(k))),
    "mlp": ("MLPAggregation: an MLP over the elements in order, padded to the training "
            "sets' largest size", lambda h, k: aggr().MLPAggregation(
                h, h, max_num_elements=k, num_layers=2, hidden_channels=h, norm=None)),
}
#: Aggregations whose output depends on the order of the elements (LCM's learned monoid is
#: commutative only approximately).
ORDERED = ("lstm", "gru", "sort", "patch-transformer", "lcm", "mlp")
#: Aggregations built for sets of at most K elements: larger sets are not applicable.
BOUNDED = ("mlp",)
#: Aggregations that pad a batch's sets to one length inside: pooled one group of equally
#: large sets at a time, so that no set's result sees another's padding.
BY_SIZE = ("lstm", "gru", "lcm", "patch-transformer")
#: Aggregations whose result for a set depends on the whole batch (the equilibrium's inner
#: optimization runs on the batch's mean energy): pooled one set at a time.
ALONE = ("equilibrium",)


class PygPooling(SetModel):
    """``rho(aggregation(phi(x) for x in X))`` with one of PyG's aggregations."""

    parallel_batches = False

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 aggregation: str = "sum", inputs: str = "tokens",
                 max_elements: int = 10, outputs: int = 1) -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs, outputs)
        if aggregation not in AGGREGATIONS and ":" not in aggregation:
            raise ValueError(f"aggregation={aggregation!r} is not allowed; use one of "
                             + ", ".join(AGGREGATIONS) + ", or package.module:ClassName")
        self.aggregation, self.max_elements = aggregation, max_elements
        self.fc1 = nn.Linear(embedding_dim, hidden_dim)
        self.act = nn.Tanh()
        self.pool = (AGGREGATIONS[aggregation][1](hidden_dim, max_elements)
                     if aggregation in AGGREGATIONS
                     else own_aggregation(aggregation, hidden_dim))
        with torch.no_grad():  # how wide the pooled vector is: one set of two elements
            width = self.pool(torch.zeros(2, hidden_dim), torch.zeros(2, dtype=torch.long),
                              dim_size=1).shape[-1]
        self.rho = nn.Sequential(nn.Linear(width, hidden_dim), nn.Tanh(),
                                 nn.Linear(hidden_dim, outputs))

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "aggregation": self.aggregation,
                "max_elements": self.max_elements}

    def not_applicable(self, size: int) -> str | None:
        """Why sets of ``size`` elements are beyond this model (``BOUNDED``); else None."""
        if self.aggregation in BOUNDED and size > self.max_elements:
            return (f"not applicable beyond size {self.max_elements}: "
                    f"{AGGREGATIONS[self.aggregation][0].split(':')[0]} reads at most "
                    f"max_num_elements={self.max_elements} elements (PyG drops the rest)")
        return None

    @property
    def differentiates(self) -> bool:
        """Whether the pooling takes gradients inside its forward (the equilibrium's
        optimization), so that predicting needs autograd on (``evaluate.predict``)."""
        return self.aggregation in ALONE

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """The per-element network: tokens (...) -> features (..., H)."""
        return self.act(self.fc1(self.embedding(x)))

    def elements(self, x: torch.Tensor, mask: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The real elements' features (E, H) and the set each belongs to (E,), in order."""
        real = self.real(x, mask)  # (B, N)
        rows = torch.arange(len(x), device=x.device).unsqueeze(1).expand_as(real)[real]
        return self.phi(x[real]), rows

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h, index = self.elements(x, mask)
        if self.aggregation in ALONE:
            pooled = self.pool_alone(h, index, len(x))
        elif self.aggregation in BY_SIZE:
            pooled = self.pool_by_size(h, index, len(x))
        else:
            pooled = self.pool(h, index, dim_size=len(x))  # (B, W)
        return self.readout(self.rho(pooled))  # (B,)

    def pool_by_size(self, h: torch.Tensor, index: torch.Tensor, n_sets: int) -> torch.Tensor:
        """The pooled vectors (B, W), the sets of one size together (``BY_SIZE``)."""
        sizes = torch.bincount(index, minlength=n_sets)  # (B,)
        pooled = None
        for size in torch.unique(sizes):
            rows = torch.nonzero(sizes == size).squeeze(1)  # (G,), sorted
            mine = sizes[index] == size  # the elements of those sets
            values = self.pool(h[mine], torch.searchsorted(rows, index[mine]),
                               dim_size=len(rows))
            if pooled is None:
                pooled = values.new_empty(n_sets, values.shape[-1])
            pooled[rows] = values
        return pooled

    def pool_alone(self, h: torch.Tensor, index: torch.Tensor, n_sets: int) -> torch.Tensor:
        """The pooled vectors (B, W), each set alone (``ALONE``): its elements are one run of
        ``h``, since ``index`` is sorted."""
        counts = torch.bincount(index, minlength=n_sets).tolist()
        with torch.enable_grad():  # the equilibrium optimizes inside, even to predict
            return torch.cat([self.pool(part, part.new_zeros(len(part), dtype=torch.long),
                                        dim_size=1) for part in h.split(counts)])
