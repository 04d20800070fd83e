"""Set Transformer (Lee et al. 2019), with padding masked out of every attention."""

from __future__ import annotations

import torch
from torch import nn

from deepsets.data import PAD
from deepsets.models.base import SetModel


class MAB(nn.Module):
    """Multihead attention block (Lee et al. 2019): H = X + att(X, Y); out = H + rFF(H)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.att = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, q: torch.Tensor, kv: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        h = q + self.att(q, kv, kv, key_padding_mask=pad, need_weights=False)[0]
        return h + self.ff(h)


class SetTransformer(SetModel):
    """Set Transformer (Lee et al. 2019): two self-attention blocks (SAB), then pooling by
    multihead attention (PMA) with one seed vector, then a linear layer.

    Unlike the official code, padding is masked out of every attention: a pad
    token is never attended to, so the output is the same whatever the padding,
    and the model is permutation invariant.
    """

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 heads: int = 4, inputs: str = "tokens") -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs)
        self.heads = heads
        self.proj = nn.Linear(embedding_dim, hidden_dim)
        self.sab1, self.sab2, self.pma = (MAB(hidden_dim, heads) for _ in range(3))
        self.seed = nn.Parameter(torch.randn(1, 1, hidden_dim) / hidden_dim ** 0.5)
        self.fc = nn.Linear(hidden_dim, 1)

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "heads": self.heads}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = x == PAD  # (B, N): True where attention must not look
        z = self.proj(self.embedding(x))  # (B, N) -> (B, N, H)
        z = self.sab1(z, z, pad)
        z = self.sab2(z, z, pad)  # (B, N, H): every element attends to the set's digits
        seed = self.seed.expand(len(x), -1, -1)  # (B, 1, H)
        return self.fc(self.pma(seed, z, pad)[:, 0]).squeeze(-1)  # (B, 1, H) -> (B,)
