"""A plug-in set model: DeepSets with a two-layer phi and a two-layer rho.

Any importable ``nn.Module`` that maps a (B, N) LongTensor of tokens to (B,)
predictions joins a sweep beside the built-in models:

    deepsets compare --quick --model examples.sum_mlp:SumMLP

It is built with the constructor arguments it names of ``input_dim`` (the
vocabulary, padding included), ``embedding_dim``, ``hidden_dim`` and
``inputs``. Token 0 is padding.
"""

import torch
from torch import nn


class SumMLP(nn.Module):
    """rho(sum of phi(x) over the set's elements), padding left out; both MLPs."""

    def __init__(self, input_dim: int, embedding_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.input_dim = input_dim  # lets the trainer check the tokens
        self.embedding = nn.Embedding(input_dim, embedding_dim, padding_idx=0)
        self.phi = nn.Sequential(nn.Linear(embedding_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
        self.rho = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.phi(self.embedding(x))  # (B, N) -> (B, N, H)
        h = h * (x != 0).unsqueeze(-1)  # padding adds nothing
        return self.rho(h.sum(dim=1)).squeeze(-1)  # (B, H) -> (B,)
