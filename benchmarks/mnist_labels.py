"""The ceiling of MNIST's image sums: the papers' image phi trained *with* digit labels.

    python benchmarks/mnist_labels.py [--epochs 20] [--seed 0]

Trains the DeepSets paper's image encoder (784-300-100-30 with tanh, the ``image-mlp``
phi) and a linear layer to the ten classes on MNIST's 60,000 training images with their
labels (cross-entropy, Adam 1e-3, batch 128), once on the images as they are and once
deformed afresh each time as the ``infimnist`` recipe does (``mnist.deform``), and prints
the accuracy on the 10,000 test images and what it would give a sum of N images if one
misread image spoiled it (acc^N). The set models never see a label: this is what their
per-image accuracy q can at best approach.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepsets.core import mnist
from deepsets.core.models.parts import image_mlp


def accuracy(deformed: bool, epochs: int, seed: int) -> float:
    torch.manual_seed(seed)
    images, labels = (torch.from_numpy(a.copy()) for a in mnist.mnist("train"))
    images = images.float() / 255
    net = nn.Sequential(nn.Flatten(), image_mlp(784, 30, last=True), nn.Linear(30, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    draws = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(images)).split(128):
            x = mnist.deform(images[batch], draws) if deformed else images[batch]
            optimizer.zero_grad()
            F.cross_entropy(net(x), labels[batch]).backward()
            optimizer.step()
    test_images, test_labels = mnist.mnist("test")
    with torch.no_grad():
        guess = net(torch.from_numpy(test_images.astype(np.float32) / 255)).argmax(1)
    return float((guess.numpy() == test_labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for deformed in (False, True):
        began = time.perf_counter()
        acc = accuracy(deformed, args.epochs, args.seed)
        powers = ", ".join(f"{acc ** n:.2f} at {n}" for n in (5, 10, 25, 50))
        print(f"{'deformed' if deformed else 'as they are'}: test accuracy {acc:.4f} "
              f"(acc^N: {powers}), {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
