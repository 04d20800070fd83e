"""How a set model sees an element before phi: the pixels of an image token, through an
MLP (``PixelEmbedding``: scikit-learn's 8x8 digits or MNIST's 28x28, deformed afresh in
training where asked), or a real vector standardized and through an MLP
(``VectorEmbedding``); and a plug-in's standardization (``Standardize``), fitted by the
trainer. Tokens of digits are ``nn.Embedding``'s.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from deepsets.core import mnist
from deepsets.core.tasks import digit_images


class Standardize(nn.Module):
    """A plug-in's standardization, fitted by the trainer: ``(x - loc) / scale`` with the
    mean and deviation of the training sets' elements (each coordinate, ``of="elements"``)
    or of their targets (``of="targets"``, whose ``inverse`` maps a regression's outputs
    back to the targets' units).

    ``train.fit`` fits every ``Standardize`` a model holds from the training sets before
    its first step; ``loc`` and ``scale`` are buffers, so they travel in checkpoints. Raw
    values like U[0, 100] saturate a tanh and leave an output layer far from targets near
    80; the built-in models standardize the same way (``SetModel.fit_scales``).
    """

    def __init__(self, dim: int = 1, of: str = "elements") -> None:
        super().__init__()
        if of not in ("elements", "targets"):
            raise ValueError(f"of={of!r} is not allowed; use elements or targets")
        self.of = of
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    @torch.no_grad()
    def fit(self, X: torch.Tensor, y: torch.Tensor, real: torch.Tensor) -> None:
        """From the training sets ``X`` (n, N, D), their elements where ``real`` (n, N),
        and their targets ``y`` (n,)."""
        values = X[real] if self.of == "elements" else y.double().reshape(-1, 1)  # (T, D)
        self.loc.copy_(values.mean(0))
        self.scale.copy_(values.std(0).nan_to_num(1.0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.loc) / self.scale

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.loc

    def extra_repr(self) -> str:
        return f"{len(self.loc)}, of={self.of!r}"


@torch.no_grad()
def standardize(model: nn.Module, X: torch.Tensor, y: torch.Tensor, real: torch.Tensor) -> None:
    """Standardize ``model`` by its training sets ``X``, their elements where ``real`` and
    targets ``y``: its own ``fit_scales`` (the built-in models', on vectors only) and, on
    vectors, every ``Standardize`` it holds (a plug-in's)."""
    if hasattr(model, "fit_scales"):
        model.fit_scales(X, y, real)
    if X.is_floating_point():
        for module in model.modules():
            if isinstance(module, Standardize):
                module.fit(X, y, real)


def reseed(model: nn.Module, seed: int) -> None:
    """Seed the random draws of every part of ``model`` that makes its own in training (a
    ``reseed`` method: MNIST's deformations); the trainer does, each epoch."""
    for module in model.modules():
        if hasattr(module, "reseed"):
            module.reseed(seed)


class VectorEmbedding(nn.Module):
    """Real vectors to vectors: an MLP on each element standardized, (..., D) -> (..., E).

    ``loc`` and ``scale`` (D,) standardize the elements, ``(x - loc) / scale``: the identity
    until ``SetModel.fit_scales`` sets them from the training sets; saved in checkpoints.
    """

    def __init__(self, dim: int, embedding_dim: int) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.mlp = nn.Sequential(nn.Linear(dim, embedding_dim), nn.ReLU(),
                                 nn.Linear(embedding_dim, embedding_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.loc) / self.scale)


#: The inputs whose tokens stand for images (``PixelEmbedding``).
IMAGE_INPUTS = ("images", "mnist")


@lru_cache(maxsize=2)
def image_pixels(inputs: str) -> tuple[torch.Tensor, float]:
    """Every image token's pixels (V, P), a black image for the padding first, and the
    factor that brings them to [0, 1]: scikit-learn's 8x8 digits in float32 for
    ``images``, MNIST's 28x28 in uint8 for ``mnist`` (a quarter of the memory)."""
    if inputs == "mnist":
        return torch.from_numpy(mnist.pixels()), 1 / 255
    pixels = torch.as_tensor(digit_images()[0])
    return torch.cat([torch.zeros(1, pixels.shape[1]), pixels]), 1.0


class PixelEmbedding(nn.Module):
    """Image tokens to vectors: an MLP on the pixels of each token's image (``inputs``:
    scikit-learn's 8x8 digits, or MNIST's 28x28), (B, N) -> (B, N, E); with ``mlp`` False
    the pixels themselves in [0, 1], (B, N) -> (B, N, P), for a phi that reads pixels
    (``parts.Phi.pixels``).

    Token t > 0 is image t - 1 (``tasks.Elements``); token 0 (padding) is an all-black
    image. The pixels are a fixed buffer rebuilt from the package, not saved in checkpoints.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, inputs: str = "images",
                 mlp: bool = True, deform: bool = False) -> None:
        super().__init__()
        if deform and inputs != "mnist":
            raise ValueError(f"deform applies to MNIST's images, not inputs={inputs!r}")
        pixels, self.unit = image_pixels(inputs)
        #: with ``deform``, training draws each image's deformation from this (``reseed``)
        self.generator = torch.Generator().manual_seed(0) if deform else None
        if num_embeddings != len(pixels):
            raise ValueError(f"input_dim={num_embeddings} does not fit {len(pixels) - 1} images "
                             f"(use {len(pixels)})")
        self.register_buffer("pixels", pixels, persistent=False)
        self.width = embedding_dim if mlp else pixels.shape[1]
        self.mlp = nn.Sequential(nn.Linear(pixels.shape[1], embedding_dim), nn.ReLU(),
                                 nn.Linear(embedding_dim, embedding_dim)) if mlp else nn.Identity()

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """The pixels of the images ``x`` (...) in [0, 1]: (..., P) float32; in training
        with ``deform``, each image deformed afresh (``mnist.deform``)."""
        pixels = self.pixels[x]
        pixels = pixels if self.unit == 1.0 else pixels.float() * self.unit
        if self.training and self.generator is not None:
            side = int(pixels.shape[-1] ** 0.5)
            images = mnist.deform(pixels.reshape(-1, side, side), self.generator)
            pixels = images.reshape(pixels.shape)
        return pixels

    def reseed(self, seed: int) -> None:
        """Seed the deformations' draws (the trainer does, each epoch: a resumed run draws
        what an uninterrupted one does)."""
        if self.generator is not None:
            self.generator.manual_seed(seed)

    @property
    def weight(self) -> torch.Tensor:
        """Every token's vector, (V, E), as ``nn.Embedding.weight`` is."""
        return self.mlp(self.values(torch.arange(len(self.pixels), device=self.pixels.device)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.values(x))  # (B, N) -> (B, N, P) -> (B, N, E)
