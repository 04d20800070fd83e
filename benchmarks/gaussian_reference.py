"""The yardstick of the population-statistics tasks: the statistician's estimate.

    python benchmarks/gaussian_reference.py [--n-per-card 200] [--seed 0]

For sets of 30 to 3,000 samples drawn by the tasks' own generators
(``gaussian-entropy``, ``gaussian-mi``), prints the MAE of the maximum-likelihood
plug-in estimates, which know the family (Gaussian) but not its parameters: the
entropy 1/2 log(2 pi e s^2) of the first coordinate from its sample variance s^2, and
the mutual information of the halves 1/2 (log det S_a + log det S_b - log det S) from the
sample covariance S of all 16 coordinates. A set model that estimates should approach
these as the sets grow; docs/vectors/README.md sets them beside the models. A sweep scores
the same estimates on its own test sets (``results.ESTIMATE``) as the criterion's yardstick.
"""

from __future__ import annotations

import argparse

import numpy as np

from deepsets.core.vectors import entropy_estimate, gaussian_entropy, gaussian_mi, mi_estimate

SIZES = (30, 150, 300, 600, 1500, 3000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-card", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{'samples':>8}  {'entropy MAE':>12}  {'MI MAE':>8}")
    for size in SIZES:
        x, y = gaussian_entropy(rng, args.n_per_card, size)
        entropy = np.abs(entropy_estimate(x) - y).mean()
        x, y = gaussian_mi(rng, args.n_per_card, size)
        mi = np.abs(mi_estimate(x) - y).mean()
        print(f"{size:>8}  {entropy:>12.4f}  {mi:>8.4f}")


if __name__ == "__main__":
    main()
