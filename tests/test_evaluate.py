import numpy as np
import pytest
import torch
from torch import nn

from deepsets import LSTM, DeepSets, evaluate, predict
from deepsets.core.evaluate import score


class ExactSum(nn.Module):
    """A reference 'model' that returns the true sum plus a fixed offset."""

    input_dim = 11  # the vocabulary, as every SetModel has

    def __init__(self, offset=0.0):
        super().__init__()
        self.offset = offset

    def forward(self, x):
        return x.sum(dim=1).float() + self.offset


def test_score_rounds_before_accuracy():
    y = np.array([10, 20, 30, 40])
    acc, mae = score(y, np.array([10.4, 19.6, 30.5001, 41.0]))
    assert acc == 0.5  # 10.4 -> 10 and 19.6 -> 20 count; 30.5001 -> 31 and 41 do not
    assert mae == pytest.approx((0.4 + 0.4 + 0.5001 + 1.0) / 4)


def test_score_is_scikit_learns_accuracy_and_mae():
    from sklearn.metrics import accuracy_score, mean_absolute_error

    rng = np.random.default_rng(0)
    y = rng.integers(0, 500, 1_000)
    for pred in (y + rng.normal(0, 0.6, y.shape), (y + rng.normal(0, 2, y.shape)).astype(
            np.float32)):
        acc, mae = score(y, pred)
        assert acc == accuracy_score(y, np.round(pred).astype(np.int64))
        # scikit-learn sums float32 predictions in float32; score sums in float64
        assert mae == pytest.approx(mean_absolute_error(y, pred), rel=1e-6)


def test_evaluate_per_size():
    X = [np.full((10, 5), 2), np.full((10, 50), 3)]
    y = [x.sum(1) for x in X]
    assert evaluate(ExactSum(), X, y) == {"acc": [1.0, 1.0], "mae": [0.0, 0.0]}
    res = evaluate(ExactSum(0.7), X, y)
    assert res["acc"] == [0.0, 0.0] and res["mae"] == pytest.approx([0.7, 0.7], rel=1e-5)


@pytest.mark.parametrize("cls", [DeepSets, LSTM])
def test_predict_batches_do_not_change_results(cls):
    torch.manual_seed(0)
    model = cls(embedding_dim=8, hidden_dim=4)
    X = np.random.default_rng(0).integers(1, 11, size=(37, 30))
    whole = predict(model, X, batch_tokens=10**6)
    np.testing.assert_allclose(predict(model, X, batch_tokens=30 * 4), whole, rtol=1e-5)
    np.testing.assert_allclose(predict(model, X, batch_tokens=1), whole, rtol=1e-5)


@pytest.mark.parametrize("card, batch_tokens, rows", [(10_000, 10_000, 1), (10_000, 1, 1),
                                                       (30, 100, 3), (5, 1 << 14, 3276)])
def test_predict_batches_hold_at_most_batch_tokens_digits(card, batch_tokens, rows):
    """Memory stays bounded: no batch holds more than ``batch_tokens`` digits (or one set)."""
    torch.manual_seed(0)
    model = DeepSets(embedding_dim=8, hidden_dim=4)
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    X = np.random.default_rng(0).integers(1, 11, size=(2 * rows + 1, card))
    out = predict(model, X, batch_tokens=batch_tokens)
    assert all(shape == (rows, card) for shape in seen[:-1]) and seen[-1] == (1, card)
    assert len(seen) == 3
    with torch.no_grad():
        whole = model(torch.as_tensor(X)).numpy()  # the same sets in one batch
    np.testing.assert_allclose(out, whole, rtol=1e-5)


def test_predict_workers_give_the_same_numbers_and_leave_threads_alone():
    torch.manual_seed(0)
    model = LSTM(embedding_dim=8, hidden_dim=16)
    X = np.random.default_rng(1).integers(1, 11, size=(50, 20))
    before = torch.get_num_threads()
    one = predict(model, X, batch_tokens=100, workers=1)  # 10 batches of 5 sets
    assert np.array_equal(predict(model, X, batch_tokens=100, workers=3), one)
    assert torch.get_num_threads() == before  # the workers' thread count is their own
    from oracle import oracle_for

    with torch.no_grad():
        direct = oracle_for(model)(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(one, direct, rtol=1e-5, atol=1e-6)
