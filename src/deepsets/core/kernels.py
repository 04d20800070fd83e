"""Compiled kernels of the training step (``kernels.cpp``): the LSTM over left-padded sets,
which runs the padding's shared trajectory once per batch and each set over its own
digits only (the same function and gradients as ``nn.LSTM``), and Adam's update of every
parameter in one call (``optim.Adam``).

They are built on first use through ``kernel_cache``. Where they cannot be had, or with
``DEEPSETS_KERNELS=off``, training goes through PyTorch's own kernels: the same numbers up
to float rounding. ``load`` never raises; ``status()`` says which path, in one line.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import torch

from deepsets.core import kernel_cache

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels.cpp")
#: Optimized for the machine that compiles them; the cache key names the CPU.
CFLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fno-math-errno"]
#: Set to ``off`` to train through PyTorch's kernels.
SWITCH = "DEEPSETS_KERNELS"
#: How long a run waits for another process's build of the kernels, in seconds.
WAIT = "DEEPSETS_KERNELS_WAIT"
DEFAULT_WAIT = 180.0

#: What ``load`` found, for ``status``: None before the first call.
_status: str | None = None


@lru_cache(maxsize=1)
def load():
    """The compiled kernels (built on the first call, then cached), or None.

    None, with the reason logged once, when ``DEEPSETS_KERNELS=off`` or the
    kernels cannot be had; it never raises, except KeyboardInterrupt (Ctrl-C
    stops a build as it stops everything else, and the next call tries again).
    """
    global _status
    if os.environ.get(SWITCH, "").lower() in ("off", "0", "no"):
        _status = f"PyTorch's kernels ({SWITCH}=off)"
        return None
    try:
        module, how = kernel_cache.load_or_build("deepsets_kernels", SOURCE, CFLAGS,
                                                 wait=wait_seconds())
    except Exception as err:  # whatever went wrong, training goes on without them
        reason = str(err) if isinstance(err, kernel_cache.Unavailable) else (
            f"the compiled ones did not load: {type(err).__name__}: {err}")
        _status = f"PyTorch's kernels ({' '.join(reason.split())[:240]})"
        log.warning("deepsets: training goes through %s", _status)
        return None
    _status = f"compiled ({how})"
    return module


def wait_seconds() -> float:
    """``DEEPSETS_KERNELS_WAIT``, or the default."""
    text = os.environ.get(WAIT) or str(DEFAULT_WAIT)
    try:
        return float(text)
    except ValueError:
        raise kernel_cache.Unavailable(f"{WAIT}={text!r} is not a number of seconds") from None


def status() -> str:
    """One line: which kernels training goes through (loads them if not yet)."""
    load()
    return f"deepsets training kernels: {_status}"


class LSTMPrediction(torch.autograd.Function):
    """The LSTM model's predictions (B,) from its parameters and the tokens (B, N), and
    every parameter's gradient: ``kernels.cpp``'s lstm_forward and lstm_backward."""

    @staticmethod
    def forward(ctx, x, emb, w_ih, b_ih, b_hh, w_hh, fc_w, fc_b):
        pred, *saved = load().lstm_forward(emb, w_ih, b_ih, b_hh, w_hh, fc_w, fc_b, x)
        ctx.save_for_backward(x, emb, w_ih, w_hh, fc_w, *saved)
        return pred

    @staticmethod
    def backward(ctx, grad):
        x, emb, w_ih, w_hh, fc_w, *saved = ctx.saved_tensors
        return None, *load().lstm_backward(grad.contiguous(), emb, w_ih, w_hh, fc_w, x, saved)


def trains_lstm(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether the compiled step can train ``model`` on the tokens ``x``: float32 on the
    CPU, gradients on, a linear readout (the kernel's own) and the kernels built."""
    weight = model.lstm.weight_hh_l0
    return (torch.is_grad_enabled() and isinstance(model.fc, torch.nn.Linear)
            and weight.requires_grad and weight.device.type == "cpu"
            and weight.dtype == torch.float32 and x.dtype == torch.long
            and load() is not None)


def lstm_prediction(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``LSTMPrediction`` on the parameters of ``model`` (an ``LSTM`` on tokens)."""
    lstm = model.lstm
    params = (model.embedding.weight, lstm.weight_ih_l0, lstm.bias_ih_l0, lstm.bias_hh_l0,
              lstm.weight_hh_l0, model.fc.weight, model.fc.bias)
    return LSTMPrediction.apply(x.contiguous(), *(p.contiguous() for p in params))


def adam_step(params: list[torch.Tensor], grads: list[torch.Tensor],
              exp_avgs: list[torch.Tensor], exp_avg_sqs: list[torch.Tensor],
              steps: list[int], *, lr: float, betas: tuple[float, float], eps: float) -> None:
    """Adam's update of every tensor, tensor i at its own step ``steps[i]``, in one compiled
    call (float32, CPU, contiguous)."""
    load().adam_step(params, grads, exp_avgs, exp_avg_sqs, [float(t) for t in steps], lr,
                     betas[0], betas[1], eps)
