"""Plain handout-style models: the independent reference for the package's fast paths.

Written the way the handout's template is, with nothing shared with the
package: phi runs on every token, ``nn.LSTM`` and ``nn.GRU`` run on the
embeddings. Parameter names match the package's models, so a package model's
weights load into these with ``load_state_dict`` (DeepSets' phi layer and linear rho, the
package's ``encoder.0`` and ``rho``, keep the handout's names ``fc1`` and ``fc2`` here).
"""

from __future__ import annotations

import torch
from torch import nn


class PlainDeepSets(nn.Module):
    """rho(pool_x phi(x)), phi = activation(fc1(embedding(x))) on every token."""

    def __init__(self, input_dim=11, embedding_dim=128, hidden_dim=64, activation="tanh",
                 mask_padding=False, pooling="sum"):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.fc1 = nn.Linear(embedding_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, 1)
        self.activation, self.mask_padding, self.pooling = activation, mask_padding, pooling

    def forward(self, x):
        h = self.fc1(self.embedding(x))
        h = torch.tanh(h) if self.activation == "tanh" else torch.relu(h)
        digit = (x != 0).unsqueeze(-1).float()  # 1 for a digit, 0 for padding
        if self.pooling == "sum":
            pooled = (h * digit).sum(1) if self.mask_padding else h.sum(1)
        elif self.pooling == "mean":
            pooled = (h * digit).sum(1) / digit.sum(1)
        else:
            pooled = torch.where(digit > 0, h, torch.full_like(h, -1e30)).max(dim=1).values
        return self.fc2(pooled).squeeze(-1)


class PlainLSTM(nn.Module):
    """nn.LSTM on the embeddings; the prediction from the last step's output."""

    def __init__(self, input_dim=11, embedding_dim=128, hidden_dim=64):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        return self.fc(out[:, -1, :]).squeeze(-1)


class PlainGRU(nn.Module):
    """nn.GRU on the embeddings; the prediction from the last step's output."""

    def __init__(self, input_dim=11, embedding_dim=128, hidden_dim=64):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.gru = nn.GRU(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        out, _ = self.gru(self.embedding(x))
        return self.fc(out[:, -1, :]).squeeze(-1)


def oracle_for(model):
    """The plain counterpart of a package model, holding the same weights."""
    args = {k: model.model_args[k] for k in ("input_dim", "embedding_dim", "hidden_dim")}
    name = type(model).__name__
    if name == "DeepSets":
        plain = PlainDeepSets(**args, activation=model.activation,
                              mask_padding=model.mask_padding, pooling=model.pooling)
    elif name == "SetTransformer":
        plain = PlainSetTransformer(**args, heads=model.heads)
    else:
        plain = {"LSTM": PlainLSTM, "GRU": PlainGRU}[name](**args)
    plain.load_state_dict(handout_names(model.state_dict()))
    return plain


def handout_names(state: dict) -> dict:
    """A package model's weights under the handout's names: phi's layer ``fc1``, rho
    ``fc2``."""
    names = {"encoder.0.": "fc1.", "rho.": "fc2."}
    renamed = {}
    for key, value in state.items():
        for ours, handout in names.items():
            if key.startswith(ours):
                key = handout + key.removeprefix(ours)
        renamed[key] = value
    return renamed


class PlainMAB(nn.Module):
    """Attention through nn.MultiheadAttention on every row, then the feed-forward."""

    def __init__(self, dim, heads):
        super().__init__()
        self.att = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, q, kv, pad):
        h = q + self.att(q, kv, kv, key_padding_mask=pad, need_weights=False)[0]
        return h + self.ff(h)


class PlainSetTransformer(nn.Module):
    """SAB, SAB, PMA with one seed, linear; padding masked out of every attention."""

    def __init__(self, input_dim=11, embedding_dim=128, hidden_dim=64, heads=4):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, embedding_dim)
        self.proj = nn.Linear(embedding_dim, hidden_dim)
        self.sab1, self.sab2, self.pma = (PlainMAB(hidden_dim, heads) for _ in range(3))
        self.seed = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        pad = x == 0
        z = self.proj(self.embedding(x))
        z = self.sab1(z, z, pad)
        z = self.sab2(z, z, pad)
        seed = self.seed.expand(len(x), -1, -1)
        return self.fc(self.pma(seed, z, pad)[:, 0]).squeeze(-1)
