"""Sums of digit images: what sets the per-image accuracy q, one variant per command.

    python benchmarks/images.py [--seed 0] [--epochs 20] [--lr 1e-3] [--schedule constant]
                                [--phi mlp|cnn] [--augment none|shift] [--refit]

Trains the lab's DeepSets on sums of sets of scikit-learn's 8x8 digit images
(masked padding, the handout's settings otherwise), from sums only, and
prints q, the share of the 597 unseen test images whose own contribution
rounds to the digit they show, with the set accuracy at 5, 10, 25 and 50
images (1,000 sets each) and what q predicts. ``--refit`` prints the same
after the least-squares refit of the output layer. ``--phi cnn`` swaps the
pixel MLP for two 3x3 convolutions; ``--augment shift`` shifts every training
image by -1, 0 or 1 pixel each way, drawn anew each time it is seen. Then,
for scale, classifiers trained on the 1,200 training images *with* their
labels (scikit-learn), which the set models never see.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepsets.core.data import chunked_test_sets, element_pool
from deepsets.core.evaluate import predict, score
from deepsets.core.models import DeepSets
from deepsets.core.models.embeddings import PixelEmbedding
from deepsets.core.pipeline import rng_for_test_sets, train_sets
from deepsets.core.settings import LabConfig
from deepsets.core.tasks import digit_images, image_tokens
from deepsets.core.train import fit, init_model, refit_output
from deepsets.lab.drift import per_image_accuracy

CARDS = (5, 10, 25, 50)


class Pixels(PixelEmbedding):
    """The lab's pixel embedding with a choice of network and of training augmentation."""

    def __init__(self, num_embeddings: int, embedding_dim: int, phi: str, augment: str):
        super().__init__(num_embeddings, embedding_dim)
        self.augment = augment
        if phi == "cnn":  # (1, 8, 8) -> 16 x (8, 8) -> 32 x (8, 8) -> 32 x (4, 4) -> E
            self.mlp = nn.Sequential(
                nn.Unflatten(-1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(32 * 4 * 4, embedding_dim))

    def net(self, pixels: torch.Tensor) -> torch.Tensor:
        shape = pixels.shape[:-1]
        return self.mlp(pixels.reshape(-1, 64)).reshape(*shape, -1)

    @property
    def weight(self) -> torch.Tensor:
        return self.net(self.pixels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pixels = self.pixels[x]  # (B, N, 64)
        if self.training and self.augment == "shift":
            pixels = shifted(pixels)
        return self.net(pixels)


def shifted(pixels: torch.Tensor) -> torch.Tensor:
    """Each image moved by -1, 0 or 1 pixel along each axis, zeros filling in."""
    images = pixels.reshape(-1, 1, 8, 8)
    n = len(images)
    move = torch.randint(-1, 2, (n, 2)).float() * 2 / 8  # one pixel is 2/8 of [-1, 1]
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = move
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False).reshape(pixels.shape)


def measure(model: nn.Module, config: LabConfig) -> dict:
    rng, pool = rng_for_test_sets(config), element_pool("images", "test")
    acc, mae = [], []
    for card in CARDS:
        (X, y), = chunked_test_sets(card, config.n_per_card, config.max_digit, rng,
                                    task="images", pool=pool)
        right, error = score(y, predict(model, X))
        acc.append(right)
        mae.append(error)
    return {**per_image_accuracy(model.eval(), CARDS, acc), "mae": mae}


def show(tag: str, r: dict) -> None:
    print(f"{tag}: q unseen {r['q_test']:.4f}, q training {r['q_train']:.4f}; set accuracy "
          + ", ".join(f"{a:.3f}" for a in r["measured"]) + " at " + "/".join(map(str, CARDS))
          + "; q^N " + ", ".join(f"{p:.3f}" for p in r["predicted_q_power"])
          + "; from the errors " + ", ".join(f"{p:.3f}" for p in r["predicted_from_errors"])
          + "; MAE " + ", ".join(f"{m:.3f}" for m in r["mae"])
          + f"; |error| 99% below {r['error_quantiles']['0.99']:.3g}, largest "
          + f"{r['error_quantiles']['1.0']:.3g}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant")
    parser.add_argument("--phi", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--augment", choices=("none", "shift"), default="none")
    parser.add_argument("--refit", action="store_true", help="also refit the output layer")
    args = parser.parse_args()
    config = LabConfig(task="images", models=("deepsets",), recipe="masked", seed=args.seed,
                       epochs=args.epochs, cards=CARDS, n_per_card=1_000)
    X, y = train_sets(config)
    torch.set_num_threads(1)

    def make(**model_args: object) -> DeepSets:
        model = DeepSets(**model_args)
        pixels = Pixels(model.input_dim, model.embedding_dim, args.phi, args.augment)
        if args.phi == "mlp":  # the lab's own MLP and its initial weights
            pixels.mlp = model.embedding.mlp
        model.embedding = pixels
        return model

    model = init_model(make, args.seed, "deepsets", **config.model_args("deepsets"))
    torch.manual_seed(args.seed)  # the augmentation's draws
    began = time.perf_counter()
    history = fit(model, X, y, name="deepsets", epochs=args.epochs, seed=args.seed,
                  lr=args.lr, schedule=args.schedule)
    print(f"{vars(args)}: trained in {time.perf_counter() - began:.0f} s, final loss "
          f"{history[-1]['loss']:.4f}")
    show("Adam", measure(model, config))
    if args.refit:
        info = refit_output(model, X, y)
        print(f"refit: training MAE {info['train_mae_before']:.4f} -> "
              f"{info['train_mae_after']:.2g}, |w2| {float(model.fc2.weight.detach().norm()):.3g}")
        show("refit", measure(model, config))
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    pixels, labels = digit_images()
    train, test = image_tokens("train") - 1, image_tokens("test") - 1
    for name, clf in (("logistic regression", LogisticRegression(max_iter=2_000)),
                      ("MLP 128-128", MLPClassifier((128, 128), max_iter=500, random_state=0)),
                      ("SVM, RBF kernel", SVC())):
        clf.fit(pixels[train], labels[train])
        print(f"with labels, {name}: accuracy on the unseen images "
              f"{np.mean(clf.predict(pixels[test]) == labels[test]):.4f}")


if __name__ == "__main__":
    main()
