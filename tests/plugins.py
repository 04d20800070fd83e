"""Plug-in models for the sweep's tests."""

from torch import nn


class DigitsOnly(nn.Module):
    """A model for digit tokens only: on the images task (1,798 tokens) it refuses to build,
    so a sweep over sum and images has runs that fail and runs that finish."""

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        if input_dim > 11:
            raise ValueError(f"DigitsOnly takes digit tokens, not {input_dim - 1} images")
        self.embedding = nn.Embedding(input_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        return self.out(self.embedding(x).sum(dim=1)).squeeze(-1)


class TenAtMost(DigitsOnly):
    """DigitsOnly that says it does not apply to sets of more than 10 elements."""

    def not_applicable(self, size: int) -> str | None:
        return f"not applicable beyond size 10: TenAtMost got {size}" if size > 10 else None


try:  # a user's own PyG aggregation (the pyg extra)
    from torch_geometric.nn.aggr import Aggregation

    class TwiceTheSum(Aggregation):
        """Twice the sum of a set's features."""

        def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
            return 2 * self.reduce(x, index, ptr, dim_size, dim, reduce="sum")
    class Broken(Aggregation):
        """An aggregation that fails on every set."""

        def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
            raise RuntimeError("Broken cannot pool")
except ImportError:
    pass


def digest_job(data, *, progress, outbox, stop):
    """A job that says which bytes it was given, and in which process."""
    import hashlib
    import os
    import pickle

    return hashlib.sha256(pickle.dumps(data)).hexdigest(), os.getpid()
