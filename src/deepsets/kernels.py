"""Compiled kernels of the training step: the LSTM that skips the padding's shared work,
and Adam's update in one call.

The LSTM. A left-padded set is a run of pad tokens and then its digits.
From a zero state, the state after j pad tokens depends only on j and the
weights, so ``kernels.cpp`` computes that pad trajectory once per batch
(one row) and runs each set over its own digits only, from the
trajectory's state at its pad count: the same function and gradients as
``nn.LSTM`` with about half the recurrent work on the handout's training
sets. Rows are sorted by where they start, so each time step multiplies
only the rows that are running; the input projection is a lookup in the
(11, 4H) gate table, and a row's first step shares the trajectory's product.

Adam. ``optim.Adam`` updates every parameter in one call instead of
``torch.optim.Adam``'s Python bookkeeping around its fused kernel.

The kernels are compiled on first use with ``torch.utils.cpp_extension``
(a C++ compiler and ninja; about 20 s) and cached in
``~/.cache/deepsets/kernels-<key>``, the key naming the source, torch,
Python and the CPU. Where they cannot be built, or with
``DEEPSETS_KERNELS=off``, training goes through PyTorch's own kernels
instead (``nn.LSTM``'s fused kernel, ``torch.optim.Adam``): the same
numbers up to float rounding, slower. ``status()`` says which, in one line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import sys
import time
from functools import lru_cache
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("kernels.cpp")
#: Optimized for the machine that compiles them; the cache key names the CPU.
CFLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fno-math-errno"]
#: Set to ``off`` to train through PyTorch's kernels.
SWITCH = "DEEPSETS_KERNELS"


def cpu_signature() -> str:
    """What the compiled code depends on about this CPU: its model and instruction sets."""
    lines = []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "flags")):
                    lines.append(line.strip())
                if len(lines) == 2:
                    break
    except OSError:
        pass
    return platform.machine() + "|" + "|".join(lines)


def build_directory() -> Path:
    """Where the build for this source, torch, Python and CPU lives."""
    key = hashlib.sha256("\n".join([
        SOURCE.read_text(), torch.__version__, sys.version, cpu_signature(), *CFLAGS,
    ]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "deepsets" / f"kernels-{key}"


#: What ``load`` found, for ``status``: None before the first call.
_status: str | None = None


@lru_cache(maxsize=1)
def load():
    """The compiled kernels (built on the first call, then cached), or None.

    None, with the reason logged once, when ``DEEPSETS_KERNELS=off`` or the
    build or import fails.
    """
    global _status
    if os.environ.get(SWITCH, "").lower() in ("off", "0", "no"):
        _status = f"PyTorch's kernels ({SWITCH}=off)"
        return None
    directory = build_directory()
    began = time.perf_counter()
    fresh = not any(directory.glob("*.so"))
    try:
        from torch.utils.cpp_extension import load as compile_and_load

        if shutil.which("ninja") is None:  # the ninja package's, when the venv is not on PATH
            import ninja

            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        if fresh:
            log.warning("deepsets: compiling the training kernels (once; about 20 s) into %s",
                        directory)
        directory.mkdir(parents=True, exist_ok=True)
        module = compile_and_load("deepsets_kernels", [str(SOURCE)], extra_cflags=CFLAGS,
                                  build_directory=str(directory), verbose=False)
    except Exception as err:  # no compiler, no ninja, a failed build: train without them
        reason = " ".join(str(err).split())[:200]
        _status = f"PyTorch's kernels (the compiled ones did not build: {reason})"
        log.warning("deepsets: training goes through %s", _status)
        return None
    built = f"built in {time.perf_counter() - began:.0f} s" if fresh else "cached"
    _status = f"compiled ({built} in {directory})"
    return module


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
    CPU, gradients on, and the kernels built."""
    weight = model.lstm.weight_hh_l0
    return (torch.is_grad_enabled() and weight.requires_grad and weight.device.type == "cpu"
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
