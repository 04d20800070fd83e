"""Set models of the handout (tasks 3 and 4), behind one interface.

Every model maps a LongTensor of tokens (B, N) to one float prediction per
set (B,), for any N. Token 0 is padding and 1..10 are digits; ``input_dim``
is the vocabulary size (11). ``model_args`` holds what rebuilds the model
from a checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepsets.data import PAD, digit_images


class PixelEmbedding(nn.Module):
    """Image tokens to vectors: an MLP on the pixels of scikit-learn's 8x8 digit images.

    Token t > 0 is image t - 1; token 0 (padding) is an all-black image. The
    pixels are a fixed buffer rebuilt from scikit-learn, not saved in checkpoints.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        pixels = torch.as_tensor(digit_images()[0])
        if num_embeddings != len(pixels) + 1:
            raise ValueError(f"input_dim={num_embeddings} does not fit {len(pixels)} images "
                             f"(use {len(pixels) + 1})")
        self.register_buffer("pixels", torch.cat([torch.zeros(1, pixels.shape[1]), pixels]),
                             persistent=False)
        self.mlp = nn.Sequential(nn.Linear(pixels.shape[1], embedding_dim), nn.ReLU(),
                                 nn.Linear(embedding_dim, embedding_dim))

    @property
    def weight(self) -> torch.Tensor:
        """Every token's vector, (V, E), as ``nn.Embedding.weight`` is."""
        return self.mlp(self.pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.pixels[x])  # (B, N) -> (B, N, 64) -> (B, N, E)


class SetModel(nn.Module):
    """What the models share: constructor arguments, ``model_args`` and ``__repr__``."""

    #: True when the output cannot depend on the order of a set's elements.
    permutation_invariant: bool = False
    #: Intra-op threads that train this model fastest at batch 64 (measured with
    #: ``make bench``); fixed, so results do not depend on the machine's core count.
    train_threads: int = 1
    #: Evaluate batches side by side in threads, one intra-op thread each: faster
    #: when a batch is a few large kernels (the recurrent models) than splitting
    #: each kernel across threads; slower when it is many tiny ones (DeepSets).
    parallel_batches: bool = True

    def __init__(self, input_dim: int, embedding_dim: int, hidden_dim: int,
                 inputs: str = "tokens") -> None:
        super().__init__()
        if inputs not in ("tokens", "images"):
            raise ValueError(f"inputs={inputs!r} is not allowed; use tokens or images")
        self.input_dim = input_dim
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.inputs = inputs
        # tokens: a learned vector per token; images: an MLP on the pixels of each image
        self.embedding = (nn.Embedding(input_dim, embedding_dim) if inputs == "tokens"
                          else PixelEmbedding(input_dim, embedding_dim))

    @property
    def model_args(self) -> dict:
        return {"input_dim": self.input_dim, "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim, "inputs": self.inputs}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_args.items())

    def l1_loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training step's loss: mean L1 error on a batch, its gradients added to ``.grad``.

        Returns the loss, detached. Here through autograd; a model may override
        it with a faster computation of the same gradients.
        """
        loss = F.l1_loss(self(x), y)
        loss.backward()
        return loss.detach()


class DeepSets(SetModel):
    """DeepSets (Zaheer et al. 2017; handout task 3): ``rho(sum_x phi(x))``.

    phi is an embedding to h1 followed by a linear layer to h2 and tanh (or
    ReLU, as in handout question 1); the sum over the set makes the model
    permutation invariant; rho is a linear layer to one unit. As in the
    handout, padding is not masked by default: the pad token has its own
    embedding and adds ``phi(0)`` once per padding slot. With
    ``mask_padding`` the pad token adds nothing, as an absent element should.

    phi sees only 11 distinct tokens, so it is computed once per vocabulary
    row and the set's sum of phi is the token counts times that table:
    the same function and gradients as phi on every token, at a fraction of
    the cost (``forward_per_token`` is the direct form, kept for checks).
    """

    permutation_invariant = True
    parallel_batches = False  # a batch is a few tiny operations; threads would wait on the GIL
    ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
    POOLINGS = ("sum", "mean", "max")

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                 activation: str = "tanh", mask_padding: bool = False,
                 pooling: str = "sum", inputs: str = "tokens") -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not allowed; use "
                             + " or ".join(self.ACTIVATIONS))
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling={pooling!r} is not allowed; use "
                             + ", ".join(self.POOLINGS))
        self.activation, self.mask_padding, self.pooling = activation, bool(mask_padding), pooling
        self.fc1 = nn.Linear(embedding_dim, hidden_dim)
        self.act = self.ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden_dim, 1)

    @property
    def model_args(self) -> dict:
        return {**super().model_args, "activation": self.activation,
                "mask_padding": self.mask_padding, "pooling": self.pooling}

    def phi_table(self) -> torch.Tensor:
        """phi of every vocabulary token: (V, h2); row 0 is zero when padding is masked."""
        table = self.act(self.fc1(self.embedding.weight))  # (V, E) -> (V, H)
        if self.mask_padding:
            table = torch.cat([torch.zeros_like(table[:1]), table[1:]])
        return table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs == "images":  # 1,797 image tokens: a table would cost more than it saves
            return self.forward_per_token(x)
        counts = token_counts(x, self.input_dim)  # (B, N) -> (B, V)
        table = self.phi_table()  # (V, H)
        if self.pooling == "sum":
            pooled = counts @ table  # (B, V) @ (V, H) -> (B, H): sum of phi
        elif self.pooling == "mean":  # mean over the set's digits, padding left out
            digits = counts[:, 1:]  # (B, V - 1)
            pooled = digits @ table[1:] / digits.sum(1, keepdim=True).clamp_min(1)
        else:  # max over the digits present in the set, padding left out
            present = (counts[:, 1:] > 0).unsqueeze(-1)  # (B, V - 1, 1)
            pooled = torch.where(present, table[1:], -torch.inf).amax(dim=1)  # (B, H)
        return self.fc2(pooled).squeeze(-1)  # (B, H) -> (B,)

    @torch.no_grad()
    def l1_loss_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training step with sum pooling, its gradients in closed form (no autograd graph).

        With ``pooled = counts @ table``, ``table = act(E W1^T + b1)`` and
        ``pred = pooled . w2 + b2``, the gradient of the mean L1 loss is
        ``g = sign(pred - y) / B`` per set; it reaches each vocabulary row of
        the table as ``(counts^T g) w2^T`` and the embedding and fc1 through
        the activation's derivative. The same gradients as autograd (tested),
        1.5x faster than autograd at batch 64 (`benchmarks/step_profile.py`).
        """
        if self.inputs != "tokens" or self.pooling != "sum":
            with torch.enable_grad():
                return super().l1_loss_backward(x, y)
        emb, fc1, fc2 = self.embedding.weight, self.fc1, self.fc2
        counts = token_counts(x, self.input_dim)  # (B, N) -> (B, V)
        table = self.phi_table()  # (V, H)
        if self.mask_padding:
            counts[:, PAD] = 0  # the pad token adds nothing, and so gets no gradient
        pooled = counts @ table  # (B, V) @ (V, H) -> (B, H)
        error = fc2(pooled).squeeze(-1) - y  # (B,)
        g = error.sign() / len(y)  # d loss / d prediction, as F.l1_loss's backward
        slope = 1 - table * table if self.activation == "tanh" else (table > 0).to(table.dtype)
        d_pre = torch.outer(counts.t() @ g, fc2.weight[0]) * slope  # (V, H) before the activation
        grads = {emb: d_pre @ fc1.weight, fc1.weight: d_pre.t() @ emb, fc1.bias: d_pre.sum(0),
                 fc2.weight: (g @ pooled).unsqueeze(0), fc2.bias: g.sum().unsqueeze(0)}
        for param, grad in grads.items():
            param.grad = grad if param.grad is None else param.grad.add_(grad)
        return error.abs().mean()

    def forward_per_token(self, x: torch.Tensor) -> torch.Tensor:
        """The handout's forward, phi applied to every token; same values as ``forward``."""
        h = self.act(self.fc1(self.embedding(x)))  # (B, N) -> (B, N, H)
        real = (x != PAD).unsqueeze(-1)  # (B, N, 1)
        if self.pooling == "mean":
            pooled = (h * real).sum(1) / real.sum(1).clamp_min(1)
        elif self.pooling == "max":
            pooled = h.masked_fill(~real, -torch.inf).amax(dim=1)
        else:
            pooled = (h * real if self.mask_padding else h).sum(dim=1)  # (B, N, H) -> (B, H)
        return self.fc2(pooled).squeeze(-1)  # (B, H) -> (B,)


class LSTM(SetModel):
    """The handout's recurrent baseline (task 4): embedding, one LSTM layer, linear.

    Not permutation invariant: it reads a set as a sequence and its output
    depends on the order of the digits (and on where the padding is). The
    prediction is read from the hidden state of the last time step, which for
    left-padded sets is the last digit.

    The parameters are an ``nn.LSTM``'s. The input projection of a token,
    ``W_ih e_x + b_ih + b_hh``, takes only 11 values, so the forward computes
    that (V, 4H) table once and feeds the fused LSTM kernel one-hot tokens
    with the table as its input weights: the same function and gradients as
    ``nn.LSTM`` on the embeddings, with an input projection 12 times smaller
    (``forward_nn`` is ``nn.LSTM`` itself, kept for checks).
    """

    train_threads = 2  # the fused kernel's matrix products gain from a second thread

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128,
                 hidden_dim: int = 64, inputs: str = "tokens") -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def gate_table(self) -> torch.Tensor:
        """Every token's input to the four gates: (V, 4H)."""
        lstm = self.lstm
        return torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, self.embedding.weight,
                           lstm.weight_ih_l0.t())  # (V, E) @ (E, 4H) -> (V, 4H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs == "images":  # 1,797 image tokens: a table would cost more than it saves
            return self.forward_nn(x)
        table = self.gate_table()
        onehot = F.one_hot(x, self.input_dim).to(table.dtype)  # (B, N) -> (B, N, V)
        h0 = table.new_zeros(1, x.shape[0], self.hidden_dim)
        # nn.LSTM's own kernel, with the table as input weights and no separate biases
        out, _, _ = torch.lstm(onehot, (h0, h0), [table.t().contiguous(), self.lstm.weight_hh_l0],
                               False, 1, 0.0, self.training, False, True)  # (B, N, H)
        return self.fc(out[:, -1]).squeeze(-1)  # last step (B, H) -> (B,)

    def forward_nn(self, x: torch.Tensor) -> torch.Tensor:
        """The handout's forward through ``nn.LSTM``; same values as ``forward``."""
        out, _ = self.lstm(self.embedding(x))  # (B, N) -> (B, N, E) -> (B, N, H)
        return self.fc(out[:, -1]).squeeze(-1)  # last step (B, H) -> (B,)


class GRU(SetModel):
    """The DeepSets paper's third baseline: embedding, one GRU layer, linear.

    Not permutation invariant, like the LSTM. As there, the input projection
    is a per-token table fed to ``nn.GRU``'s kernel with one-hot tokens
    (``b_hh`` stays separate: the GRU multiplies its n-gate part by r).
    """

    train_threads = 2

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128,
                 hidden_dim: int = 64, inputs: str = "tokens") -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs)
        self.gru = nn.GRU(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inputs == "images":  # 1,797 image tokens: a table would cost more than it saves
            return self.forward_nn(x)
        gru = self.gru
        table = torch.addmm(gru.bias_ih_l0, self.embedding.weight, gru.weight_ih_l0.t())
        onehot = F.one_hot(x, self.input_dim).to(table.dtype)  # (B, N) -> (B, N, V)
        h0 = table.new_zeros(1, x.shape[0], self.hidden_dim)
        params = [table.t().contiguous(), gru.weight_hh_l0, torch.zeros_like(gru.bias_ih_l0),
                  gru.bias_hh_l0]
        out, _ = torch.gru(onehot, h0, params, True, 1, 0.0, self.training, False, True)
        return self.fc(out[:, -1]).squeeze(-1)  # last step (B, H) -> (B,)

    def forward_nn(self, x: torch.Tensor) -> torch.Tensor:
        """Through ``nn.GRU`` itself; same values as ``forward``."""
        out, _ = self.gru(self.embedding(x))
        return self.fc(out[:, -1]).squeeze(-1)


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

    permutation_invariant = True

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


def token_counts(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """How often each token occurs in each set: (B, N) int -> (B, V) float."""
    counts = torch.zeros(x.shape[0], vocab, device=x.device)
    return counts.scatter_add_(1, x, torch.ones(x.shape, device=x.device))


def check_tokens(x: torch.Tensor, vocab: int) -> torch.Tensor:
    """``x`` if it is a (B, N) integer tensor of tokens in 0..vocab-1, else ValueError."""
    if x.dim() != 2 or x.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"sets must be a 2-D integer array (sets x digits), got {x.dim()}-D "
                         f"{x.dtype}")
    if x.numel():
        low, high = torch.aminmax(x)
        if low < 0 or high >= vocab:
            raise ValueError(f"tokens must lie in 0..{vocab - 1} (0 is padding), got "
                             f"{int(low)}..{int(high)}")
    return x


#: The models by the names the CLI and the run folder use.
MODELS: dict[str, type[SetModel]] = {
    "deepsets": DeepSets, "lstm": LSTM, "gru": GRU, "set-transformer": SetTransformer,
    "deepsets-mean": DeepSets, "deepsets-max": DeepSets,
}
#: Constructor arguments that make a named variant of a model class.
VARIANTS: dict[str, dict] = {"deepsets-mean": {"pooling": "mean"},
                             "deepsets-max": {"pooling": "max"}}


def build_model(name: str, **model_args) -> SetModel:
    """A fresh model by name, e.g. ``build_model("lstm", input_dim=11, ...)``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from " + ", ".join(MODELS))
    return MODELS[name](**{**VARIANTS.get(name, {}), **model_args})
