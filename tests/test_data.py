import numpy as np
import pytest

from deepsets import create_test_dataset, create_train_dataset


@pytest.fixture(scope="module")
def train():
    return create_train_dataset(seed=0)


def test_train_shapes_and_dtypes(train):
    X, y = train
    assert X.shape == (100_000, 10) and y.shape == (100_000,)
    assert X.dtype == np.int64 and y.dtype == np.int64


def test_train_targets_are_the_sums(train):
    X, y = train
    np.testing.assert_array_equal(y, X.sum(axis=1))


def test_train_padding_only_on_the_left(train):
    X, _ = train
    is_digit = X > 0
    # once a digit appears, every later position is a digit: no zero after a digit
    assert not np.any(is_digit[:, :-1] & ~is_digit[:, 1:])
    assert np.all(is_digit[:, -1])  # every set holds at least one digit


def test_train_sizes_and_digits_uniform(train):
    X, _ = train
    sizes = (X > 0).sum(axis=1)
    size_freq = np.bincount(sizes, minlength=11)[1:] / len(X)
    np.testing.assert_allclose(size_freq, 0.1, atol=0.005)
    digits = X[X > 0]
    assert digits.min() == 1 and digits.max() == 10
    np.testing.assert_allclose(np.bincount(digits)[1:] / digits.size, 0.1, atol=0.005)


def test_handout_example_layout():
    # a set of 5 digits keeps them in the last 5 positions, in the drawn order
    X, _ = create_train_dataset(n_train=500, seed=3)
    five = X[(X > 0).sum(axis=1) == 5][0]
    assert list(five[:5]) == [0] * 5 and np.all(five[5:] > 0)


def test_same_seed_same_data_other_seed_other_data():
    a, _ = create_train_dataset(n_train=1000, seed=7)
    b, _ = create_train_dataset(n_train=1000, seed=7)
    c, _ = create_train_dataset(n_train=1000, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_accepts_a_generator():
    X1, _ = create_train_dataset(n_train=100, seed=np.random.default_rng(5))
    X2, _ = create_train_dataset(n_train=100, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)


def test_test_dataset_matches_the_handout():
    X, y = create_test_dataset(seed=1)
    assert len(X) == len(y) == 20
    assert [x.shape for x in X] == [(10_000, c) for c in range(5, 101, 5)]
    for x, s in zip(X, y, strict=True):
        assert x.dtype == np.int64 and x.min() == 1 and x.max() == 10  # no padding
        np.testing.assert_array_equal(s, x.sum(axis=1))
    all_digits = np.concatenate([x.ravel() for x in X])
    np.testing.assert_allclose(np.bincount(all_digits)[1:] / all_digits.size, 0.1, atol=0.002)


def test_test_dataset_custom_sizes():
    X, y = create_test_dataset(n_per_card=3, cards=[1, 1000], seed=0)
    assert [x.shape for x in X] == [(3, 1), (3, 1000)]


@pytest.mark.parametrize("kwargs, field", [
    ({"n_train": 0}, "n_train"), ({"n_train": -5}, "n_train"), ({"max_card": 0}, "max_card"),
    ({"max_digit": 2.5}, "max_digit"), ({"seed": -1}, "seed"), ({"seed": "a"}, "seed"),
])
def test_train_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        create_train_dataset(**kwargs)


@pytest.mark.parametrize("kwargs, field", [
    ({"n_per_card": 0}, "n_per_card"), ({"cards": []}, "cards"), ({"cards": [5, 0]}, "cards"),
])
def test_test_bad_arguments(kwargs, field):
    with pytest.raises(ValueError, match=field):
        create_test_dataset(**kwargs)


def test_task_targets():
    from deepsets.core.tasks import SUITES, TASKS, get_task

    X = np.array([[0, 0, 3, 3, 5], [1, 2, 3, 4, 5], [0, 0, 0, 0, 7], [9, 9, 9, 9, 9]])
    assert get_task("sum").targets(X).tolist() == [11, 15, 7, 45]
    assert get_task("max").targets(X).tolist() == [5, 5, 7, 9]
    assert get_task("unique").targets(X).tolist() == [2, 5, 1, 1]
    for name in SUITES["default"]:  # whole-number targets, scored by accuracy and MAE
        assert TASKS[name].whole and TASKS[name].metrics == ("acc", "mae")
        assert TASKS[name].targets(X).dtype == np.int64
    with pytest.raises(ValueError, match="unknown task 'mode'"):
        get_task("mode")


def test_a_real_valued_task_is_float_and_scored_by_mae_alone():
    from deepsets.core.tasks import TASKS

    y = TASKS["mean"].targets(np.array([[0, 1, 2], [3, 3, 4]]))
    assert y.dtype == np.float64 and y.tolist() == [1.5, 10 / 3]
    assert TASKS["mean"].metrics == ("mae",)


def test_image_tokens_split_and_sums():
    from deepsets.core.tasks import TASKS, digit_images, image_tokens

    pixels, labels = digit_images()
    assert pixels.shape == (1797, 64) and 0 <= pixels.min() and pixels.max() <= 1
    train, test = image_tokens("train"), image_tokens("test")
    assert len(train) == 1200 and len(test) == 597
    assert not set(train) & set(test) and set(train) | set(test) == set(range(1, 1798))
    X = np.array([[0, train[0], train[1]]])
    assert TASKS["images"].targets(X).tolist() == [labels[train[0] - 1] + labels[train[1] - 1]]


def test_image_task_draws_test_sets_from_unseen_images():
    from deepsets.core.pipeline import rng_for_test_sets, train_sets
    from deepsets.core.settings import LabConfig
    from deepsets.core.tasks import TASKS, image_tokens

    config = LabConfig(task="images", n_train=500, n_per_card=40, cards=(5, 30))
    X, y = train_sets(config)
    assert set(np.unique(X)) - {0} <= set(image_tokens("train"))
    np.testing.assert_array_equal(y, TASKS["images"].targets(X))
    X_test, y_test = create_test_dataset(40, (5, 30), seed=rng_for_test_sets(config),
                                         task="images", pool=image_tokens("test"))
    assert all(set(np.unique(x)) <= set(image_tokens("test")) for x in X_test)
    assert (y >= 0).all() and y_test[1].max() <= 9 * 30


def test_free_padding_draws_the_pad_count_apart_from_the_set_size():
    from deepsets.core.data import free_padding, set_sizes

    X, _ = create_train_dataset(n_train=20_000, seed=0)
    wide, lengths = free_padding(X, 10, seed=4)
    assert wide.shape == (20_000, 20) and (wide[:, 10:] == X).all() and (wide[:, :10] == 0).all()
    sizes = set_sizes(X)
    pads = lengths - sizes
    assert pads.min() == 0 and pads.max() == 10
    # in the handout's sets the pad count is 10 - size; here it says nothing about the size
    assert np.corrcoef(10 - sizes, sizes)[0, 1] == pytest.approx(-1)
    assert abs(np.corrcoef(pads, sizes)[0, 1]) < 0.03
    assert {int(p) for p in pads[sizes == 1]} == set(range(11))
