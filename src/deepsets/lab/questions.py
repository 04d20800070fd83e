"""The handout's two questions, answered by construction and measured.

Question 1: the exact DeepSets with ReLU (``optimal_relu_deepsets``) and the padding
counter-example, built for the run's digits and training sets and evaluated up to 10,000
digits. Question 2: can DeepSets tell apart sets whose elements sum to the same vector?
Four phis, trained and measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from deepsets.core.data import create_test_dataset
from deepsets.core.evaluate import evaluate
from deepsets.core.models import DeepSets
from deepsets.core.optim import make_adam
from deepsets.lab.drift import contributions


@torch.no_grad()
def optimal_relu_deepsets(input_dim: int = 11, embedding_dim: int = 128, hidden_dim: int = 64,
                          scale: float = 1.0, pad_shift: float = 0.0,
                          max_card: int = 10) -> DeepSets:
    """Question 1's canonical exact solution, and members of its family, for the tokens
    0..input_dim - 1 (the digits 1..max_digit and the pad token 0).

    Embedding ``e_d = scale * d * u1``, first hidden unit ``relu(e_d . u1 / scale) = d``,
    ``w2 = u1``, every other weight and bias 0: then ``a_d = d``, ``a_0 = 0``,
    ``b2 = 0`` and the model outputs the exact sum of any set of any size.

    ``pad_shift`` s != 0 builds the counter-example: a second hidden unit adds s
    for every token (pad included) and ``b2 = -max_card * s``. That model is
    exact on every training set (all have max_card tokens) yet off by
    ``(N - max_card) s`` on an unpadded set of N digits.
    """
    model = DeepSets(input_dim, embedding_dim, hidden_dim, activation="relu")
    for p in model.parameters():
        p.zero_()
    model.embedding.weight[:, 0] = scale * torch.arange(input_dim, dtype=torch.float32)
    model.encoder[0].weight[0, 0] = 1.0 / scale
    model.rho.weight[0, 0] = 1.0
    if pad_shift:
        model.embedding.weight[:, 1] = 1.0  # every token, pad included
        model.encoder[0].weight[1, 1] = 1.0  # relu(1) = 1
        model.rho.weight[0, 1] = pad_shift
        model.rho.bias[0] = -max_card * pad_shift  # a training set holds max_card tokens
    return model


def question1(X_train: np.ndarray, y_train: np.ndarray, X_test: list[np.ndarray],
              y_test: list[np.ndarray], cards: Sequence[int], big_cards: Sequence[int] = (
                  1_000, 10_000), n_big: int = 1_000, seed: int = 0, *, max_digit: int = 10,
              max_card: int = 10) -> dict:
    """Evaluate the exact ReLU solution (and the padding counter-example) on the training
    sets (1..max_card digits of 1..max_digit, left-padded to max_card), the test sets of
    sizes ``cards`` and ``n_big`` new sets at each size of ``big_cards`` beyond them."""
    big = [c for c in big_cards if c > max(cards)]
    X_big, y_big = create_test_dataset(n_big, big, max_digit, seed=seed) if big else ([], [])
    out = {"cards": [*cards, *big], "test_cards": list(cards), "big_cards": big,
           "n_big": n_big, "n_train": len(X_train), "n_per_card": len(X_test[0]),
           "max_digit": max_digit, "max_card": max_card}
    members = {
        "canonical": optimal_relu_deepsets(max_digit + 1, max_card=max_card),
        "scaled": optimal_relu_deepsets(max_digit + 1, scale=0.37, max_card=max_card),
        "pad_shift": optimal_relu_deepsets(max_digit + 1, pad_shift=0.01, max_card=max_card),
    }
    for name, model in members.items():
        a, b2 = contributions(model)
        train = evaluate(model, [X_train], [y_train])
        test = evaluate(model, [*X_test, *X_big], [*y_test, *y_big])
        out[name] = {"a": a.tolist(), "b2": b2, "train_acc": train["acc"][0],
                     "train_mae": train["mae"][0], **test}
    return out


#: Four sets of two 2-D vectors, each summing to [0, 0]. Two elements that sum to
#: zero are always {x, -x}, so these stand for any such sets.
Q2_SETS = np.array([[[1.0, 2.0], [-1.0, -2.0]],
                    [[2.0, 1.0], [-2.0, -1.0]],
                    [[3.0, 0.0], [-3.0, 0.0]],
                    [[1.0, -1.0], [-1.0, 1.0]]])  # (4 sets, 2 elements, 2 dims)


def min_pairwise_distance(reps: np.ndarray) -> float:
    """The smallest distance between two of the set representations (rows)."""
    dist = np.linalg.norm(reps[:, None] - reps[None], axis=-1)
    return float(dist[~np.eye(len(reps), dtype=bool)].min())


class PhiSum(nn.Module):
    """A DeepSets on 2-D vectors: rho(sum_x phi(x)) with a configurable phi."""

    def __init__(self, phi: str, hidden: int = 16) -> None:
        super().__init__()
        layers = {"linear": [nn.Linear(2, hidden)],
                  "tanh": [nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()],
                  "tanh-no-bias": [nn.Linear(2, hidden, bias=False), nn.Tanh()],
                  "relu": [nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden)]}[phi]
        self.phi = nn.Sequential(*layers)
        self.rho = nn.Linear(hidden, 1)

    def represent(self, sets: torch.Tensor) -> torch.Tensor:
        return self.phi(sets).sum(dim=1)  # (S, M, 2) -> (S, M, H) -> (S, H)

    def forward(self, sets: torch.Tensor) -> torch.Tensor:
        return self.rho(self.represent(sets)).squeeze(-1)  # (S, H) -> (S,)


def question2(seed: int = 0, steps: int = 500) -> dict:
    """Can DeepSets tell apart four sets that all sum to [0, 0]? Measured for four phis.

    For each phi: the smallest distance between the four representations
    sum(phi(x)) at initialisation, and whether a model trained to output
    0, 1, 2, 3 for the four sets gets there (its mean squared error).
    """
    sets = torch.tensor(Q2_SETS, dtype=torch.float32)
    targets = torch.arange(4, dtype=torch.float32)
    out = {"sets": Q2_SETS.tolist(), "targets": targets.tolist()}
    for phi in ("linear", "tanh-no-bias", "tanh", "relu"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = PhiSum(phi)
        with torch.no_grad():
            init_gap = min_pairwise_distance(model.represent(sets).numpy())
        opt = make_adam(model.parameters(), lr=0.01)
        for _ in range(steps):
            loss = ((model(sets) - targets) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out[phi] = {"init_min_distance": init_gap,
                        "trained_min_distance": min_pairwise_distance(
                            model.represent(sets).numpy()),
                        "trained_mse": float(((model(sets) - targets) ** 2).mean()),
                        "predictions": model(sets).tolist()}
    return out
