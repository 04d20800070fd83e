"""MNIST from a package: the canonical split, read offline; a clear line without the
extra."""

import numpy as np
import pytest

from deepsets.core import mnist

pytest.importorskip("zarr")  # make test installs the mnist extra

#: MNIST's published class counts, digits 0-9, of each split.
COUNTS = {"train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
          "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]}
#: The first ten labels of each split, as the original files hold them.
FIRST = {"train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]}


@pytest.mark.parametrize("split", mnist.SPLITS)
def test_the_package_holds_canonical_mnist(split):
    images, labels = mnist.mnist(split)
    n = sum(COUNTS[split])
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and np.bincount(labels, minlength=10).tolist() == COUNTS[split]
    assert labels[:10].tolist() == FIRST[split]
    assert images.max() == 255 and images.min() == 0


def test_the_training_pixels_have_mnists_known_mean_and_deviation():
    """0.1307 and 0.3081: the normalization every MNIST tutorial uses."""
    pixels = mnist.mnist("train")[0] / 255.0
    assert pixels.mean() == pytest.approx(0.1307, abs=5e-5)
    assert pixels.std() == pytest.approx(0.3081, abs=5e-5)


def test_the_arrays_are_read_once_and_cannot_be_changed():
    assert mnist.mnist("test")[0] is mnist.mnist("test")[0]
    with pytest.raises(ValueError, match="read-only"):
        mnist.mnist("test")[1][0] = 3
    with pytest.raises(ValueError, match="split='valid' is not allowed"):
        mnist.mnist("valid")


def test_without_the_extra_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(mnist.importlib.util, "find_spec", lambda name: None)  # not there
    with pytest.raises(ValueError, match=r"^MNIST needs the mnist extra: "
                                         r"pip install 'deepsets\[mnist\]'$"):
        mnist.archive()
