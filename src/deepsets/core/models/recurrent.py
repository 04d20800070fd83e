"""The recurrent baselines: the handout's LSTM (task 4) and the DeepSets paper's GRU.

Neither is permutation invariant: each reads a set as a sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepsets.core import kernels
from deepsets.core.models.base import SetModel
from deepsets.core.models.parts import RHOS, choice


def run_rnn(kernel, inputs: torch.Tensor, hx, weights: list[torch.Tensor], *,
            has_biases: bool, train: bool, num_layers: int = 1, dropout: float = 0.0,
            bidirectional: bool = False, batch_first: bool = True) -> torch.Tensor:
    """``torch.lstm`` or ``torch.gru``, the fused kernels behind ``nn.LSTM`` and ``nn.GRU``,
    with their positional flags named; returns the outputs of every step (B, N, H)."""
    return kernel(inputs, hx, weights, has_biases, num_layers, dropout, train, bidirectional,
                  batch_first)[0]


class RecurrentSetModel(SetModel):
    """What the LSTM and the GRU share: an embedding, one recurrent layer, a readout of the
    last step's output (``rho``, of ``parts.RHOS``: the handout's is linear, as
    ``deepsets.rho``; ``lstm+rho=relu-mlp`` names another).

    Two forwards compute the same function:
    - ``forward_embeddings``: the layer on each element's embedding, the
      handout's; images take it (a table of 1,797 tokens would cost more), and vectors,
      whose real elements it reads in order (``mask``: the empty positions are skipped).
    - ``forward_gate_table``: a token's input projection takes only 11 values,
      so that table is computed once and fed to the fused kernel as input
      weights for one-hot tokens: an input projection 12 times smaller.
    """

    train_threads = 2  # the fused kernel's matrix products gain from a second thread
    PARTS = ("rho",)  # the parts a name may give (``models.split_parts``)
    #: The layer's class and attribute name (``lstm.weight_ih_l0``, as in ``nn.LSTM``).
    layer: type[nn.RNNBase]
    layer_name: str

    def __init__(self, input_dim: int = 11, embedding_dim: int = 128,
                 hidden_dim: int = 64, inputs: str = "tokens", outputs: int = 1,
                 rho: str = "linear") -> None:
        super().__init__(input_dim, embedding_dim, hidden_dim, inputs, outputs)
        self.add_module(self.layer_name, self.layer(embedding_dim, hidden_dim, batch_first=True))
        self.rho_name = rho
        self.fc = choice(RHOS, "rho", rho).build(hidden_dim, hidden_dim, outputs)

    @property
    def model_args(self) -> dict:
        """The readout is an argument only when it is not the handout's linear one, as
        checkpoints written before it was one say."""
        return {**super().model_args, **({"rho": self.rho_name} if self.rho_name != "linear"
                                         else {})}

    @property
    def rnn(self) -> nn.RNNBase:
        return getattr(self, self.layer_name)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.inputs != "tokens":
            return self.forward_embeddings(x, mask)
        return self.forward_gate_table(x)

    def forward_embeddings(self, x: torch.Tensor,
                           mask: torch.Tensor | None = None) -> torch.Tensor:
        """The recurrent layer on the embedding of every element; with ``mask`` on the real
        elements only, in their order, read after each set's last one."""
        embedded = self.embedding(x)  # (B, N) or (B, N, D) -> (B, N, E)
        if mask is None:
            out, _ = self.rnn(embedded)  # (B, N, H)
            return self.readout(self.fc(out[:, -1]))  # last step (B, H) -> (B,)
        real = self.real(x, mask)
        first = torch.argsort((~real).to(torch.int8), dim=1, stable=True)  # real ones first
        embedded = embedded.gather(1, first.unsqueeze(-1).expand_as(embedded))
        lengths = real.sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True,
                                                   enforce_sorted=False)
        _, last = self.rnn(packed)  # h_n (1, B, H); the LSTM's with its cell state
        h = last[0] if isinstance(last, tuple) else last
        return self.readout(self.fc(h[-1]))  # (B, H) -> (B,)

    def forward_gate_table(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class LSTM(RecurrentSetModel):
    """The handout's recurrent baseline (task 4): embedding, one LSTM layer, linear.

    Not permutation invariant: it reads a set as a sequence and its output
    depends on the order of the digits (and on where the padding is). The
    prediction is read from the hidden state of the last time step, which for
    left-padded sets is the last digit. The parameters are an ``nn.LSTM``'s.
    """

    layer, layer_name = nn.LSTM, "lstm"
    #: The compiled step runs each time step's products on one core: the lab trains
    #: DeepSets beside it on the other (``pipeline.default_jobs``).
    train_threads = 1

    def gate_table(self) -> torch.Tensor:
        """Every token's input to the four gates, ``W_ih e_x + b_ih + b_hh``: (V, 4H)."""
        lstm = self.lstm
        return torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, self.embedding.weight,
                           lstm.weight_ih_l0.t())  # (V, E) @ (E, 4H) -> (V, 4H)

    def forward_gate_table(self, x: torch.Tensor) -> torch.Tensor:
        """Training: the compiled step that skips the padding's shared work
        (``kernels``), where it is built. Otherwise PyTorch's fused LSTM kernel on
        one-hot tokens, the gate table as its input weights."""
        if kernels.trains_lstm(self, x):
            return kernels.lstm_prediction(self, x)
        table = self.gate_table()
        onehot = F.one_hot(x, self.input_dim).to(table.dtype)  # (B, N) -> (B, N, V)
        h0 = table.new_zeros(1, x.shape[0], self.hidden_dim)
        out = run_rnn(torch.lstm, onehot, (h0, h0),
                      [table.t().contiguous(), self.lstm.weight_hh_l0],
                      has_biases=False, train=self.training)  # (B, N, H); biases in the table
        return self.readout(self.fc(out[:, -1]))  # last step (B, H) -> (B,)


class GRU(RecurrentSetModel):
    """The DeepSets paper's third baseline: embedding, one GRU layer, linear.

    Not permutation invariant, like the LSTM. Its gate table holds
    ``W_ih e_x + b_ih`` only: ``b_hh`` stays separate, as the GRU multiplies
    its n-gate part by r.
    """

    layer, layer_name = nn.GRU, "gru"

    def forward_gate_table(self, x: torch.Tensor) -> torch.Tensor:
        """The fused GRU kernel on one-hot tokens, the (V, 3H) input table as its weights."""
        gru = self.gru
        table = torch.addmm(gru.bias_ih_l0, self.embedding.weight, gru.weight_ih_l0.t())
        onehot = F.one_hot(x, self.input_dim).to(table.dtype)  # (B, N) -> (B, N, V)
        h0 = table.new_zeros(1, x.shape[0], self.hidden_dim)
        weights = [table.t().contiguous(), gru.weight_hh_l0, torch.zeros_like(gru.bias_ih_l0),
                   gru.bias_hh_l0]
        out = run_rnn(torch.gru, onehot, h0, weights, has_biases=True, train=self.training)
        return self.readout(self.fc(out[:, -1]))  # last step (B, H) -> (B,)
