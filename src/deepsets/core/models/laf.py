"""LAF, learnable aggregation functions (Pellegrini et al., "Learning Aggregation Functions",
IJCAI 2021; the authors' code: alessandro-t/laf, ``laf/model_torch.py``).

A set of numbers in [0, 1] is pooled, per feature and per unit, by

    (alpha L_ab(x) + beta L_cd(1 - x)) / (gamma L_ef(x) + delta L_gh(1 - x)),
    L_ab(x) = (sum_i x_i ** b) ** a,

twelve learned numbers a unit. Hand-set, one unit computes the count, the sum, the mean,
the min and the max (``CLOSED_FORMS``; the max and min as power means of a large exponent
r, within a factor N ** (1 / r) of the true one on N elements), and their ratios: the
paper's Table 1. The constraints are the paper's: the eight exponents enter through a ReLU
(nonnegative), the four coefficients are free. Its initialisation, from its MNIST
experiment: the exponents uniform in [0, 1), the coefficients normal with deviation 0.01.

The guards, as the authors' code has them: each element is clamped to [eps, 1 - eps] (so
``x ** b`` has a finite gradient in b), each sum of powers to at least eps before its outer
power (so a sum of zero elements has one too), and a denominator within eps of zero is
replaced by eps of its sign (-eps for an exact zero). eps defaults to the code's 1e-7.

Every power is computed as ``exp(exponent * log(base))``, the bases being at least eps:
the same numbers as ``base ** exponent``, with its gradient in the exponent 3.2x as fast
(``python benchmarks/laf_powers.py``: one thread, a training batch of 64 sets of 10
elements, 64 features, 9 units).
"""

from __future__ import annotations

import torch
from torch import nn

#: The powers' bases, in the order of the four terms: x, 1 - x, x, 1 - x.
BASES = (0, 1, 0, 1)

#: One unit's hand-set numbers for each function of Table 1, in terms of the exponent r of
#: the max and min: (a, b, c, d, e, f, g, h, alpha, beta, gamma, delta).
CLOSED_FORMS = {
    "count": lambda r: (1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0),  # (sum x^0)^1 / 1
    "sum": lambda r: (1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0),  # (sum x)^1 / 1
    "mean": lambda r: (1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0),  # (sum x) / (sum x^0)
    "max": lambda r: (1 / r, r, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0),  # (sum x^r)^(1/r)
    "min": lambda r: (0, 0, 1 / r, r, 0, 0, 0, 0, 1, -1, 1, 0),  # 1 - (sum (1-x)^r)^(1/r)
}


class LAFAggregation(nn.Module):
    """LAF on each feature of a set's elements: (B, N, H) in [0, 1] -> (B, H * units).

    ``weights`` (12, units) holds, per unit, the inner exponents b, d, f, h (rows 0-3),
    the outer exponents a, c, e, g (rows 4-7) and the coefficients alpha, beta, gamma,
    delta (rows 8-11), as the authors' code lays them out. Only the real elements of a
    set count (``real``); ``from_counts`` pools sets of tokens from a table of the
    vocabulary's features, the same sums without an element axis.
    """

    def __init__(self, units: int = 9, eps: float = 1e-7) -> None:
        super().__init__()
        self.units, self.eps = units, eps
        self.weights = nn.Parameter(torch.empty(12, units))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's: exponents uniform in [0, 1), coefficients normal(0, 0.01)."""
        with torch.no_grad():
            self.weights[:8].uniform_(0.0, 1.0)
            self.weights[8:].normal_(0.0, 0.01)

    @torch.no_grad()
    def set_unit(self, unit: int, function: str, r: float = 50.0) -> None:
        """Hand-set unit ``unit`` to compute ``function`` (``CLOSED_FORMS``)."""
        a, b, c, d, e, f, g, h, *coefficients = CLOSED_FORMS[function](r)
        numbers = (b, d, f, h, a, c, e, g, *coefficients)  # in the rows' order
        self.weights[:, unit] = torch.tensor(numbers, dtype=self.weights.dtype)

    def powers(self, x: torch.Tensor) -> torch.Tensor:
        """Each element's four inner powers, x^b, (1-x)^d, x^f, (1-x)^h:
        (..., H) -> (..., H, 4, units)."""
        x = x.clamp(self.eps, 1 - self.eps).unsqueeze(-1)  # (..., H, 1)
        logs = torch.log(torch.cat([x, 1 - x], dim=-1))[..., BASES]  # (..., H, 4)
        return torch.exp(logs.unsqueeze(-1) * torch.relu(self.weights[:4]))  # (..., H, 4, U)

    def combine(self, sums: torch.Tensor) -> torch.Tensor:
        """The sets' sums of inner powers (B, H, 4, U) -> LAF's value (B, H * U)."""
        terms = torch.exp(torch.log(sums.clamp_min(self.eps))  # L_ab, L_cd, L_ef, L_gh
                          * torch.relu(self.weights[4:8]))
        terms = terms * self.weights[8:]  # alpha L_ab, beta L_cd, gamma L_ef, delta L_gh
        numerator, denominator = terms[..., 0, :] + terms[..., 1, :], \
            terms[..., 2, :] + terms[..., 3, :]  # (B, H, U) each
        sign = torch.where(denominator > 0, 1.0, -1.0).to(denominator.dtype)
        denominator = torch.where(denominator.abs() < self.eps, sign * self.eps, denominator)
        return (numerator / denominator).flatten(1)  # (B, H, U) -> (B, H * U)

    def forward(self, x: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, N, H) in [0, 1], ``real`` (B, N) the set's elements (None: all)."""
        p = self.powers(x)  # (B, N, H, 4, U)
        if real is not None:
            p = p * real[:, :, None, None, None].to(p.dtype)
        return self.combine(p.sum(dim=1))  # (B, H, 4, U) -> (B, H * U)

    def from_counts(self, counts: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Sets of tokens given by their counts (B, V), each token's features ``table``
        (V, H) in [0, 1]: the sums of powers are ``counts @ powers(table)``."""
        sums = torch.einsum("bv,vhku->bhku", counts, self.powers(table))  # (B, H, 4, U)
        return self.combine(sums)

    def extra_repr(self) -> str:
        return f"units={self.units}, eps={self.eps:g}"
