"""What every set model shares: the interface, its embedding (``embeddings``), input checks.

Every model maps a batch of sets to one float prediction per set (B,), or a logit per
class (B, K) with ``outputs`` = K, for any N, and does nothing else: training belongs to
``train``. A batch is a LongTensor of tokens (B, N), token 0 the padding and 1..10 the
digits (``input_dim`` is the vocabulary size, 11), or for ``inputs="vectors"`` a float
tensor (B, N, input_dim) with an optional mask (B, N) of the real elements (None: all
are). ``model_args`` holds what rebuilds the model from a checkpoint.
"""

from __future__ import annotations

import importlib
import os
import sys

import torch
from torch import nn

from deepsets.core.models.embeddings import IMAGE_INPUTS, PixelEmbedding, VectorEmbedding
from deepsets.core.tasks import PAD

#: What a batch of sets can be: tokens (digits, and images: scikit-learn's or MNIST's) or
#: vectors.
INPUTS = ("tokens", "images", "mnist", "vectors")


class SetModel(nn.Module):
    """What the models share: constructor arguments, ``model_args`` and ``__repr__``.

    A model only predicts: ``forward`` maps sets to predictions (B,) or logits (B, K).
    The loss and its gradients are the trainer's (``train.fit``).
    """

    #: The inputs it takes (``INPUTS``); a plug-in says its own, else it takes tokens.
    takes: tuple[str, ...] = INPUTS

    #: Intra-op threads that train this model fastest at batch 64 (measured with
    #: ``make bench``); fixed, so results do not depend on the machine's core count.
    train_threads: int = 1
    #: Evaluate batches side by side in threads, one intra-op thread each: faster
    #: when a batch is a few large kernels (the recurrent models) than splitting
    #: each kernel across threads; slower when it is many tiny ones (DeepSets).
    parallel_batches: bool = True

    def __init__(self, input_dim: int, embedding_dim: int, hidden_dim: int,
                 inputs: str = "tokens", outputs: int = 1, raw_pixels: bool = False,
                 deform: bool = False) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs={inputs!r} is not allowed; use " + ", ".join(INPUTS))
        self.input_dim = input_dim
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.inputs = inputs
        self.outputs = outputs
        # tokens: a learned vector per token; images: an MLP on the pixels of each image (or
        # with raw_pixels, the pixels as they are); vectors: an MLP on each vector
        if inputs in IMAGE_INPUTS:
            self.embedding = PixelEmbedding(input_dim, embedding_dim, inputs, not raw_pixels,
                                            deform)
        else:
            self.embedding = {"tokens": nn.Embedding,
                              "vectors": VectorEmbedding}[inputs](input_dim, embedding_dim)
        self.scaled = inputs == "vectors" and outputs == 1  # a regression over vectors
        if self.scaled:  # predictions in the targets' units: out * scale + loc
            self.register_buffer("target_loc", torch.zeros(()))
            self.register_buffer("target_scale", torch.ones(()))

    @property
    def model_args(self) -> dict:
        return {"input_dim": self.input_dim, "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim, "inputs": self.inputs,
                "outputs": self.outputs}

    def real(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Which positions of ``x`` hold an element, (B, N) bool: those that are not the pad
        token; for vectors ``mask``'s (None: every position)."""
        if self.inputs != "vectors":
            return x != PAD
        if mask is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return mask.to(device=x.device, dtype=torch.bool)

    def readout(self, out: torch.Tensor) -> torch.Tensor:
        """The output layer's (B, outputs) as predictions: (B,) for one output, in the
        targets' units for a regression over vectors (``fit_scales``)."""
        if self.scaled:
            out = out * self.target_scale + self.target_loc
        return out.squeeze(-1) if self.outputs == 1 else out

    @torch.no_grad()
    def fit_scales(self, X: torch.Tensor, y: torch.Tensor, real: torch.Tensor) -> None:
        """Vectors: standardize by the training sets ``X`` (n, N, D), their elements where
        ``real`` (n, N), and targets ``y`` (n,): each coordinate of the elements to mean 0
        and deviation 1 on the way in, and the output layer's units to the targets' on the
        way out (regressions), so that raw values like U[0, 100] neither saturate phi nor
        leave the output layer far from the targets' scale. Tokens: nothing."""
        if self.inputs != "vectors":
            return
        elements = X[real]  # (T, D)
        self.embedding.loc.copy_(elements.mean(0))
        self.embedding.scale.copy_(elements.std(0).nan_to_num(1.0).clamp_min(1e-6))
        if self.scaled:
            self.target_loc.fill_(y.double().mean())
            self.target_scale.fill_(y.double().std().nan_to_num(1.0).clamp_min(1e-6))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.model_args.items())


def token_counts(x: torch.Tensor, vocab: int, dtype: torch.dtype = torch.float32
                 ) -> torch.Tensor:
    """How often each token occurs in each set: (B, N) int -> (B, V) float ``dtype``."""
    counts = torch.zeros(x.shape[0], vocab, device=x.device, dtype=dtype)
    return counts.scatter_add_(1, x, torch.ones(x.shape, device=x.device, dtype=dtype))


def check_tokens(x: torch.Tensor, vocab: int | None) -> torch.Tensor:
    """``x`` if it is a (B, N) integer tensor of tokens in 0..vocab-1, else ValueError.

    ``vocab`` None (a plug-in model that does not say) checks only for tokens >= 0.
    """
    if x.dim() != 2 or x.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"sets must be a 2-D integer array (sets x digits), got {x.dim()}-D "
                         f"{x.dtype}")
    if x.numel():
        low, high = torch.aminmax(x)
        if low < 0 or (vocab is not None and high >= vocab):
            top = "" if vocab is None else vocab - 1
            raise ValueError(f"tokens must lie in 0..{top} (0 is padding), got "
                             f"{int(low)}..{int(high)}")
    return x


def check_sets(x: torch.Tensor, form: str, size: int | None) -> torch.Tensor:
    """``x`` if it is a batch of sets of ``form`` (``tasks.Elements.form``): tokens in
    0..size-1 (``check_tokens``), or vectors (B, N, size) of floats; else ValueError."""
    if form != "vectors":
        return check_tokens(x, size)
    if x.dim() != 3 or not x.is_floating_point() or (size and x.shape[-1] != size):
        raise ValueError(f"sets of vectors must be a 3-D float array (sets x elements x "
                         f"{size or 'dim'}), got {x.dim()}-D {x.dtype} of shape "
                         f"{tuple(x.shape)}")
    return x


class OutputError(ValueError):
    """A model's predictions break the output contract: their shape, or not finite."""


def check_predictions(pred: torch.Tensor, sets: int, name: str, outputs: int | None = 1,
                      finite: bool = False) -> torch.Tensor:
    """``pred`` if it is what a model owes for ``sets`` sets: (B,) numbers for a regression
    (``outputs`` 1), (B, K) logits for K = ``outputs`` classes (None: a classification,
    any K >= 2); with ``finite``, no NaN or infinity either. Else an ``OutputError`` naming
    the model, the shape and the one expected: a (B, 1) regression would broadcast against
    (B,) targets into a (B, B) loss and train on nonsense."""
    shape = tuple(pred.shape)
    if outputs == 1:
        ok, expected = shape == (sets,), f"({sets},)"
        need = "a regression needs one number per set"
    else:
        ok = len(shape) == 2 and shape[0] == sets and shape[1] == (outputs or max(2, shape[1]))
        expected = f"({sets}, {outputs or 'K'})"
        need = f"a classification into {outputs or 'K'} classes needs a logit per class"
    if not ok:
        raise OutputError(f"model {name} gives predictions of shape {shape} for {sets} sets; "
                          f"{need}, shape {expected}")
    if finite and not bool(torch.isfinite(pred).all()):
        bad = int((~torch.isfinite(pred)).sum())
        raise OutputError(f"model {name} gives {bad} predictions that are not finite (NaN or "
                          f"infinite) of {pred.numel()} on a batch of {sets} sets")
    return pred


def form_of(model: nn.Module, x: torch.Tensor) -> str:
    """What a model reads ``x`` as: its ``inputs`` where it says (ours do), else what the
    array is (floats: vectors)."""
    inputs = getattr(model, "inputs", None)
    if inputs in INPUTS:
        return "vectors" if inputs == "vectors" else "tokens"
    return "vectors" if x.is_floating_point() else "tokens"


def as_sets(model: nn.Module, X) -> torch.Tensor:
    """``X`` as the batch of sets ``model`` reads (``form_of``), checked (``check_sets``):
    tokens int64, vectors float32."""
    X = torch.as_tensor(X)
    form = form_of(model, X)
    X = check_sets(X, form, getattr(model, "input_dim", None))  # a plug-in may not say
    return X.long() if form == "tokens" else X.float()


def import_class(path: str, base: type, what: str, kind: str = "nn.Module") -> type:
    """The class ``package.module:ClassName``, a subclass of ``base``; its module is
    imported as ``python -m`` would, from the current folder too. ``what`` names it in
    the ValueError when it cannot be had."""
    module_name, _, class_name = path.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"{what}: cannot import {module_name} ({err})") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{what}: {module_name} has no {kind} class {class_name!r}")
    return cls
