"""DeepSets (Zaheer et al. 2017; handout task 3): ``rho(sum_x phi(x))``, and its poolings
mean, max and LAF (Pellegrini et al. 2021, ``laf.LAFAggregation``)."""

from __future__ import annotations

import torch
from torch import nn

from deepsets.core.models.base import SetModel, token_counts
from deepsets.core.models.laf import LAFAggregation


class DeepSets(SetModel):
    """DeepSets (Zaheer et al. 2017; handout task 3): ``rho(sum_x phi(x))``.

    phi is an embedding to h1 followed by a linear layer to h2 and tanh (or
    ReLU, as in handout question 1); the sum over the set makes the model
    permutation invariant; rho is a linear layer to one unit. The pooling may be
    the mean or the max instead, or LAF: phi's features squashed into (0, 1) by a
    sigmoid, then ``LAF_UNITS`` learned aggregations of each (the paper's
    ``sigmoid -> LAFLayer``), so rho reads H x LAF_UNITS numbers. As in the
    handout, padding is not masked by default: the pad token has its own
    embedding and adds ``phi(0)`` once per padding slot. With
    ``mask_padding`` the pad token adds nothing, as an absent element should.

    Two forwards compute the same function:
    - ``forward_each_element``: the handout's, phi on every element of every
      set. Images take it: their 1,797 tokens make a table cost more than it saves;
      vectors too, which have no table, and their padding is always masked (a
      position the mask calls empty adds nothing).
    - ``forward_token_table``: phi sees only 11 distinct tokens, so it is
      computed once per vocabulary token and a set pools the table rows by
      its token counts: the same values and gradients (tested against a plain
      DeepSets) at a fraction of the cost.
    """

    parallel_batches = False  # a batch is a few tiny operations; threads would wait on the GIL
    ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
    POOLINGS = ("sum", "mean", "max", "laf")
    #: LAF's units per feature (the paper's MNIST model has 60 on 30 features; 9 on our
    #: 64 keeps rho's input at 576 and a set of 1,600 vectors' powers within memory)
    LAF_UNITS = 9

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 activation: str = "tanh", mask_padding: bool = False,
                 pooling: str = "sum", inputs: str = "tokens", outputs: int = 1) -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs, outputs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not allowed; use "
                             + " or ".join(self.ACTIVATIONS))
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling={pooling!r} is not allowed; use "
                             + ", ".join(self.POOLINGS))
        self.activation, self.mask_padding, self.pooling = activation, bool(mask_padding), pooling
        self.fc1 = nn.Linear(embedding_dim, hidden_dim)
        self.act = self.ACTIVATIONS[activation]()
        if pooling == "laf":
            self.laf = LAFAggregation(self.LAF_UNITS)
        self.fc2 = nn.Linear(hidden_dim * (self.LAF_UNITS if pooling == "laf" else 1), outputs)

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "activation": self.activation,
                "mask_padding": self.mask_padding, "pooling": self.pooling}

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """The per-element network: tokens (...) -> features (..., H)."""
        return self.act(self.fc1(self.embedding(x)))

    def phi_table(self) -> torch.Tensor:
        """phi of every vocabulary token: (V, H); row 0 is zero when padding is masked."""
        table = self.act(self.fc1(self.embedding.weight))  # (V, E) -> (V, H)
        if self.mask_padding:
            table = torch.cat([torch.zeros_like(table[:1]), table[1:]])
        return table

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.inputs != "tokens":
            return self.forward_each_element(x, mask)
        return self.forward_token_table(x)

    def forward_each_element(self, x: torch.Tensor,
                             mask: torch.Tensor | None = None) -> torch.Tensor:
        """The handout's forward: phi on every element, then the pooling and rho."""
        h = self.phi(x)  # (B, N) or (B, N, D) -> (B, N, H)
        real = self.real(x, mask).unsqueeze(-1)  # (B, N, 1)
        if self.pooling == "mean":
            pooled = (h * real).sum(1) / real.sum(1).clamp_min(1)
        elif self.pooling == "max":
            pooled = h.masked_fill(~real, -torch.inf).amax(dim=1)
        elif self.pooling == "laf":  # over the set's elements, padding left out
            pooled = self.laf(torch.sigmoid(h), real.squeeze(-1))  # (B, H * LAF_UNITS)
        else:  # pad tokens add phi(0) unless masked; an empty vector position adds nothing
            masked = self.mask_padding or self.inputs == "vectors"
            pooled = (h * real if masked else h).sum(dim=1)  # (B, N, H) -> (B, H)
        return self.readout(self.fc2(pooled))  # (B, H) -> (B,)

    def forward_token_table(self, x: torch.Tensor) -> torch.Tensor:
        """phi once per vocabulary token, pooled by each set's token counts."""
        table = self.phi_table()  # (V, H)
        counts = token_counts(x, self.input_dim, table.dtype)  # (B, N) -> (B, V)
        if self.pooling == "sum":
            pooled = counts @ table  # (B, V) @ (V, H) -> (B, H): the sum of phi over the set
        elif self.pooling == "mean":  # over the set's digits, padding left out
            digits = counts[:, 1:]  # (B, V - 1)
            pooled = digits @ table[1:] / digits.sum(1, keepdim=True).clamp_min(1)
        elif self.pooling == "laf":  # over the set's digits, padding left out
            pooled = self.laf.from_counts(counts[:, 1:], torch.sigmoid(table[1:]))
        else:  # max over the digits present in the set, padding left out
            present = (counts[:, 1:] > 0).unsqueeze(-1)  # (B, V - 1, 1)
            pooled = torch.where(present, table[1:], -torch.inf).amax(dim=1)  # (B, H)
        return self.readout(self.fc2(pooled))  # (B, H) -> (B,)
