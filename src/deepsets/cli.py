"""The ``deepsets`` command: the only module that parses flags, prints and exits.

Subcommands follow the handout's scripts: ``train`` (train.py), ``eval``
(eval.py), ``plot``; ``report`` answers the questions; ``lab`` runs them all;
``predict`` asks trained models for the sum of a set you type; ``compare``
sweeps tasks x models x seeds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from deepsets.config import RECIPES, LabConfig
from deepsets.data import TASKS
from deepsets.flags import (
    add_config_flags,
    add_run_flags,
    card_list,
    config_from,
    merge_cards,
    name_list,
    positive_int,
)
from deepsets.models import MODELS
from deepsets.progress import Bars
from deepsets.runfolder import read_config, with_device


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line: ``deepsets lab: error: ... (see --help)``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def print_results(results: dict) -> None:
    from deepsets.plot import label
    from deepsets.results import model_names

    models = model_names(results)
    print(f"{'digits':>6}  " + "  ".join(f"{label(m) + ' acc':>13} {label(m) + ' MAE':>13}"
                                         for m in models))
    for i, card in enumerate(results["cards"]):
        print(f"{card:>6}  " + "  ".join(
            f"{results[m]['acc'][i]:>13.4f} {results[m]['mae'][i]:>13.3f}" for m in models))


def print_files(files: list[Path]) -> None:
    print("\nwrote:")
    for path in files:
        if Path(path).exists():
            print(f"  {path}")


# --- subcommands ---

def cmd_lab(args: argparse.Namespace) -> int:
    from deepsets.lab import run_lab

    done = run_lab(config_from(args), args.out, resume=args.resume, force=args.force,
                   progress=Bars())
    print_results(done.results)
    print_files(done.files)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from deepsets.pipeline import train_models
    from deepsets.runfolder import CONFIG, HISTORY, checkpoint_path, prepare_run

    config = prepare_run(args.out, config_from(args), resume=args.resume, force=args.force)
    history = train_models(args.out, config, Bars())
    for name, epochs in history.items():
        print(f"{name}: {len(epochs)} epochs, final training loss {epochs[-1]['loss']:.4f}")
    print_files([args.out / CONFIG, args.out / HISTORY,
                 *(checkpoint_path(args.out, m) for m in config.models)])
    return 0


def run_config(args: argparse.Namespace) -> LabConfig:
    """The settings of the ``--run`` folder, computed on ``--device`` when given."""
    return with_device(read_config(args.run), args.device)


def cmd_eval(args: argparse.Namespace) -> int:
    from deepsets.pipeline import evaluate_models
    from deepsets.runfolder import RESULTS, RESULTS_CSV

    results = evaluate_models(args.run, run_config(args), Bars())
    print_results(results)
    print_files([args.run / RESULTS, args.run / RESULTS_CSV])
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from deepsets.lab import plot_run

    print_files(plot_run(args.run, run_config(args)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from deepsets.lab import report_run

    print_files(report_run(args.run, run_config(args), Bars()))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from deepsets.compare import CompareConfig, run_compare

    config = CompareConfig().quick() if args.quick else CompareConfig()
    given = {k: getattr(args, k) for k in ("tasks", "models", "seeds", "epochs", "n_train",
                                            "n_per_card", "recipe")
             if getattr(args, k) is not None}
    if args.cards is not None:
        given["cards"] = merge_cards(config.cards, args.cards)
    config = replace(config, **given)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot write to {args.out}: {err.strerror or err}") from None
    rows = run_compare(config, args.out, jobs=args.jobs, progress=Bars())
    print(f"{len(rows)} rows from {len(config.runs())} runs")
    print_files([args.out / "results.csv", args.out / "summary.md",
                 *(args.out / f"accuracy_{t}.png" for t in config.tasks)])
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from deepsets.evaluate import predict
    from deepsets.plot import label
    from deepsets.runfolder import checkpoint_path, load_trained

    config = run_config(args)
    bad = sorted({d for d in args.digits if not 1 <= d <= config.max_digit})
    if bad:
        raise ValueError(f"digits must lie in 1..{config.max_digit}; got {bad[:5]}")
    names = [m for m in config.models if checkpoint_path(args.run, m).exists()]
    if not names:
        raise FileNotFoundError(f"{args.run} holds no trained model; run deepsets lab first")
    X = np.asarray([args.digits], dtype=np.int64)  # (1, N): one unpadded set
    print(f"a set of {len(args.digits)} digits, true sum {sum(args.digits)}")
    for name in names:
        model = load_trained(args.run, config, name)[0]
        value = float(predict(model, X, device=config.device)[0])
        print(f"  {label(name):<9} {value:10.3f}  -> {round(value)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="deepsets", description="DeepSets against an LSTM on the sum of a "
                    "set of digits (the handout lab), trained on sets of 1-10 digits and "
                    "tested on sets of 5-100.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                metavar="{lab,train,eval,plot,report,compare,predict}")
    p = sub.add_parser("lab", help="the whole lab: data, train, evaluate, plot, report",
                       description="Generate the data, train DeepSets and the LSTM, evaluate "
                       "them at every test size, plot, and write the run folder "
                       "(config.json, checkpoints, history.json, results.json/csv, "
                       "accuracy.png, mae.png, report.md). Rerun the same command, with or "
                       "without --resume, to continue a cut-off run.")
    add_run_flags(p, out=True)
    add_config_flags(p)
    p.set_defaults(func=cmd_lab)

    p = sub.add_parser("train", help="handout task 5: train the models into a run folder",
                       description="Generate the training data and train every model, "
                       "writing a checkpoint after each epoch.")
    add_run_flags(p, out=True)
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="handout task 6: accuracy and MAE per test size",
                       description="Evaluate the trained models of a run folder on its test "
                       "sets and write results.json and results.csv.")
    add_run_flags(p, out=False)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("plot", help="handout task 7: accuracy and MAE figures",
                       description="Draw accuracy.png and mae.png from a run folder's "
                       "results.json.")
    add_run_flags(p, out=False)
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="the handout's questions, the drift analysis, report.md",
                       description="Answer the handout's questions with computed evidence, "
                       "analyze the trained DeepSets' drift, and write analysis.json, "
                       "drift.png and report.md into a run folder that has results.")
    add_run_flags(p, out=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="sweep tasks x models x seeds: set-size generalization",
                       description="Train and evaluate every (task, model, seed) in its own "
                       "run folder under --out (finished runs are reused), then write "
                       "results.csv, summary.md and accuracy_<task>.png.")
    p.add_argument("--out", type=Path, default=Path("runs/compare"),
                   help="folder of the sweep (default: runs/compare)")
    p.add_argument("--tasks", type=name_list,
                   help="comma-separated tasks: " + ", ".join(TASKS) + " (default: all)")
    p.add_argument("--models", type=name_list,
                   help="comma-separated models (default: " + ", ".join(MODELS) + ")")
    p.add_argument("--seeds", type=positive_int, help="seeds per task and model (default: 3)")
    p.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                   help="runs at once, in separate processes (default: the CPU count)")
    p.add_argument("--epochs", type=positive_int, help="epochs per run (default: 10)")
    p.add_argument("--n-train", type=positive_int,
                   help="training sets per run (default: 20,000)")
    p.add_argument("--n-per-card", type=positive_int,
                   help="test sets per size (default: 1,000)")
    p.add_argument("--cards", type=card_list,
                   help="test set sizes, comma-separated; a leading + adds them to 5,...,100")
    p.add_argument("--recipe", choices=RECIPES, metavar="{" + ",".join(RECIPES) + "}",
                   help="how the sum-pooling deepsets is trained (default: exact: padding "
                        "masked, output layer refit by least squares)")
    p.add_argument("--quick", action="store_true",
                   help="tiny preset in seconds: 2 seeds, 1 epoch, 2,000 training sets, "
                        "100 test sets at sizes 5, 10, 20")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("predict", help="the trained models' sum of a set you type",
                       description="Ask every trained model of a run folder for the sum of "
                       "one set, e.g. deepsets predict 3 5 7.")
    add_run_flags(p, out=False)
    p.add_argument("digits", nargs="+", type=int_digit, metavar="DIGIT",
                   help="the digits of the set, each in 1..10")
    p.set_defaults(func=cmd_predict)
    return parser


def int_digit(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a digit") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except KeyboardInterrupt as err:
        where = str(err) or "interrupted"
        if args.command in ("lab", "train"):
            where += f"; continue with: deepsets {args.command} --resume --out {args.out}"
        print(f"deepsets {args.command}: {where}", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print(f"deepsets {args.command}: error: not enough memory; use smaller sizes",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:  # user errors; a bug's traceback stays visible
        if args.debug:
            raise
        print(f"deepsets {args.command}: error: {err}", file=sys.stderr)
        return 2


def entry() -> None:
    """The console script. After Ctrl-C it leaves at once: every file is already
    written whole, and Python's orderly teardown of torch takes most of a second."""
    code = main()
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
