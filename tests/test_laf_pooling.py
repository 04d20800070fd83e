"""LAF, the learnable aggregation (Pellegrini et al. 2021): its hand-set units against the
closed forms of Table 1 on sets of 1 to 1,000 elements, its invariances, its token-table
path, its guards and its gradients."""

import numpy as np
import pytest
import torch

from deepsets.core.models.laf import CLOSED_FORMS, LAFAggregation

SIZES = (1, 2, 10, 100, 1000)
R = 50.0  # the max's and min's exponent


def hand_set(functions, eps=1e-7, dtype=torch.float32):
    laf = LAFAggregation(units=len(functions), eps=eps).to(dtype)
    for unit, name in enumerate(functions):
        laf.set_unit(unit, name, r=R)
    return laf


@pytest.mark.parametrize("n", SIZES)
def test_hand_set_units_compute_count_sum_mean_max_min(n):
    """In float64 with eps 1e-300 (so no guard bites): count, sum and mean exactly; max and
    min as the power means (sum x^r)^(1/r) and 1 - (sum (1-x)^r)^(1/r), which lie within a
    factor n^(1/r) of the true max and of 1 - the true min (at n = 1,000 and r = 50:
    1.148)."""
    rng = np.random.default_rng(n)
    x = rng.uniform(0.3, 0.7, size=(3, n, 2))  # 3 sets of n elements, 2 features
    laf = hand_set(list(CLOSED_FORMS), eps=1e-300, dtype=torch.float64)
    out = laf(torch.as_tensor(x)).detach().reshape(3, 2, len(CLOSED_FORMS)).numpy()  # (B, H, U)
    count, total, mean, high, low = np.moveaxis(out, -1, 0)  # each (B, H)
    np.testing.assert_allclose(count, n, rtol=1e-12)
    np.testing.assert_allclose(total, x.sum(1), rtol=1e-12)
    np.testing.assert_allclose(mean, x.mean(1), rtol=1e-12)
    np.testing.assert_allclose(high, (x ** R).sum(1) ** (1 / R), rtol=1e-12)
    np.testing.assert_allclose(low, 1 - ((1 - x) ** R).sum(1) ** (1 / R), rtol=1e-12)
    bound = n ** (1 / R)
    assert np.all(x.max(1) <= high * (1 + 1e-12)) and np.all(high <= bound * x.max(1))
    assert np.all(low <= x.min(1) + 1e-12) and np.all(1 - low <= bound * (1 - x.min(1)))
    if n == 1:  # a set of one: every function is its element
        for value in (total, mean, high, low):
            np.testing.assert_allclose(value, x[:, 0], rtol=1e-12)


def test_float32_at_the_papers_eps():
    """At the defaults (float32, eps 1e-7), count, sum and mean to float32's rounding on
    sets of 1 to 1,000 elements in [0, 1]."""
    laf = hand_set(["count", "sum", "mean"])
    for n in SIZES:
        x = torch.rand(4, n, 3, generator=torch.Generator().manual_seed(n))
        out = laf(x).reshape(4, 3, 3)
        torch.testing.assert_close(out[..., 0], torch.full((4, 3), float(n)), rtol=1e-5, atol=0)
        clamped = x.clamp(1e-7, 1 - 1e-7)  # the guard: each element in [eps, 1 - eps]
        torch.testing.assert_close(out[..., 1], clamped.sum(1), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out[..., 2], clamped.mean(1), rtol=1e-5, atol=1e-6)


def authors_laf(data, weights, eps=1e-7):
    """``LAFLayerFast.forward`` of alessandro-t/laf (laf/model_torch.py), transcribed: the
    reference the layer is checked against, (B, N, H) -> (B, H, units)."""
    e = torch.tensor([1.0, -1.0, 1.0, -1.0])
    x = torch.clamp(data, eps, 1.0 - eps).unsqueeze(-1)
    exps = ((1.0 - e.view(1, 1, -1)) / 2.0 + x * e.view(1, 1, -1)).unsqueeze(-1)
    exps = torch.pow(exps, torch.relu(weights[0:4]))
    scatter = torch.clamp(torch.sum(exps, dim=1), eps)
    terms = torch.pow(scatter, torch.relu(weights[4:8])) * weights[8:12].view(1, 1, 4, -1)
    num = torch.sum(terms * torch.tensor([1.0, 1, 0, 0]).view(1, 1, -1, 1), dim=2)
    den = torch.sum(terms * torch.tensor([0.0, 0, 1, 1]).view(1, 1, -1, 1), dim=2)
    multiplier = 2.0 * torch.clamp(torch.sign(den), min=0.0) - 1.0
    den = torch.where((den < eps) & (den > -eps), multiplier * eps, den)
    return num / den


def test_the_authors_layer_gives_the_same_values_and_gradients():
    torch.manual_seed(2)
    laf = LAFAggregation(units=7)
    x = torch.rand(5, 12, 3, requires_grad=True)
    ours = laf(x)
    ours.square().sum().backward()
    weights = laf.weights.detach().clone().requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    theirs = authors_laf(x2, weights)
    theirs.square().sum().backward()
    torch.testing.assert_close(ours, theirs.flatten(1))
    torch.testing.assert_close(laf.weights.grad, weights.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-4, atol=1e-6)


def test_padding_and_order_do_not_matter():
    torch.manual_seed(0)
    laf = LAFAggregation(units=5)
    x = torch.rand(2, 6, 4)
    real = torch.tensor([[True] * 6, [False, False, True, True, True, True]])
    out = laf(x, real)
    torch.testing.assert_close(out[1:], laf(x[1:, 2:]))  # the pads' values count for nothing
    shuffled = x[:, torch.randperm(6)]
    torch.testing.assert_close(laf(shuffled[:1]), out[:1])


def test_the_token_table_path_is_the_element_path():
    torch.manual_seed(1)
    laf = LAFAggregation(units=4)
    table = torch.rand(11, 3)  # each token's features
    tokens = torch.randint(1, 11, (5, 8))
    counts = torch.zeros(5, 11).scatter_add_(1, tokens, torch.ones(5, 8))
    torch.testing.assert_close(laf.from_counts(counts, table), laf(table[tokens]))


def test_a_vanishing_denominator_is_guarded():
    """gamma = delta = 0: the denominator is 0, replaced by -eps (the authors' guard), so
    the value is finite, -numerator / eps."""
    laf = hand_set(["sum"])
    with torch.no_grad():
        laf.weights[10:, 0] = 0.0  # gamma, delta
    x = torch.full((1, 3, 1), 0.5)
    torch.testing.assert_close(laf(x), torch.tensor([[-1.5 / 1e-7]]), rtol=1e-5, atol=0)


@pytest.mark.parametrize("n", [1, 1000])
def test_gradients_are_finite_at_the_papers_initialisation(n):
    """With elements at 0 and 1 too, where a power's gradient in its exponent holds log(x)."""
    torch.manual_seed(n)
    laf = LAFAggregation(units=6)
    assert bool((laf.weights[:8] >= 0).all() and (laf.weights[:8] < 1).all())
    assert float(laf.weights[8:].detach().std()) < 0.05
    x = torch.rand(3, n, 4)
    x[:, 0, 0], x[:, -1, 1] = 0.0, 1.0
    x.requires_grad_(True)
    laf(x).square().mean().backward()
    assert torch.isfinite(laf.weights.grad).all() and torch.isfinite(x.grad).all()
