"""The LSTM's training step of our own: a C++ operator that skips the padding's shared work.

A left-padded set is a run of pad tokens and then its digits. From a zero
state, the state after j pad tokens depends only on j and the weights, so
``lstm_step.cpp`` computes that pad trajectory once per batch (one row) and
runs each set over its own digits only, from the trajectory's state at its
pad count: the same function and gradients as ``nn.LSTM`` with about half
the recurrent work on the handout's training sets. Its rows are sorted by
where they start, so each time step multiplies only the rows that are
running, and the input projection is a lookup in the (11, 4H) gate table.

The operator is compiled on first use with ``torch.utils.cpp_extension``
(gcc or clang and ninja; about 20 s) and cached in
``~/.cache/deepsets/<key>``, the key naming the source, torch, Python and
the CPU. Where it cannot be built, or with ``DEEPSETS_LSTM_STEP=off``, the
LSTM trains through PyTorch's own fused kernel instead: the same numbers
up to float rounding, slower; ``status()`` says which, in one line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
import time
from functools import lru_cache
from pathlib import Path

import torch

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("lstm_step.cpp")
#: Optimized for the machine that compiles it; the cache key names the CPU.
CFLAGS = ["-O3", "-march=native", "-fno-trapping-math", "-fno-math-errno"]
#: Set to ``off`` to train the LSTM through PyTorch's kernel.
SWITCH = "DEEPSETS_LSTM_STEP"


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
    """Where this source, torch, Python and CPU's build lives."""
    key = hashlib.sha256("\n".join([
        SOURCE.read_text(), torch.__version__, sys.version, cpu_signature(), *CFLAGS,
    ]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "deepsets" / f"lstm_step-{key}"


#: What ``load`` found, for ``status``: None before the first call.
_status: str | None = None


@lru_cache(maxsize=1)
def load():
    """The compiled operator (built on the first call, then cached), or None.

    None, with the reason logged once, when ``DEEPSETS_LSTM_STEP=off`` or
    the build or import fails.
    """
    global _status
    if os.environ.get(SWITCH, "").lower() in ("off", "0", "no"):
        _status = f"PyTorch's LSTM kernel ({SWITCH}=off)"
        return None
    directory = build_directory()
    began = time.perf_counter()
    try:
        from torch.utils.cpp_extension import load as compile_and_load

        fresh = not any(directory.glob("*.so"))
        if fresh:
            log.warning("compiling the LSTM training step (once; about 20 s) into %s",
                        directory)
        directory.mkdir(parents=True, exist_ok=True)
        module = compile_and_load("deepsets_lstm_step", [str(SOURCE)], extra_cflags=CFLAGS,
                                  build_directory=str(directory), verbose=False)
    except Exception as err:  # no compiler, no ninja, a failed build: train without it
        reason = " ".join(str(err).split())[:200]
        _status = f"PyTorch's LSTM kernel (the C++ step did not build: {reason})"
        log.warning("deepsets: the LSTM trains through %s", _status)
        return None
    built = f"built in {time.perf_counter() - began:.0f} s" if fresh else "cached"
    _status = f"the compiled C++ step ({built}, {directory})"
    return module


def status() -> str:
    """One line: which path the LSTM trains through (loads the operator if not yet)."""
    load()
    return f"LSTM training step: {_status}"


class LastHidden(torch.autograd.Function):
    """h at the last step of an LSTM over left-padded sets, from the gate table (V, 4H),
    ``w_hh`` (4H, H) and the tokens (B, N): (B, H). float32 on the CPU."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, w_hh: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h_last, *saved = load().forward(table, w_hh, x)
        ctx.save_for_backward(table, w_hh, x, *saved)
        return h_last

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        d_table, d_w = load().backward(grad.contiguous(), *ctx.saved_tensors)
        return d_table, d_w, None


def applies(table: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether the compiled step can train on this batch: float32 on the CPU, gradients on,
    and the operator built."""
    return (torch.is_grad_enabled() and table.requires_grad and table.device.type == "cpu"
            and table.dtype == torch.float32 and x.dtype == torch.long
            and load() is not None)


def last_hidden(table: torch.Tensor, w_hh: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``LastHidden`` on contiguous inputs."""
    return LastHidden.apply(table.contiguous(), w_hh.contiguous(), x.contiguous())
