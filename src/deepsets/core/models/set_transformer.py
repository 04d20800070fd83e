"""Set Transformer (Lee et al. 2019), with padding masked out of every attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deepsets.core.models.base import SetModel


class MAB(nn.Module):
    """Multihead attention block (Lee et al. 2019): H = X + att(X, Y); out = H + rFF(H).

    The parameters are an ``nn.MultiheadAttention``'s (``att``) and the
    row-wise feed-forward layers (``ff``). ``attend`` computes the attention
    itself: a set holds at most a few dozen elements, where one batched
    product per step is much cheaper than the general kernel.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.att = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def project(self, x: torch.Tensor, part: slice) -> torch.Tensor:
        """Rows of ``x`` through a part of the input projection: q, k, v = [0:H], [H:2H], ..."""
        return F.linear(x, self.att.in_proj_weight[part], self.att.in_proj_bias[part])

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               keep: torch.Tensor, full: bool = False) -> torch.Tensor:
        """Attention of projected queries (B, L, H) over keys and values (B, N, H), each
        query's weights over the kept elements only (``keep``: (B heads, 1, N), 1 or 0);
        then the output projection. ``full``: every element is kept, and PyTorch's fused
        attention computes it in memory linear in N (the large sets of vectors)."""
        (B, L, H), N, h = q.shape, k.shape[1], self.heads
        d = H // h
        if full:
            q, k, v = (t.reshape(B, -1, h, d).transpose(1, 2) for t in (q, k, v))
            out = F.scaled_dot_product_attention(q, k, v)  # (B, h, L, d)
            return self.att.out_proj(out.transpose(1, 2).reshape(B, L, H))
        q = q.reshape(B, L, h, d).transpose(1, 2).reshape(B * h, L, d)
        k = k.reshape(B, N, h, d).transpose(1, 2).reshape(B * h, N, d)
        v = v.reshape(B, N, h, d).transpose(1, 2).reshape(B * h, N, d)
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d)  # (B h, L, N)
        # softmax over the kept elements: shifted by their largest score (a pad's score may
        # be larger: its exp is capped at 1, then masked), exp, normalised
        top = scores.masked_fill(keep == 0, -torch.inf).amax(-1, keepdim=True)
        weights = (scores - top).clamp_max(0).exp() * keep
        weights = weights / weights.sum(-1, keepdim=True)
        out = torch.bmm(weights, v).reshape(B, h, L, d).transpose(1, 2).reshape(B, L, H)
        return self.att.out_proj(out)

    def block(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The residual and the feed-forward around an attention output."""
        h = x + attended
        return h + self.ff(h)


class SetTransformer(SetModel):
    """Set Transformer (Lee et al. 2019): two self-attention blocks (SAB), then pooling by
    multihead attention (PMA) with one seed vector, then a linear layer.

    Unlike the official code, padding is masked out of every attention: a pad
    token is never attended to, so the output is the same whatever the padding,
    and the model is permutation invariant. Since nothing reads a pad token's
    own output, the row-wise layers run on the real elements only (packed),
    and for digit tokens the first block's input projection is a per-token
    table (vectors: an MLP on each). The same function as attention through
    ``nn.MultiheadAttention`` on every row (tested).
    """

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 heads: int = 4, inputs: str = "tokens", outputs: int = 1) -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs, outputs)
        self.heads = heads
        self.proj = nn.Linear(embedding_dim, hidden_dim)
        self.sab1, self.sab2, self.pma = (MAB(hidden_dim, heads) for _ in range(3))
        self.seed = nn.Parameter(torch.randn(1, 1, hidden_dim) / hidden_dim ** 0.5)
        self.fc = nn.Linear(hidden_dim, outputs)

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "heads": self.heads}

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        (B, N), H = x.shape[:2], self.hidden_dim
        keep = self.real(x, mask)  # (B, N): the elements attention may look at
        rows = keep.flatten().nonzero().squeeze(1)  # (T,): where the real elements sit
        elements = x.flatten(0, 1)[rows]  # (T,) tokens or (T, D) vectors

        def padded(values: torch.Tensor) -> torch.Tensor:  # (T, W) -> (B, N, W), pads zero
            out = values.new_zeros(B * N, values.shape[1]).index_copy(0, rows, values)
            return out.view(B, N, -1)

        def packed(values: torch.Tensor) -> torch.Tensor:  # (B, N, W) -> (T, W)
            return values.reshape(B * N, -1)[rows]

        if self.inputs == "tokens":  # 11 tokens: embedding, proj and sab1's q, k, v as tables
            table = self.proj(self.embedding.weight)  # (V, H)
            z, qkv = table[elements], self.sab1.project(table, slice(None))[elements]
        else:
            z = self.proj(self.embedding(elements))  # (T, H)
            qkv = self.sab1.project(z, slice(None))
        qkv = padded(qkv)  # (B, N, 3H)
        full = self.inputs == "vectors" and bool(keep.all())  # no padding to mask
        keep = keep.to(qkv.dtype).repeat_interleave(self.heads, dim=0).unsqueeze(1)
        z = self.sab1.block(z, packed(self.sab1.attend(*qkv.split(H, -1), keep, full)))
        qkv = padded(self.sab2.project(z, slice(None)))
        z = self.sab2.block(z, packed(self.sab2.attend(*qkv.split(H, -1), keep, full)))
        k, v = padded(self.pma.project(z, slice(H, None))).split(H, -1)  # (B, N, H) each
        seed = self.seed.expand(B, -1, -1)  # (B, 1, H): one query per set
        q = self.pma.project(self.seed, slice(0, H)).expand(B, -1, -1)
        pooled = self.pma.block(seed, self.pma.attend(q, k, v, keep, full))
        return self.readout(self.fc(pooled[:, 0]))  # (B, 1, H) -> (B,)
