"""Where tensors are computed: the device, the number of intra-op threads, denormals."""

from __future__ import annotations

from contextlib import contextmanager

import torch


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (cuda when available) as a torch device."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but this machine has no CUDA GPU; use --device cpu")
    return torch.device(device)


@contextmanager
def torch_threads(n: int):
    """Run a block with ``n`` intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def flushed_denormals():
    """Run a block with denormal floats (below 1.2e-38) flushed to zero on this thread, as
    TensorFlow's CPU kernels run, then back to torch's default. Back through hundreds of
    steps an LSTM's gradients decay into denormals, which a CPU computes about 10x slower
    (an LSTM's step on 240-300 Gaussian samples: docs/speed.md)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
