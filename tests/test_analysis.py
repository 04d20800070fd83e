"""The numbers behind the questions and the drift analysis."""

import math

import numpy as np
import pytest
import torch

from deepsets import DeepSets, create_test_dataset, create_train_dataset, evaluate, fit
from deepsets.core.train import init_model, refit_output
from deepsets.lab.drift import contributions, normal_abs_mean, normal_within, predicted_error
from deepsets.lab.questions import Q2_SETS, optimal_relu_deepsets, question1, question2


def test_prediction_is_bias_plus_token_contributions():
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=16, hidden_dim=8)
    a, b2 = contributions(model)
    x = torch.tensor([[0, 0, 3, 7, 7, 10]])
    assert model(x).item() == pytest.approx(b2 + a[0] * 2 + a[3] + a[7] * 2 + a[10], abs=1e-5)


def test_normal_formulas_against_sampling():
    rng = np.random.default_rng(0)
    for mu, sigma in [(0.0, 1.0), (0.3, 0.2), (-1.5, 0.5)]:
        z = rng.normal(mu, sigma, 400_000)
        assert normal_abs_mean(mu, sigma) == pytest.approx(np.abs(z).mean(), rel=0.01)
        assert normal_within(mu, sigma) == pytest.approx((np.abs(z) < 0.5).mean(), abs=0.005)
    assert normal_abs_mean(-2.0, 0.0) == 2.0 and normal_within(0.2, 0.0) == 1.0


def test_predicted_error_matches_measured_for_a_drifting_model():
    # a model with known per-digit errors: a_d = d + e_d, b2 = 0.1
    model = optimal_relu_deepsets()
    e = np.linspace(-0.02, 0.01, 10)
    with torch.no_grad():
        model.embedding.weight[1:, 0] += torch.tensor(e, dtype=torch.float32)
        model.rho.bias[0] = 0.1
    a, b2 = contributions(model)
    assert a[1:] - np.arange(1, 11) == pytest.approx(e, abs=1e-6) and b2 == pytest.approx(0.1)
    cards = [20, 80]
    X, y = create_test_dataset(4_000, cards, seed=0)
    measured = evaluate(model, X, y)
    predicted = predicted_error(a, b2, cards)
    for p, m in zip(predicted["mae"], measured["mae"], strict=True):
        assert p == pytest.approx(m, rel=0.05)
    for p, m in zip(predicted["acc"], measured["acc"], strict=True):
        assert p == pytest.approx(m, abs=0.03)


@pytest.fixture(scope="module")
def q1():
    X, y = create_train_dataset(n_train=2_000, seed=0)
    X_test, y_test = create_test_dataset(200, (5, 50, 100), seed=1)
    return question1(X, y, X_test, y_test, (5, 50, 100), n_big=20)


def test_question1_exact_solution_everywhere(q1):
    assert q1["cards"] == [5, 50, 100, 1_000, 10_000]
    for name in ("canonical", "scaled"):
        assert q1[name]["train_acc"] == 1.0
        assert q1[name]["acc"] == [1.0] * 5
        assert max(q1[name]["mae"]) < 1e-3
        assert q1[name]["a"] == pytest.approx(list(range(11)), abs=1e-5)
        assert q1[name]["b2"] == 0.0


def test_question1_pad_shift_is_exact_in_training_but_drifts(q1):
    shift = q1["pad_shift"]
    assert shift["train_acc"] == 1.0 and shift["train_mae"] < 1e-4
    assert shift["a"][0] == pytest.approx(0.01) and shift["b2"] == pytest.approx(-0.1)
    # off by (N - 10) * 0.01 on an unpadded set of N digits
    assert shift["mae"] == pytest.approx([abs(n - 10) * 0.01 for n in q1["cards"]], rel=1e-3)


def test_question1_for_12_digits_and_training_sets_of_8():
    X, y = create_train_dataset(n_train=300, max_card=8, max_digit=12, seed=0)
    X_test, y_test = create_test_dataset(100, (5, 30), 12, seed=1)
    assert X.max() == 12 and max(x.max() for x in X_test) == 12  # the new digits occur
    q1 = question1(X, y, X_test, y_test, (5, 30), big_cards=(20, 1_000), n_big=20,
                   max_digit=12, max_card=8)
    assert q1["cards"] == [5, 30, 1_000] and q1["big_cards"] == [1_000]  # 20 is tested
    assert (q1["max_digit"], q1["max_card"], q1["n_train"]) == (12, 8, 300)
    for name in ("canonical", "scaled"):
        assert q1[name]["a"] == pytest.approx(list(range(13)), abs=1e-5)
        assert q1[name]["train_acc"] == 1.0 and q1[name]["acc"] == [1.0] * 3
    shift = q1["pad_shift"]
    assert shift["a"] == pytest.approx([0.01, *(d + 0.01 for d in range(1, 13))], abs=1e-6)
    assert shift["b2"] == pytest.approx(-0.08)  # -8 s: exact on 8 tokens
    # a set of N tokens gets sum + 0.01 N - 0.08: exact on the training sets (8 tokens each),
    # off by |N - 8| 0.01 on an unpadded set of N digits
    assert shift["train_acc"] == 1.0 and shift["train_mae"] < 1e-4
    assert shift["mae"] == pytest.approx([abs(n - 8) * 0.01 for n in (5, 30, 1_000)],
                                         rel=1e-3)


def test_question2():
    q2 = question2(seed=0, steps=300)
    assert np.allclose(np.asarray(q2["sets"]).sum(axis=1), 0)  # every set sums to [0, 0]
    for phi in ("linear", "tanh-no-bias"):
        assert q2[phi]["trained_min_distance"] < 1e-5
        assert q2[phi]["trained_mse"] == pytest.approx(1.25, abs=0.01)  # the mean, 1.5
    for phi in ("tanh", "relu"):
        assert q2[phi]["init_min_distance"] > 0.05
        assert q2[phi]["trained_mse"] < 1e-3
        assert q2[phi]["predictions"] == pytest.approx([0, 1, 2, 3], abs=0.05)
    assert Q2_SETS.shape == (4, 2, 2)


@pytest.mark.parametrize("mask", [False, True])
def test_refit_output(mask):
    X, y = create_train_dataset(n_train=5_000, seed=0)
    model = init_model(DeepSets, 0, "deepsets", embedding_dim=16, hidden_dim=16,
                       mask_padding=mask)
    fit(model, X, y, name="deepsets", epochs=1, lr=1e-2, seed=0)
    info = refit_output(model, X, y)
    assert info["train_mae_after"] < 1e-6 < info["train_mae_before"]
    a, b2 = contributions(model)
    X_big, y_big = create_test_dataset(50, (1_000,), seed=2)
    acc = evaluate(model, X_big, y_big)["acc"][0]
    if mask:  # pad masked: a_d = d and b2 = 0 are pinned down, exact at any size
        # float32 weights: exact to about 1e-5, which rounding turns into exact sums
        assert a[1:] == pytest.approx(range(1, 11), abs=1e-4) and abs(b2) < 1e-4
        assert acc == 1.0
    else:  # only b2 + 10 a_0 is pinned down
        assert b2 + 10 * a[0] == pytest.approx(0, abs=1e-4)
        assert not math.isclose(a[0], 0, abs_tol=1e-4)


@torch.no_grad()
def digit_plus_count_model() -> DeepSets:
    """ReLU DeepSets with two live units: phi_0(d) = d and phi_1(d) = 1 + d / 8 (pad: 1),
    both exact in float32, so the pooled features are exactly collinear on 10-token sets."""
    model = DeepSets(embedding_dim=4, hidden_dim=4, activation="relu")
    for p in model.parameters():
        p.zero_()
    model.embedding.weight[:, 0] = torch.arange(11.0)
    model.embedding.weight[:, 1] = 1.0 + torch.arange(11.0) / 8
    model.encoder[0].weight[0, 0] = model.encoder[0].weight[1, 1] = 1.0
    return model


def test_refit_on_sets_of_one_length_leaves_a_shift_that_free_padding_pins_down():
    from deepsets.core.data import free_padding

    X, y = create_train_dataset(n_train=3_000, seed=0)
    fixed = digit_plus_count_model()
    refit_output(fixed, X, y)
    # every set has 10 tokens: w0 + w1 / 8 = 1 and 10 w1 + b2 = 0 fit them all, and the
    # least-norm solution of that line has w1 = (1/8) / (1/64 + 1 + 100): every a_d is off by w1
    shift = 0.125 / (1 / 64 + 101)
    a, b2 = contributions(fixed)
    assert a - np.arange(11) == pytest.approx(np.full(11, shift), rel=1e-4)
    assert b2 == pytest.approx(-10 * shift, rel=1e-4)
    free = digit_plus_count_model()
    wide, lengths = free_padding(X, 10, seed=1)
    refit_output(free, wide, y, lengths)
    a, b2 = contributions(free)
    assert a == pytest.approx(np.arange(11), abs=1e-6) and b2 == pytest.approx(0, abs=1e-5)


def test_largest_exact_size_is_where_the_predicted_accuracy_falls_below_the_level():
    from deepsets.lab.reach import largest_exact_size, predicted_accuracy

    a = np.arange(11.0) + np.array([0, 2, -1, 3, 0, 1, 2, -2, 1, 0, 1]) * 1e-5
    for rounding in (0.0, 3e-7):
        n = largest_exact_size(a, 1e-4, rounding)
        grid = np.arange(max(1, n - 50), n + 50)
        exact = [predicted_accuracy(a, 1e-4, int(k), rounding) >= 0.99 for k in grid]
        assert exact == [k <= n for k in grid]
    assert largest_exact_size(np.arange(11.0), 0.0) == 10 ** 12  # the exact sum never fails
    assert largest_exact_size(np.arange(11.0), 0.6) == 0


def test_float32_rounding_error_grows_as_the_predicted_scale():
    from deepsets.lab.reach import float32_error_scale

    X, y = create_train_dataset(n_train=3_000, seed=0)
    model = init_model(DeepSets, 0, "deepsets", embedding_dim=16, hidden_dim=16)
    fit(model, X, y, name="deepsets", epochs=1, lr=1e-2, seed=0)
    scale = float32_error_scale(model)
    double = DeepSets(embedding_dim=16, hidden_dim=16).double()
    double.load_state_dict(model.state_dict())
    for n in (10_000, 100_000):
        (X_big,), _ = create_test_dataset(40, [n], seed=n)
        X_big = torch.as_tensor(X_big)
        with torch.no_grad():
            rounding = (model(X_big).double() - double(X_big)).std().item()
        assert double(X_big).dtype == torch.float64
        # a first-order estimate of rounding: its order of magnitude, not its digits
        assert scale * n / 4 < rounding < scale * n * 4


def test_padding_effect_scores_the_same_sets_unpadded_and_left_padded():
    from deepsets import LSTM
    from deepsets.lab.drift import padding_effect

    model = init_model(LSTM, 0, "lstm", embedding_dim=8, hidden_dim=8)
    X, y = create_train_dataset(n_train=2_000, seed=0)
    fit(model, X, y, name="lstm", epochs=1, lr=1e-2, seed=0)
    p = padding_effect(model, max_card=10, n_sets=300, seed=5)
    assert p["sizes"] == list(range(1, 11)) and p["sets"] == 300
    assert p["padded"][-1] == p["unpadded"][-1]  # 10 digits: nothing to pad
    X_test, y_test = create_test_dataset(300, range(1, 11), seed=5)
    by_hand = [np.pad(x, ((0, 0), (10 - x.shape[1], 0))) for x in X_test]
    assert p["padded"] == evaluate(model, by_hand, y_test)["acc"]
    assert p["unpadded"] == evaluate(model, X_test, y_test)["acc"]


@pytest.mark.parametrize("n", [300_000, 1_000_000, 3_500_000])
def test_predicted_float32_accuracy_against_rounding_simulated_on_the_float32_grid(n):
    """Sums near 5.5 n, an error of known mean and spread, the output put on float32's grid
    there (spacing 1/8, 1/2 and 2) and rounded to an integer, ties to even."""
    from deepsets.lab.reach import predicted_accuracy

    a = np.arange(11.0) + np.array([0, 2, -1, 3, 0, 1, 2, -2, 1, 0, 1]) * 1e-8
    rounding = 2e-7
    rng = np.random.default_rng(0)
    e = a[1:] - np.arange(1, 11)
    sums = rng.integers(int(5.5 * n) - 2_000, int(5.5 * n) + 2_000, size=400_000)
    spread = math.sqrt(n * e.var() + (rounding * n) ** 2)
    out = sums + rng.normal(0.01 + n * e.mean(), spread, size=len(sums))
    on_grid = out.astype(np.float32)  # float32 rounds to its nearest, ties to even
    simulated = np.mean(np.round(on_grid.astype(np.float64)) == sums)
    assert predicted_accuracy(a, 0.01, n, rounding) == pytest.approx(simulated, abs=0.01)
