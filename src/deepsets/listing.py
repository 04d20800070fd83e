"""What the tables hold, printed one line each: ``deepsets models`` (the models by name and
the parts a model of parts takes) and ``deepsets tasks``."""

from __future__ import annotations

import argparse


def cmd_models(args: argparse.Namespace) -> int:
    from deepsets.core.models import SPECS

    width = max(map(len, SPECS))
    for name, entry in SPECS.items():
        print(f"{name:<{width}}  {entry.about}")
    print(f"\n{'pyg-*':<{width}}  need PyTorch Geometric: pip install 'deepsets[pyg]'")
    print(f"{'yours':<{width}}  package.module:ClassName, any importable nn.Module mapping "
          "tokens (B, N) or vectors (B, N, D) to predictions (B,) or logits (B, K); the "
          "contract: deepsets models --help")
    print(f"{'':<{width}}  pyg:package.module:ClassName, your own torch_geometric.nn.aggr."
          "Aggregation as the pooling")
    print_parts()
    return 0


def print_parts() -> None:
    """The parts a deepsets-* or pyg-* model takes after its name, each table's entries."""
    from deepsets.core.models import PARTS

    print("\nOther parts for a deepsets-* or pyg-* model, after its name in this order: "
          "deepsets-max+phi=mlp+rho=relu-mlp")
    for key, table in PARTS.items():
        ours = {k: v for k, v in table.items() if not k.startswith("pyg-")}
        width = max(map(len, ours))
        print(f"  {key}:")
        for name, part in ours.items():
            print(f"    {name:<{width}}  {part.about}")
        if len(ours) < len(table):
            print(f"    {'pyg-*':<{width}}  each of PyG's aggregations, as the pyg-* models")


def cmd_tasks(args: argparse.Namespace) -> int:
    from deepsets.core.tasks import SUITES, TASKS

    width = max(map(len, TASKS))
    for name, task in TASKS.items():
        suites = ", ".join(s for s, names in SUITES.items() if name in names)
        unit = f", a unit of size is {task.scale} elements" if task.scale > 1 else ""
        print(f"{name:<{width}}  {task.title} ({task.kind}; {suites}{unit})")
    whole, real = (next(t for t in TASKS.values() if t.whole is w) for w in (True, False))
    print(f"\na model meets a task at a size where: whole targets and classes, "
          f"{whole.criterion}; real ones, {real.criterion}\n(docs/benchmark.md)\n")
    for suite, names in SUITES.items():
        print(f"--tasks {suite}: {', '.join(names)}")
    return 0
