"""A plug-in set model for sets of vectors: DeepSets with MLPs, its inputs and outputs
standardized by the training sets.

A plug-in that takes vectors says so (``takes``) and gets (B, N, D) float32 values as
the task draws them (U[0, 100] for ``reals-*``, samples of a Gaussian, points of a
cloud): every batch holds sets of one size, all N elements real, so ``forward`` gets
no mask. ``Standardize`` layers are fitted by the trainer from the training sets before
the first step, as the built-in models standardize theirs:

    deepsets compare --quick --tasks reals-max,reals-sum --models deepsets-max \\
        --model examples.vector_sum:VectorSum
"""

import torch
from torch import nn

from deepsets.core.models import Standardize


class VectorSum(nn.Module):
    """rho(sum over the set of phi(x)), for a regression over vectors (one output)."""

    takes = ("vectors",)  # the inputs it learns from (default: tokens and images)

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.elements = Standardize(input_dim)  # each coordinate to mean 0, deviation 1
        self.targets = Standardize(of="targets")  # outputs back in the targets' units
        self.phi = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.phi(self.elements(x)).sum(dim=1)  # (B, N, D) -> (B, N, H) -> (B, H)
        return self.targets.inverse(self.rho(h)).squeeze(-1)  # (B, 1) -> (B,)
