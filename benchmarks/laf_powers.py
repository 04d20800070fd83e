"""LAF's powers with a learned exponent, two ways side by side in one process: ``base **
exponent`` against ``exp(exponent * log(base))`` (what ``core/models/laf.py`` computes),
forward and backward to the exponents, on one thread, at the sizes of a training batch of
DeepSets with LAF pooling on digits (64 sets of 10 elements, 64 features, 4 terms, 9
units). Prints the best of 5 rounds of 20 steps each, and their ratio.

    python benchmarks/laf_powers.py
"""

import time

import torch


def main(rounds: int = 5, steps: int = 20) -> None:
    torch.set_num_threads(1)
    base = torch.rand(64, 10, 64, 4, 1).clamp_min(1e-7)
    exponent = torch.rand(4, 9, requires_grad=True)
    ways = {"pow": lambda: (base ** torch.relu(exponent)).sum(),
            "exp-log": lambda: torch.exp(torch.log(base) * torch.relu(exponent)).sum()}
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):  # interleaved, so that drift on the machine hits both
        for name, way in ways.items():
            began = time.perf_counter()
            for _ in range(steps):
                exponent.grad = None
                way().backward()
            best[name] = min(best[name], (time.perf_counter() - began) / steps)
    for name, seconds in best.items():
        print(f"{name}: {seconds * 1e3:.2f} ms a step")
    print(f"pow / exp-log = {best['pow'] / best['exp-log']:.2f}")


if __name__ == "__main__":
    main()
