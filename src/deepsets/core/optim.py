"""Adam, as ``torch.optim.Adam(fused=True)`` computes it, in one compiled call a step.

``torch.optim.Adam``'s fused kernel is a small part of its step; the rest is
Python bookkeeping (docs/speed.md), and building the first one imports
``torch._dynamo``. ``Adam`` here keeps the same state under the same names, so
a checkpoint's optimizer state loads into either, and updates every parameter
in one call of ``kernels.adam_step``, which follows the fused kernel's
arithmetic operation for operation: the same floats where torch 2.13 runs its AVX2
kernel, within an ulp elsewhere. ``make_adam`` returns it where the compiled
kernels are built and every parameter is float32 on the CPU, else
``torch.optim.Adam`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from deepsets.core import kernels


class Adam:
    """Adam with torch's defaults (betas 0.9, 0.999; eps 1e-8; no weight decay).

    Has what the trainer uses of an optimizer: ``param_groups`` (one; its
    ``lr`` may change between steps), ``zero_grad``, ``step``,
    ``state_dict`` and ``load_state_dict``, in ``torch.optim.Adam``'s format.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.param_groups = [{"lr": lr, "betas": betas, "eps": eps, "weight_decay": 0,
                              "amsgrad": False, "maximize": False, "foreach": None,
                              "capturable": False, "differentiable": False, "fused": True,
                              "decoupled_weight_decay": False}]
        self.steps = [0] * len(self.params)  # per parameter, as torch.optim.Adam counts
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient; each counts its own steps, as
        in ``torch.optim.Adam``."""
        have = [i for i, p in enumerate(self.params) if p.grad is not None]
        for i in have:
            self.steps[i] += 1
        group = self.param_groups[0]
        kernels.adam_step([self.params[i] for i in have],
                          [self.params[i].grad.contiguous() for i in have],
                          [self.exp_avg[i] for i in have], [self.exp_avg_sq[i] for i in have],
                          [self.steps[i] for i in have], lr=group["lr"], betas=group["betas"],
                          eps=group["eps"])

    def state_dict(self) -> dict:
        """``torch.optim.Adam``'s format: per parameter index its step and moments."""
        state = {i: {"step": torch.tensor(float(self.steps[i])), "exp_avg": m.clone(),
                     "exp_avg_sq": v.clone()}
                 for i, (m, v) in enumerate(zip(self.exp_avg, self.exp_avg_sq, strict=True))
                 if self.steps[i]}
        groups = [{**self.param_groups[0], "params": list(range(len(self.params)))}]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """A state saved by this class or by ``torch.optim.Adam`` (one group, same order)."""
        (group,) = state_dict["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(f"the optimizer state holds {len(group['params'])} parameters; "
                             f"the model has {len(self.params)}")
        self.param_groups[0].update({k: v for k, v in group.items() if k != "params"})
        for i, key in enumerate(group["params"]):
            saved = state_dict["state"].get(key)
            self.steps[i] = int(saved["step"]) if saved else 0
            self.exp_avg[i].copy_(saved["exp_avg"] if saved else 0)
            self.exp_avg_sq[i].copy_(saved["exp_avg_sq"] if saved else 0)


def make_adam(params: Iterable[torch.nn.Parameter], lr: float):
    """``Adam`` where the compiled kernels are built and every parameter is float32 on the
    CPU; else ``torch.optim.Adam`` (fused)."""
    params = list(params)
    compiled = kernels.load() is not None and all(
        p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous()
        for p in params)
    if compiled:
        return Adam(params, lr=lr)
    return torch.optim.Adam(params, lr=lr, fused=True)
