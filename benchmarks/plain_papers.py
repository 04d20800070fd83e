"""A plain-PyTorch reference of the Set Transformer paper's max regression (Table 1).

    nice -n 10 python benchmarks/plain_papers.py [--models max,mean,sum,set-transformer]
        [--seeds 1] [--steps 20000] [--batch 128] [--lr 1e-3] [--threads 1]
        [--test-sets 10000]

Independent of the ``deepsets`` package: the models are transcribed from the authors'
repository (github.com/juho-lee/set_transformer, ``max_regression_demo.ipynb`` and
``modules.py`` with ``ln=False``), and the protocol is the paper's appendix (Lee et al.,
ICML 2019): each set holds 1 to 10 reals uniform on [0, 100], the target is their max,
L1 loss, Adam, batch 128, 20,000 batches, tested at the training sizes only. As in the
authors' demo every batch has a single set length (drawn from 1..10), so nothing is
padded. The test sets (``--test-sets``, spread evenly over sizes 1..10) are the same
for every model and seed.

Besides the paper's four models, ``max/100``, ``mean/100`` and ``sum/100`` are the
DeepSets poolings with the inputs divided by 100 before the encoder (the authors' demo
feeds raw values); the targets stay raw. Per model, prints the test MAE (mean +- std
over seeds) and the training wall time per 1,000 steps, then a Markdown table of the
published figures beside the measured ones. CPU only, no download.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

MAX_SIZE = 10
TEST_SEED = 2019
PUBLISHED = {  # Table 1 of Lee et al. (2019): MAE, mean ± std over 5 runs
    "mean": "2.133 ± 0.190",
    "sum": "1.902 ± 0.137",
    "max": "0.1355 ± 0.0074",
    "set-transformer": "0.2085 ± 0.0127",
}
MODELS = ("max", "mean", "sum", "set-transformer", "max/100", "mean/100", "sum/100")


class MAB(nn.Module):
    """The authors' multihead attention block (modules.py, without layer norm)."""

    def __init__(self, dim_q: int, dim_k: int, dim_v: int, num_heads: int) -> None:
        super().__init__()
        self.dim_v, self.num_heads = dim_v, num_heads
        self.fc_q = nn.Linear(dim_q, dim_v)
        self.fc_k = nn.Linear(dim_k, dim_v)
        self.fc_v = nn.Linear(dim_k, dim_v)
        self.fc_o = nn.Linear(dim_v, dim_v)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        q = self.fc_q(q)
        k, v = self.fc_k(k), self.fc_v(k)
        split = self.dim_v // self.num_heads
        q_ = torch.cat(q.split(split, 2), 0)
        k_ = torch.cat(k.split(split, 2), 0)
        v_ = torch.cat(v.split(split, 2), 0)
        # As in the authors' code: scaled by sqrt(dim_v), not by the head's width.
        a = torch.softmax(q_.bmm(k_.transpose(1, 2)) / math.sqrt(self.dim_v), 2)
        o = torch.cat((q_ + a.bmm(v_)).split(q.size(0), 0), 2)
        return o + F.relu(self.fc_o(o))


class SAB(nn.Module):
    """Set attention block: MAB(X, X)."""

    def __init__(self, dim_in: int, dim_out: int, num_heads: int) -> None:
        super().__init__()
        self.mab = MAB(dim_in, dim_in, dim_out, num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mab(x, x)


class PMA(nn.Module):
    """Pooling by multihead attention onto learned seed vectors."""

    def __init__(self, dim: int, num_heads: int, num_seeds: int) -> None:
        super().__init__()
        self.seeds = nn.Parameter(torch.empty(1, num_seeds, dim))
        nn.init.xavier_uniform_(self.seeds)
        self.mab = MAB(dim, dim, dim, num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mab(self.seeds.repeat(x.size(0), 1, 1), x)


class SmallDeepSet(nn.Module):
    """The demo's DeepSets: 4-layer encoder, max/mean/sum pooling, 2-layer decoder."""

    def __init__(self, pool: str, input_scale: float = 1.0) -> None:
        super().__init__()
        self.pool, self.input_scale = pool, input_scale
        self.enc = nn.Sequential(
            nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
            nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64),
        )  # fmt: skip
        self.dec = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.enc(x * self.input_scale)
        if self.pool == "max":
            h = h.max(dim=1).values
        elif self.pool == "mean":
            h = h.mean(dim=1)
        else:
            h = h.sum(dim=1)
        return self.dec(h)


class SmallSetTransformer(nn.Module):
    """The demo's Set Transformer: SAB(1->64), SAB(64->64), PMA(1 seed), Linear(64, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Sequential(SAB(1, 64, 4), SAB(64, 64, 4))
        self.dec = nn.Sequential(PMA(64, 4, 1), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dec(self.enc(x)).squeeze(-1)


def build(name: str) -> nn.Module:
    """A fresh model by name: a pooling, a pooling with '/100' inputs, or set-transformer."""
    if name == "set-transformer":
        return SmallSetTransformer()
    pool, _, div = name.partition("/")
    return SmallDeepSet(pool, 1.0 / float(div) if div else 1.0)


def batch(rng: np.random.Generator, size: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` sets of `n` reals uniform on [0, 100]: x (size, n, 1), y = max (size, 1)."""
    x = torch.from_numpy(rng.uniform(0.0, 100.0, (size, n, 1)).astype(np.float32))
    return x, x.max(dim=1).values


def test_sets(total: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`total` test sets, an equal share at each size 1..10, from a fixed generator."""
    rng = np.random.default_rng(TEST_SEED)
    return [batch(rng, total // MAX_SIZE, n) for n in range(1, MAX_SIZE + 1)]


def train(model: nn.Module, seed: int, steps: int, size: int, lr: float) -> float:
    """The plain loop; returns its wall time in seconds."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.L1Loss()
    start = time.perf_counter()
    for _ in range(steps):
        x, y = batch(rng, size, int(rng.integers(1, MAX_SIZE + 1)))
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def evaluate(model: nn.Module, data: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """MAE over all test sets (equal shares per size, so the mean of the per-size MAEs)."""
    model.eval()
    errors = [(model(x) - y).abs().sum().item() for x, y in data]
    model.train()
    return sum(errors) / sum(len(y) for _, y in data)


def run_model(name: str, args: argparse.Namespace, data: list) -> tuple[list, list]:
    """Trains `name` once per seed; returns the test MAEs and the times per 1,000 steps."""
    maes, per_k = [], []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = build(name)
        seconds = train(model, seed, args.steps, args.batch, args.lr)
        maes.append(evaluate(model, data))
        per_k.append(seconds / args.steps * 1000)
        print(f"{name:16s} seed {seed}: MAE {maes[-1]:.4f}  {per_k[-1]:.2f} s/1k steps",
              flush=True)  # fmt: skip
    return maes, per_k


def fmt(values: list[float]) -> str:
    """'mean ± std' (sample std; no std for one value)."""
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def table(results: dict, args: argparse.Namespace) -> str:
    """The Markdown table: published vs measured, with the training time per 1,000 steps."""
    lines = [
        f"{args.steps} steps, batch {args.batch}, lr {args.lr}, {args.seeds} seed(s), "
        f"{args.threads} thread(s), {args.test_sets} test sets",
        "",
        "| model | published MAE (5 runs) | measured MAE | s / 1k steps |",
        "|---|---|---|---|",
    ]
    for name, (maes, per_k) in results.items():
        pub = PUBLISHED.get(name, "—")
        lines.append(f"| {name} | {pub} | {fmt(maes)} | {np.mean(per_k):.2f} |")
    return "\n".join(lines)


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="max,mean,sum,set-transformer",
                   help=f"comma-separated, from {', '.join(MODELS)}")  # fmt: skip
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--test-sets", type=int, default=10000, help="spread over sizes 1..10")
    args = p.parse_args()
    args.models = args.models.split(",")
    unknown = set(args.models) - set(MODELS)
    if unknown:
        p.error(f"unknown models: {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = parse()
    torch.set_num_threads(args.threads)
    data = test_sets(args.test_sets)
    results = {name: run_model(name, args, data) for name in args.models}
    print()
    print(table(results, args))


if __name__ == "__main__":
    main()
