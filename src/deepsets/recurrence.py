"""An LSTM over a finite vocabulary, reading its gate inputs from a table.

``nn.LSTM`` projects every token's embedding to the four gate inputs,
``W_ih e_x + b_ih + b_hh``. With 11 tokens that projection has only 11
distinct rows, so we compute the (V, 4H) table once per batch and gather
from it: about two thirds of the LSTM's arithmetic disappear. The
recurrence itself, and its backward pass, are written out step by step in a
custom autograd Function that keeps every step's activations in preallocated
time-major buffers: far fewer (and larger) operations than autograd
recording each step, which at batch 64 is what costs the time.

The parameters and their meaning are exactly ``nn.LSTM``'s (gate order i, f,
g, o); tests check outputs and gradients against ``nn.LSTM`` on the same
weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gate_table(embedding: torch.Tensor, w_ih: torch.Tensor, b_ih: torch.Tensor,
               b_hh: torch.Tensor) -> torch.Tensor:
    """The gate inputs of every token: (V, E) -> (V, 4H)."""
    return torch.addmm(b_ih + b_hh, embedding, w_ih.t())


def lstm_last_hidden(table: torch.Tensor, x: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """The LSTM's hidden state after the last token of each sequence: (B, N) -> (B, H).

    Starts from zero state, as ``nn.LSTM`` does. Without gradients it keeps
    only the current state, so memory does not grow with the sequence length.
    """
    if torch.is_grad_enabled() and (table.requires_grad or w_hh.requires_grad):
        return _LastHidden.apply(table, x, w_hh)
    return _forward(table, x, w_hh, keep=False)[0]


def _forward(table: torch.Tensor, x: torch.Tensor, w_hh: torch.Tensor, keep: bool):
    """Run the recurrence; with ``keep``, also return every step's activations.

    Each step's results are written straight into their buffers (``out=``),
    and every per-step view is made up front (``unbind``), so a step is 7
    operations that copy nothing.
    """
    batch, steps = x.shape
    hidden = w_hh.shape[1]
    w_hh_t = w_hh.t()
    if not keep:
        return _forward_no_grad(table, x, w_hh_t)
    act = table.new_empty(steps, batch, 4 * hidden)  # gate activations i, f, g, o
    cells = table.new_zeros(steps + 1, batch, hidden)  # c_{t-1} lives in slot t
    tcs = table.new_empty(steps, batch, hidden)  # tanh(c_t)
    hs = table.new_zeros(steps + 1, batch, hidden)  # h_{t-1} lives in slot t
    gx = F.embedding(x.t(), table).unbind(0)  # N x (B, 4H): gate inputs, time-major
    acts, c_, tc_, h_ = act.unbind(0), cells.unbind(0), tcs.unbind(0), hs.unbind(0)
    i_, f_, g_, o_ = (part.unbind(0) for part in act.split(hidden, dim=2))
    for t in range(steps):
        gates = torch.addmm(gx[t], h_[t], w_hh_t)  # (B, 4H)
        torch.sigmoid(gates, out=acts[t])  # i, f, o; the g slot is overwritten next
        torch.tanh(gates[:, 2 * hidden:3 * hidden], out=g_[t])
        torch.addcmul(f_[t] * c_[t], i_[t], g_[t], out=c_[t + 1])  # c = f c_prev + i g
        torch.tanh(c_[t + 1], out=tc_[t])
        torch.mul(o_[t], tc_[t], out=h_[t + 1])  # h = o tanh(c)
    return hs[-1].clone(), (act, cells, tcs, hs)


def _forward_no_grad(table: torch.Tensor, x: torch.Tensor, w_hh_t: torch.Tensor):
    """The recurrence keeping only the current state: memory independent of N."""
    hidden = w_hh_t.shape[0]
    h = table.new_zeros(x.shape[0], hidden)
    c = torch.zeros_like(h)
    for token in x.t():  # (B,) per step
        gates = torch.addmm(F.embedding(token, table), h, w_hh_t)  # (B, 4H)
        a = torch.sigmoid(gates)
        i, f, _, o = a.split(hidden, dim=1)
        c = torch.addcmul(f * c, i, torch.tanh(gates[:, 2 * hidden:3 * hidden]))
        h = o * torch.tanh(c)
    return h, None


class _LastHidden(torch.autograd.Function):
    """Forward and backward of the whole recurrence as one autograd node."""

    @staticmethod
    def forward(ctx, table, x, w_hh):
        h, (act, cells, tcs, hs) = _forward(table, x, w_hh, keep=True)
        ctx.save_for_backward(table, x, w_hh, act, cells, tcs, hs)
        return h

    @staticmethod
    def backward(ctx, grad_h):
        table, x, w_hh, act, cells, tcs, hs = ctx.saved_tensors
        steps, batch, four_h = act.shape
        hidden = four_h // 4
        # derivatives of the activations for all steps at once: s(1 - s), and 1 - g^2 for g
        slope = act * (1 - act)  # (N, B, 4H)
        g = act[:, :, 2 * hidden:3 * hidden]
        torch.mul(g, g, out=slope[:, :, 2 * hidden:3 * hidden]).neg_().add_(1)
        tanh_slope = (1 - tcs * tcs).unbind(0)  # N x (B, H)
        d_act = torch.empty_like(act)  # (N, B, 4H): gradient w.r.t. the activations
        i_, f_, g_, o_ = (part.unbind(0) for part in act.split(hidden, dim=2))
        di_, df_, dg_, do_ = (part.unbind(0) for part in d_act.split(hidden, dim=2))
        d_acts, slopes, c_, tc_ = d_act.unbind(0), slope.unbind(0), cells.unbind(0), tcs.unbind(0)
        dh = grad_h.contiguous()
        dc = torch.zeros_like(dh)
        for t in range(steps - 1, -1, -1):
            torch.mul(dh, tc_[t], out=do_[t])  # h = o tanh(c)
            dc = torch.addcmul(dc, dh * o_[t], tanh_slope[t])
            torch.mul(dc, g_[t], out=di_[t])  # c = f c_prev + i g
            torch.mul(dc, c_[t], out=df_[t])
            torch.mul(dc, i_[t], out=dg_[t])
            d_gates = d_acts[t].mul_(slopes[t])  # in place: now the pre-activation gradient
            dc = dc * f_[t]
            dh = d_gates @ w_hh  # (B, 4H) @ (4H, H) -> (B, H)
        flat = d_act.reshape(steps * batch, four_h)
        grad_w_hh = flat.t() @ hs[:-1].reshape(steps * batch, hidden)  # (4H, H)
        grad_table = torch.zeros_like(table).index_add_(0, x.t().reshape(-1), flat)
        return grad_table, None, grad_w_hh
