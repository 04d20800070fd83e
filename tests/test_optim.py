"""optim.Adam against torch.optim.Adam: the same updates, the same state, either way round."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deepsets.core import kernels
from deepsets.core.models import build_model
from deepsets.core.optim import Adam, make_adam
from deepsets.core.pipeline import train_sets
from deepsets.core.settings import LabConfig
from deepsets.core.train import init_model

pytestmark = pytest.mark.skipif(kernels.load() is None, reason=kernels.status())


def pair(seed=0):
    torch.manual_seed(seed)
    ours = [torch.nn.Parameter(torch.randn(50, 7)), torch.nn.Parameter(torch.randn(3))]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    return ours, theirs


def steps(opt_a, a, opt_b, b, n, start=0, skip_second_at=()):
    """``n`` steps of both with the same gradients and learning rates."""
    for t in range(start, start + n):
        for p, q in zip(a, b, strict=True):
            g = torch.randn_like(p)
            p.grad, q.grad = g.clone(), g.clone()
        if t in skip_second_at:  # a parameter without a gradient skips its step
            a[1].grad = b[1].grad = None
        for opt in (opt_a, opt_b):
            opt.param_groups[0]["lr"] = 1e-2 * (1 - t / 40)
            opt.step()


def test_twenty_steps_are_torchs_fused_adam():
    a, b = pair()
    ours, torchs = Adam(a, lr=1e-2), torch.optim.Adam(b, lr=1e-2, fused=True)
    steps(ours, a, torchs, b, 20, skip_second_at=(3, 7))
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)
    theirs = torchs.state_dict()
    assert ours.state_dict()["param_groups"] == theirs["param_groups"]
    assert [int(s["step"]) for s in ours.state_dict()["state"].values()] == [20, 18]


def ulps_apart(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> float:
    """The largest |a - b| in float32 spacings at ``scale``'s magnitude."""
    spacing = np.spacing(np.abs(scale.numpy()).astype(np.float32))
    return float(np.max(np.abs(a.numpy().astype(np.float64) - b.numpy()) / spacing))


def test_every_step_on_the_image_models_own_parameters_is_torchs():
    """From the same state, each step of the lab's image DeepSets (real gradients of image
    sums, every parameter shape the model has) lands where torch's fused Adam lands: within
    an ulp anywhere, and to the bit where torch 2.13 runs its AVX2 kernel, whose arithmetic
    kernels.cpp follows (other versions and vector widths order a few operations
    otherwise). Computing 1 - beta2 in float put some values 179 ulps away."""
    config = LabConfig(task="images", models=("deepsets",), recipe="exact", n_train=1_920)
    X, y = (torch.as_tensor(a) for a in train_sets(config))
    model = init_model(lambda **kw: build_model("deepsets", **kw), 0, "deepsets",
                       **config.model_args("deepsets"))
    params = list(model.parameters())
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    ours, torchs = Adam(params, lr=1e-3), torch.optim.Adam(twins, lr=1e-3, fused=True)
    bit_for_bit = (torch.__version__.startswith("2.13.")
                   and torch.backends.cpu.get_cpu_capability() == "AVX2")
    for idx in torch.arange(len(X)).split(64):
        for p in params:
            p.grad = None
        F.l1_loss(model(X[idx]), y[idx].float()).backward()
        torchs.load_state_dict(ours.state_dict())
        before = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, twin in zip(params, twins, strict=True):
                twin.copy_(p)
                twin.grad = p.grad.clone()
        ours.step()
        torchs.step()
        for i, (p, twin) in enumerate(zip(params, twins, strict=True)):
            theirs = torchs.state[twin]
            pairs = [(p.detach(), twin.detach()), (ours.exp_avg[i], theirs["exp_avg"]),
                     (ours.exp_avg_sq[i], theirs["exp_avg_sq"])]
            if bit_for_bit:
                assert all(torch.equal(a, b) for a, b in pairs), i
            scale = torch.maximum(before[i].abs(), twin.detach().abs())
            assert ulps_apart(p.detach(), twin.detach(), scale) <= 1.0, i
            for a, b in pairs[1:]:
                assert ulps_apart(a, b, b) <= 1.0, i


def test_state_loads_both_ways_and_training_goes_on_the_same():
    a, b = pair(1)
    ours, torchs = Adam(a, lr=1e-2), torch.optim.Adam(b, lr=1e-2, fused=True)
    steps(ours, a, torchs, b, 5)
    # swap: torch's state into ours, ours into torch's, as a checkpoint would carry them
    ours2, torchs2 = Adam(a, lr=1.0), torch.optim.Adam(b, lr=1.0, fused=True)
    ours2.load_state_dict(torchs.state_dict())
    torchs2.load_state_dict(ours.state_dict())
    steps(ours2, a, torchs2, b, 5, start=5)
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6)


def test_make_adam_falls_back_to_torch_where_the_kernel_cannot_run():
    assert isinstance(make_adam([torch.nn.Parameter(torch.zeros(3))], 1e-3), Adam)
    double = make_adam([torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))], 1e-3)
    assert isinstance(double, torch.optim.Adam)


def test_a_state_for_another_model_is_refused():
    a, _ = pair()
    with pytest.raises(ValueError, match="holds 1 parameters; the model has 2"):
        Adam(a).load_state_dict({"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]})
