"""A training step with denormal floats flushed to zero (as ``train.fit`` takes it) and
without, side by side in one process, on one thread: the LSTM and the sum-pooling DeepSets
on batches of 64 sets of 30, 150 and 300 Gaussian samples (T1, ``gaussian-entropy``'s
training sizes). Back through a few hundred steps the LSTM's gradients decay into denormals,
which the CPU computes far more slowly. Prints the best of 3 rounds of 3 steps each, in ms,
and the ratio.

    python benchmarks/denormals.py
"""

import time

import numpy as np
import torch
import torch.nn.functional as F

from deepsets.core.pipeline import laid_out, seeded_model, train_sets
from deepsets.core.settings import LabConfig
from deepsets.core.train import training_tensors


def main(rounds: int = 3, steps: int = 3) -> None:
    torch.set_num_threads(1)
    print("| model | samples | denormals kept, ms | flushed, ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in ("lstm", "deepsets"):
        config = LabConfig(task="gaussian-entropy", n_train=3000, models=[name])
        X, y = train_sets(config)
        X, lengths = laid_out(config, name, X)
        model = seeded_model(name, config)
        X, y = training_tensors(model, X, y, "l1", torch.device("cpu"))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for n in (30, 150, 300):
            idx = torch.as_tensor(np.flatnonzero(lengths == n)[:64])
            best = {False: float("inf"), True: float("inf")}
            for _ in range(rounds):  # interleaved, so that drift on the machine hits both
                for flush in best:
                    torch.set_flush_denormal(flush)
                    began = time.perf_counter()
                    for _ in range(steps):
                        optimizer.zero_grad(set_to_none=True)
                        F.l1_loss(model(X[idx, -n:]), y[idx]).backward()
                        optimizer.step()
                    best[flush] = min(best[flush], (time.perf_counter() - began) / steps)
            torch.set_flush_denormal(False)
            print(f"| {name} | {n} | {best[False] * 1e3:.1f} | {best[True] * 1e3:.1f} | "
                  f"{best[False] / best[True]:.1f}x |")


if __name__ == "__main__":
    main()
