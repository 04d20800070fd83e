"""The command line's flags: their types, their groups, and the settings they give.

Flag types turn a bad value into a one-line argparse error with exit code 2.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

from deepsets.core.config import DEVICES, QUICK, RECIPES, LabConfig
from deepsets.core.data import TASKS
from deepsets.core.models import MODELS
from deepsets.core.runfolder import stored_config

DEFAULTS = LabConfig()
DEFAULT_RUN = Path("runs/lab")


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not allowed; use a whole number >= 1")
    return value


def seed_int(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{text} is not allowed; use 0..2**63-1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not allowed; use a finite number > 0")
    return value


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def card_list(text: str) -> tuple[bool, tuple[int, ...]]:
    """``5,10,20`` sets the test sizes; ``+1000,10000`` adds sizes to the others."""
    add = text.startswith("+")
    parts = [t.strip() for t in text.lstrip("+").split(",") if t.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("give at least one size, e.g. 5,10,20 or +1000")
    return add, tuple(positive_int(t) for t in parts)


def merge_cards(base: tuple[int, ...], flag: tuple[bool, tuple[int, ...]]) -> tuple[int, ...]:
    """The test sizes a ``--cards`` value asks for: its own, or added to ``base``."""
    add, cards = flag
    return tuple(sorted(set(base) | set(cards))) if add else cards


def add_run_flags(p: argparse.ArgumentParser, *, out: bool) -> None:
    if out:
        p.add_argument("--out", type=Path, default=DEFAULT_RUN,
                       help=f"run folder to write (default: {DEFAULT_RUN})")
    else:
        p.add_argument("--run", type=Path, default=DEFAULT_RUN,
                       help=f"run folder to read (default: {DEFAULT_RUN})")
    p.add_argument("--device", choices=DEVICES, default=None,
                   help="where to compute: cpu, cuda or auto = cuda when available "
                        f"(default: {DEFAULTS.device})")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    g = p.add_argument_group("settings (defaults are the handout's)")
    g.add_argument("--seed", type=seed_int, help=f"derives all randomness (default: {d.seed})")
    g.add_argument("--task", choices=TASKS, metavar="{" + ",".join(TASKS) + "}",
                   help="the set function to learn: sum (the handout), max, unique, or images "
                        "(sums of handwritten digit images) (default: sum)")
    g.add_argument("--epochs", type=positive_int, help=f"training epochs (default: {d.epochs})")
    g.add_argument("--batch-size", type=positive_int,
                   help=f"training sets per step (default: {d.batch_size})")
    g.add_argument("--lr", type=positive_float, help=f"Adam learning rate (default: {d.lr:g})")
    g.add_argument("--embedding-dim", type=positive_int,
                   help=f"h1, embedding size (default: {d.embedding_dim})")
    g.add_argument("--hidden-dim", type=positive_int,
                   help=f"h2, hidden units (default: {d.hidden_dim})")
    g.add_argument("--n-train", type=positive_int,
                   help=f"training sets (default: {d.n_train:,})")
    g.add_argument("--n-per-card", type=positive_int,
                   help=f"test sets per size (default: {d.n_per_card:,})")
    g.add_argument("--cards", type=card_list,
                   help="test set sizes, comma-separated; a leading + adds them to the "
                        "handout's 5,10,...,100 (e.g. +1000,10000)")
    g.add_argument("--models", type=name_list,
                   help=f"comma-separated models to train (default: {','.join(d.models)}); "
                        "also " + ", ".join(m for m in MODELS if m not in d.models)
                        + " (the LSTM trained on its sets without padding)")
    g.add_argument("--recipe", choices=RECIPES, metavar="{" + ",".join(RECIPES) + "}",
                   help="how DeepSets is trained (default: handout): "
                        + "; ".join(f"{k}: {v}" for k, v in RECIPES.items()))
    g.add_argument("--quick", action="store_true",
                   help="tiny preset that runs in seconds: 10,000 training sets, 2 epochs, "
                        "200 test sets at sizes 5, 10, 20, 50 (other flags still apply)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in the folder from its last completed epoch: "
                        "alone, or added to the command that started it (flags that differ "
                        "from the stored settings are refused, --device aside)")
    g.add_argument("--force", action="store_true",
                   help="start over: delete the folder's earlier lab files first")


#: Flags that set a LabConfig field of the same name.
CONFIG_FLAGS = ("seed", "task", "epochs", "batch_size", "lr", "embedding_dim", "hidden_dim",
                "n_train", "n_per_card", "models", "recipe", "device")


def given_settings(args: argparse.Namespace) -> dict:
    """The settings the command line names: the ``--quick`` preset's, then every flag."""
    given = dict(QUICK) if args.quick else {}
    given.update({k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k) is not None})
    if args.cards is not None:
        given["cards"] = merge_cards(given.get("cards", DEFAULTS.cards), args.cards)
    return given


def config_from(args: argparse.Namespace) -> LabConfig | None:
    """The run's settings: the handout's with the flags given over them.

    With ``--resume`` the flags go over the stored settings instead, so both
    ``--resume`` alone and the original command plus ``--resume`` continue the
    run; a flag that changes a stored setting is refused by ``prepare_run``.
    None: there is nothing stored to resume.
    """
    if not args.resume:
        return replace(DEFAULTS, **given_settings(args))
    stored = stored_config(args.out)
    return None if stored is None else replace(stored, **given_settings(args))


def add_compare_flags(p: argparse.ArgumentParser) -> None:
    from deepsets.sweep.compare import CompareConfig

    d = CompareConfig()
    p.add_argument("--out", type=Path, default=Path("runs/compare"),
                   help="folder of the sweep (default: runs/compare)")
    p.add_argument("--tasks", type=name_list,
                   help="comma-separated tasks: " + ", ".join(TASKS) + " (default: all)")
    p.add_argument("--models", type=name_list,
                   help="comma-separated models (default: " + ", ".join(d.models)
                        + "; also lstm-unpadded)")
    p.add_argument("--model", action="append", default=[], metavar="PACKAGE.MODULE:CLASS",
                   help="add your own model to the sweep: any importable nn.Module mapping "
                        "tokens (B, N) to predictions (B,); it gets the constructor arguments "
                        "it names of input_dim, embedding_dim, hidden_dim, inputs (repeatable)")
    p.add_argument("--seeds", type=positive_int,
                   help=f"seeds per task and model (default: {d.seeds})")
    p.add_argument("--epochs", type=positive_int, help=f"epochs per run (default: {d.epochs})")
    p.add_argument("--n-train", type=positive_int,
                   help=f"training sets per run (default: {d.n_train:,})")
    p.add_argument("--n-per-card", type=positive_int,
                   help=f"test sets per size (default: {d.n_per_card:,})")
    p.add_argument("--cards", type=card_list,
                   help="test set sizes, comma-separated; a leading + adds them to 5,...,100")
    p.add_argument("--recipe", choices=RECIPES, metavar="{" + ",".join(RECIPES) + "}",
                   help="how the sum-pooling deepsets is trained (default: exact: padding "
                        "masked, output layer refit by least squares)")
    p.add_argument("--device", choices=DEVICES, default=None,
                   help="where each run computes; with cuda each run asks for a GPU "
                        "(default: cpu)")
    p.add_argument("--quick", action="store_true",
                   help="tiny preset in seconds: 2 seeds, 1 epoch, 2,000 training sets, "
                        "100 test sets at sizes 5, 10, 20")
    p.add_argument("--preset", choices=("handout",),
                   help="handout: every run at the handout's full settings (100,000 training "
                        "sets, 20 epochs, 10,000 test sets per size)")
    p.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                   help="runs at once in local worker processes, one CPU each; with "
                        "--dry-run, the CPUs to project the wall time on (default: the CPU "
                        "count)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on Ray: 'auto' or 'ray://HOST:PORT' joins a running cluster, "
                        "'local-ray' starts one on this machine (127.0.0.1 only, token "
                        "authentication on); default: local worker processes, no Ray")
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs, the measured or estimated cost of each and the "
                        "projected wall time, and run nothing")
    p.add_argument("--resume", action="store_true",
                   help="accepted for habit's sake: a sweep always reuses finished runs and "
                        "continues cut-off ones")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def compare_config_from(args: argparse.Namespace):
    """The sweep the flags describe: the defaults, a preset, then every flag given."""
    from deepsets.sweep.compare import CompareConfig

    config = CompareConfig()
    config = config.quick() if args.quick else config
    config = config.handout() if args.preset == "handout" else config
    given = {k: getattr(args, k) for k in ("tasks", "seeds", "epochs", "n_train",
                                            "n_per_card", "recipe", "device")
             if getattr(args, k) is not None}
    models = args.models if args.models is not None else config.models
    given["models"] = tuple(dict.fromkeys((*models, *args.model)))
    if args.cards is not None:
        given["cards"] = merge_cards(config.cards, args.cards)
    return replace(config, **given)
