"""The command line's flags, built from the settings table (``core.settings.SETTINGS``):
each setting's flag, its check and its help; the settings a command line gives.

A flag that reads a bad value is a one-line argparse error with exit code 2. A flag's
help reads the default from the settings, never restates it.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import fields, replace
from pathlib import Path

from deepsets.api import DEFAULT_RUN, DEFAULT_SWEEP, lab_config, sweep_config
from deepsets.core.checks import NotAllowed, check_positive_int, did_you_mean, whole_number
from deepsets.core.settings import HANDOUT, QUICK, CompareConfig, LabConfig, Settings
from deepsets.core.settings_table import SETTINGS, describe

#: What a model of your own gets and owes: ``deepsets models --help`` and docs/models.md.
PLUGIN_CONTRACT = """\
your own model: --model package.module:ClassName (or in --models), imported from the
current folder too. Any torch.nn.Module, built with the arguments it names of:
  input_dim      tokens and images: the vocabulary, padding included (11 for the digits
                 1..10, 1,798 for the 1,797 images, 70,001 for MNIST's); vectors: D, an
                 element's dimension
  embedding_dim  h1 (--embedding-dim); hidden_dim: h2 (--hidden-dim)
  inputs         tokens, images, mnist or vectors: the task's
  outputs        K, on a classification into K classes (point-clouds: 8); a model that
                 names no outputs cannot learn one
It says what it learns from in a class attribute: takes = ("tokens", "images", "mnist",
"vectors") or a part of it (without one: tokens and both kinds of images).

forward(x) gets one batch of B sets, and returns (B,) numbers for a regression, one per
set, or (B, K) logits for K classes, all finite: checked on the first training batch
and on every test batch; a run whose model breaks this fails with one line.
  tokens   x is (B, N) int64: the digits 1..max_digit, 0 the padding. A training batch is
           left-padded with 0 to max_card tokens (the handout's); a test batch holds sets
           of one size, unpadded.
  images   x is (B, N) int64 as tokens, token t the t-th of scikit-learn's digit images;
           deepsets.core.models.PixelEmbedding(input_dim, embedding_dim) turns tokens
           into vectors through an MLP on their pixels.
  mnist    the same for MNIST: token t <= 60,000 the t-th training image, 60,001.. the
           test images; PixelEmbedding(input_dim, embedding_dim, "mnist").
  vectors  x is (B, N, D) float32 as the task draws it (reals: U[0, 100]), not
           standardized. Every batch, training and test, holds sets of one size, all N
           elements real: no padding, no mask. deepsets.core.models.Standardize(D) and
           Standardize(of="targets") are fitted by the trainer from the training sets
           before the first step, as the built-in models standardize theirs
           (examples/vector_sum.py).
Optional: not_applicable(size) -> a reason (str) or None, where it cannot predict sets of
that many elements. A checkpoint records a fingerprint of the model's source files: after
an edit, a sweep or a lab trains it again and says so.

your own PyG aggregation: --model pyg:package.module:ClassName, a
torch_geometric.nn.aggr.Aggregation pooling between our phi and rho (it gets in_channels,
out_channels or channels = h2 where it names them)."""


def closest_choice(message: str) -> str:
    """argparse's ``invalid choice: 'summ' (choose from ...)`` with the closest choice:
    ``invalid choice: 'summ' (did you mean 'sum'?) (choose from ...)``."""
    wrong = re.match(r"argument .*: invalid choice: '(.*?)' \(choose from (.*)\)$", message)
    if not wrong:
        return message
    choices = [c.strip(" '") for c in wrong.group(2).split(",")]
    return message.replace(f"'{wrong.group(1)}'",
                           f"'{wrong.group(1)}'" + did_you_mean(wrong.group(1), choices), 1)


def checked(name: str, parse, check):
    """An argparse type: ``parse`` the text, then ``check(name, value)``."""
    def read(text: str):
        try:
            return check(name, parse(text))
        except NotAllowed as err:
            raise argparse.ArgumentTypeError(f"{err.value} is not allowed; {err.rule}") from None
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    read.__name__ = name  # argparse names the type in some errors
    return read


def flag_type(name: str):
    """The argparse type of setting ``name``: its parse, then its check."""
    return checked(name, SETTINGS[name].parse, SETTINGS[name].check)


def cards_flag(text: str) -> str:
    """``5,10,20`` sets the test sizes; ``+1000,10000`` adds sizes to the others: checked
    here, read with the other settings (``api.settings_over``)."""
    flag_type("cards")(text.removeprefix("+"))
    return text


def shown(value: object) -> str:
    """A default as a user types it: 5,10,...,100 for a long even range."""
    if isinstance(value, tuple):
        step = value[1] - value[0] if len(value) > 4 and isinstance(value[0], int) else 0
        if step and value == tuple(range(value[0], value[-1] + 1, step)):
            return f"{value[0]},{value[1]},...,{value[-1]}"
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def flag_names(config: type[Settings]) -> list[str]:
    """The settings of ``config`` that a flag sets, in the order of its fields."""
    return [f.name for f in fields(config)
            if SETTINGS[f.name].parse is not None or SETTINGS[f.name].choices is not None]


def add_setting_flag(group, config: type[Settings], name: str) -> None:
    """``--<name>`` for setting ``name``, its help ending with ``config``'s default."""
    setting = SETTINGS[name]
    default = next(f.default for f in fields(config) if f.name == name)
    help_text = f"{setting.help} (default: {shown(default)})"
    flag = "--" + name.replace("_", "-")
    if setting.choices is not None:
        few = len(setting.choices) <= 6  # else the help names them (--task: 26 tasks)
        group.add_argument(flag, choices=setting.choices, default=None, help=help_text,
                           metavar="{" + ",".join(setting.choices) + "}" if few
                           else name.upper())
    else:
        group.add_argument(flag, type=cards_flag if name == "cards" else flag_type(name),
                           help=help_text)


def add_run_flags(p: argparse.ArgumentParser, *, out: bool) -> None:
    if out:
        p.add_argument("--out", type=Path, default=DEFAULT_RUN,
                       help=f"run folder to write (default: {DEFAULT_RUN})")
    else:
        p.add_argument("--run", type=Path, default=DEFAULT_RUN,
                       help=f"run folder to read (default: {DEFAULT_RUN})")
    add_setting_flag(p, LabConfig, "device")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def add_config_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (defaults are the handout's)")
    for name in flag_names(LabConfig):
        if name != "device":  # every subcommand's, with --out or --run
            add_setting_flag(g, LabConfig, name)
    g.add_argument("--quick", action="store_true",
                   help=f"tiny preset that runs in seconds: {describe(QUICK['lab'])} "
                        "(other flags still apply)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in the folder from its last completed epoch: "
                        "alone, or added to the command that started it (flags that differ "
                        "from the stored settings are refused, --device aside)")
    g.add_argument("--force", action="store_true",
                   help="start over: delete the folder's earlier lab files first")


def given_settings(args: argparse.Namespace, config: type[Settings]) -> dict:
    """The settings of ``config`` whose flags are given, by name."""
    return {k: getattr(args, k) for k in flag_names(config) if getattr(args, k, None) is not None}


def config_from(args: argparse.Namespace) -> LabConfig | None:
    """The run's settings: the handout's, the ``--quick`` preset, then the flags given.

    With ``--resume`` the preset and the flags go over the stored settings instead, so
    both ``--resume`` alone and the original command plus ``--resume`` continue the run;
    a flag that changes a stored setting is refused by ``prepare_run``. None: there is
    nothing stored to resume.
    """
    return lab_config(args.out, given_settings(args, LabConfig), resume=args.resume,
                      quick=args.quick)


def add_compare_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=DEFAULT_SWEEP,
                   help=f"folder of the sweep (default: {DEFAULT_SWEEP})")
    for name in flag_names(CompareConfig):
        add_setting_flag(p, CompareConfig, name)
        if name == "models":
            p.add_argument("--model", action="append", default=[],
                           metavar="PACKAGE.MODULE:CLASS",
                           help="add your own model to the sweep: any importable nn.Module "
                                "mapping tokens (B, N) or vectors (B, N, D) to predictions "
                                "(B,) or logits (B, K); it gets the constructor arguments it "
                                "names of input_dim, embedding_dim, hidden_dim, inputs, "
                                "outputs (repeatable; the contract: deepsets models --help)")
    p.add_argument("--quick", action="store_true",
                   help=f"tiny preset in seconds: {describe(QUICK['sweep'])}")
    p.add_argument("--preset", choices=tuple(k for k in CompareConfig.PRESETS if k != "quick"),
                   help=f"handout: every run at the handout's full settings ({describe(HANDOUT)}); "
                        "laf: the LAF paper's protocol, every task of the laf suite at those "
                        "settings, test sizes 5 to 50 then on to 100 (flags given override "
                        "a preset)")
    p.add_argument("--jobs", type=checked("jobs", whole_number, check_positive_int),
                   default=os.cpu_count() or 1,
                   help="runs at once in local worker processes, one CPU each; with "
                        "--dry-run, the CPUs to project the wall time on (default: the CPU "
                        "count)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="run on Ray: 'auto' or 'ray://HOST:PORT' joins a running cluster, "
                        "'local-ray' starts one on this machine (127.0.0.1 only, token "
                        "authentication on); default: local worker processes, no Ray")
    p.add_argument("--longest-first", action="store_true",
                   help="dispatch the costliest runs first, by the dry run's costs (it "
                        "measures each model here first, seconds each): on many CPUs the "
                        "longest runs then no longer start last; the results are the same")
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs, the measured or estimated cost of each and the "
                        "projected wall time (in the sweep's order and with "
                        "--longest-first), and run nothing")
    p.add_argument("--resume", action="store_true",
                   help="continue the sweep stored in --out on its settings (sweep.json): "
                        "alone, or added to the command that started it; the same command "
                        "without it also reuses finished runs and continues cut-off ones")
    p.add_argument("--force", action="store_true",
                   help="start over: delete the sweep's earlier run folders and outputs in "
                        "--out first (other settings in --out are refused without it)")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback on errors, and each failed run's own")


def add_reproduce_flags(p: argparse.ArgumentParser) -> None:
    from deepsets.sweep.published import REPRODUCTIONS

    p.add_argument("name", choices=tuple(REPRODUCTIONS), metavar="NAME",
                   help="the published result: " + "; ".join(
                       f"{k}: {r.paper}" for k, r in REPRODUCTIONS.items()))
    p.add_argument("--out", type=Path, help="its folder (default: runs/reproduce/NAME)")
    p.add_argument("--seeds", type=checked("seeds", whole_number, check_positive_int),
                   help="seeds per model (default: the paper's count of runs)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test in seconds: 1 seed, 1 epoch, 1,000 training sets, 20 "
                        "test sets at the first and last size of each row (its numbers say "
                        "nothing of the paper)")
    p.add_argument("--jobs", type=checked("jobs", whole_number, check_positive_int),
                   default=os.cpu_count() or 1, help="runs at once (default: the CPU count)")
    p.add_argument("--cluster", metavar="ADDRESS", help="run on Ray, as compare --cluster")
    p.add_argument("--resume", action="store_true",
                   help="continue where it stopped (the same command without it does too)")
    p.add_argument("--force", action="store_true", help="start over: delete earlier runs")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def compare_config_from(args: argparse.Namespace) -> CompareConfig:
    """The sweep the flags describe: the defaults (with ``--resume``, the settings stored in
    ``--out``), a preset, the flags, then ``--model``."""
    config = sweep_config(args.out, given_settings(args, CompareConfig), resume=args.resume,
                          quick=args.quick, preset=args.preset)
    return replace(config, models=tuple(dict.fromkeys((*config.models, *args.model))))


def int_digit(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a digit") from None


def debug_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def lab_flags(p: argparse.ArgumentParser) -> None:
    add_run_flags(p, out=True)
    add_config_flags(p)


def predict_flags(p: argparse.ArgumentParser) -> None:
    add_run_flags(p, out=False)
    p.add_argument("digits", nargs="+", type=int_digit, metavar="DIGIT",
                   help="the digits of the set, each in 1..max_digit of the run (the "
                        f"handout's: {LabConfig().max_digit})")


def run_flags(p: argparse.ArgumentParser) -> None:
    add_run_flags(p, out=False)


def explore_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", type=Path, nargs="?", default=DEFAULT_SWEEP, metavar="FOLDER",
                   help=f"a sweep folder (default: {DEFAULT_SWEEP}) or a lab run folder")
    debug_flag(p)
