"""What the output contract's check costs in training: ``fit`` with ``train.checked_loss``
(the first batch's predictions checked) against the plain loss, side by side in one
process, on the handout's DeepSets and LSTM (20,000 training sets, one epoch of 313 steps,
one thread). Prints the ratio of the best of five times each.

    python benchmarks/output_check.py
"""

import time

import numpy as np
import torch

from deepsets.core import train
from deepsets.core.data import create_train_dataset
from deepsets.core.models import build_model


def plain_loss(loss, name, outputs, model):
    """The loss with no check, as ``fit`` computed it before the check."""
    return train.LOSSES[loss]


def main(repeats: int = 5) -> None:
    torch.set_num_threads(1)
    X, y = create_train_dataset(20_000, 10, 10, np.random.default_rng(0))
    checked = train.checked_loss
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(repeats):  # interleaved, so that drift on the machine hits both
            for name in ("deepsets", "lstm"):
                for kind, loss in (("checked", checked), ("plain", plain_loss)):
                    train.checked_loss = loss
                    model = build_model(name, input_dim=11, embedding_dim=128, hidden_dim=64)
                    began = time.perf_counter()
                    train.fit(model, X, y, name=name, epochs=1)
                    times.setdefault((name, kind), []).append(time.perf_counter() - began)
    finally:
        train.checked_loss = checked
    for name in ("deepsets", "lstm"):
        ratio = min(times[name, "checked"]) / min(times[name, "plain"])
        print(f"{name}: one epoch of 313 steps, best of {repeats}: checked / plain = "
              f"{ratio:.3f}")


if __name__ == "__main__":
    main()
