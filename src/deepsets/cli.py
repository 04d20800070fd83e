"""The ``deepsets`` command: the only module that parses flags, prints and exits.

Subcommands follow the handout's scripts: ``train`` (train.py), ``eval``
(eval.py), ``plot``; ``report`` answers the questions; ``lab`` runs them all;
``predict`` asks trained models for the sum of a set you type; ``compare``
sweeps tasks x models x seeds; ``reproduce`` runs a published result again; ``explore``
writes a sweep's (or a lab run's) page.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

from deepsets.core.progress import Bars
from deepsets.core.runfolder import read_config
from deepsets.core.settings import LabConfig
from deepsets.flags import (
    PLUGIN_CONTRACT,
    add_compare_flags,
    add_reproduce_flags,
    closest_choice,
    compare_config_from,
    config_from,
    debug_flag,
    explore_flags,
    lab_flags,
    predict_flags,
    run_flags,
)
from deepsets.listing import cmd_models, cmd_tasks


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line: ``deepsets lab: error: ... (see --help)``."""

    def error(self, message: str):  # type: ignore[override]
        message = " ".join(message.splitlines())  # one line, whatever the flag's value held
        message = closest_choice(message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def print_results(results: dict) -> None:
    from deepsets.core.results import metrics_of, model_names, scores_at
    from deepsets.lab.plot import label

    models = model_names(results)
    metrics = [(k, name, fmt) for k, name, fmt in (("acc", "acc", ".4f"), ("mae", "MAE", ".3f"))
               if k in metrics_of(results)]
    print(f"{'size':>6}  " + "  ".join(f"{label(m) + ' ' + name:>13}" for m in models
                                       for _, name, _ in metrics))
    for i, card in enumerate(results["cards"]):
        values = [scores_at(results, m, k)[i] for m in models for k, _, _ in metrics]
        print(f"{card:>6}  " + "  ".join(
            f"{'n/a':>13}" if v is None else f"{v:>13{fmt}}"
            for v, (_, _, fmt) in zip(values, metrics * len(models), strict=True)))


def print_files(files: list[Path]) -> None:
    print("\nwrote:")
    for path in files:
        if Path(path).exists():
            print(f"  {path}")


# --- subcommands ---

def cmd_lab(args: argparse.Namespace) -> int:
    from deepsets.lab.run import run_lab

    done = run_lab(config_from(args), args.out, resume=args.resume, force=args.force,
                   progress=Bars())
    print_results(done.results)
    print_files(done.files)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from deepsets.core.pipeline import train_models
    from deepsets.core.runfolder import CONFIG, HISTORY, checkpoint_path, prepare_run

    bars = Bars()
    config = prepare_run(args.out, config_from(args), resume=args.resume, force=args.force,
                         progress=bars)
    history = train_models(args.out, config, bars)
    for name, epochs in history.items():
        print(f"{name}: {len(epochs)} epochs, final training loss {epochs[-1]['loss']:.4f}")
    print_files([args.out / CONFIG, args.out / HISTORY,
                 *(checkpoint_path(args.out, m) for m in config.models)])
    return 0


def run_config(args: argparse.Namespace) -> LabConfig:
    """The settings of the ``--run`` folder, computed on ``--device`` when given."""
    config = read_config(args.run)
    return config if args.device is None else replace(config, device=args.device)


def cmd_eval(args: argparse.Namespace) -> int:
    from deepsets.core.pipeline import evaluate_models
    from deepsets.core.runfolder import RESULTS, RESULTS_CSV

    results = evaluate_models(args.run, run_config(args), Bars())
    print_results(results)
    print_files([args.run / RESULTS, args.run / RESULTS_CSV])
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from deepsets.lab.run import plot_run

    print_files(plot_run(args.run, run_config(args)))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from deepsets.lab.run import report_run

    print_files(report_run(args.run, run_config(args), Bars()))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from deepsets.core.runfolder import FAILURE
    from deepsets.sweep.compare import run_compare, run_name
    from deepsets.sweep.costs import dry_run, longest_first
    from deepsets.sweep.summary import figure_name

    config, bars = compare_config_from(args), Bars()
    if args.dry_run:
        runs = {run_name(r): r for r in config.runs()}
        print(dry_run(config, runs, args.out, cpus_for(args), bars), end="")
        return 0
    order = longest_first(args.out, bars) if args.longest_first else None
    rows, failed = run_compare(config, args.out, jobs=args.jobs, cluster=args.cluster,
                               progress=bars, force=args.force, order=order)
    print(f"{len(rows)} rows from {len(config.runs())} runs, {len(failed)} failed")
    for name, error in failed.items():
        print(f"  failed: {name}: {error}")
        if args.debug and (args.out / name / FAILURE).is_file():  # the run's own traceback
            print((args.out / name / FAILURE).read_text(), file=sys.stderr)
    print_files([args.out / name for name in ("results.csv", "summary.md", "reach.csv",
                                              "reach.png")]
                + [args.out / figure_name(t) for t in config.tasks]
                + [args.out / "explorer.html"])
    return 1 if failed else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from deepsets.sweep.reproduce import reproduce

    args.out = args.out or Path("runs/reproduce") / args.name
    _, failed = reproduce(args.name, args.out, quick=args.quick, seeds=args.seeds,
                          jobs=args.jobs, cluster=args.cluster, progress=Bars(),
                          force=args.force)
    print((args.out / "reproduction.md").read_text(), end="")
    for name, error in failed.items():
        print(f"  failed: {name}: {error}")
    print_files([args.out / "reproduction.md", args.out / "reproduction.json"])
    return 1 if failed else 0


def cmd_explore(args: argparse.Namespace) -> int:
    from deepsets.sweep.explorer import explore

    print_files([explore(args.sweep)])
    return 0


def cpus_for(args: argparse.Namespace) -> int:
    """The CPUs a sweep gets: its local jobs, or every CPU of the Ray cluster."""
    if args.cluster is None:
        return args.jobs
    import ray

    from deepsets.core.cluster import connect_ray

    connect_ray(args.cluster)
    return int(ray.cluster_resources().get("CPU", 1))


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from deepsets.core.evaluate import predict
    from deepsets.core.runfolder import checkpoint_path, load_trained
    from deepsets.lab.plot import label

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


#: The subcommands: name -> (one line, its --help's description, its flags, what it runs).
SUBCOMMANDS = {
    "lab": ("the whole lab: data, train, evaluate, plot, report",
            "Generate the data, train DeepSets and the LSTM, evaluate them at every test size, "
            "plot, and write the run folder (config.json, checkpoints, history.json, "
            "results.json/csv, accuracy.png, mae.png, report.md). Rerun the same command, "
            "with or without --resume, to continue a cut-off run.", lab_flags, cmd_lab),
    "train": ("handout task 5: train the models into a run folder",
              "Generate the training data and train every model, writing a checkpoint after "
              "each epoch.", lab_flags, cmd_train),
    "eval": ("handout task 6: accuracy and MAE per test size",
             "Evaluate the trained models of a run folder on its test sets and write "
             "results.json and results.csv.", run_flags, cmd_eval),
    "plot": ("handout task 7: accuracy and MAE figures",
             "Draw accuracy.png and mae.png from a run folder's results.json.", run_flags,
             cmd_plot),
    "report": ("the handout's questions, the drift analysis, report.md",
               "Answer the handout's questions with computed evidence, analyze the trained "
               "DeepSets' drift, and write analysis.json, drift.png and report.md into a run "
               "folder that has results.", run_flags, cmd_report),
    "compare": ("sweep tasks x models x seeds: set-size generalization",
                "Train and evaluate every (task, model, seed) in its own run folder under "
                "--out, in local worker processes or on a Ray cluster, then write "
                "results.csv, reach.csv, reach.png (each model's reach on each task), "
                "summary.md, a figure per task and explorer.html (open it in a browser). "
                "Finished runs are reused and cut-off runs continue from their last epoch, so "
                "the same command again picks up where a sweep stopped. A run that fails is "
                "recorded and the others go on; the exit code is then 1.", add_compare_flags,
                cmd_compare),
    "reproduce": ("a published result at the paper's protocol, published against measured",
                  "Run a published result again at its paper's protocol (sizes, steps, batch, "
                  "architecture, optimizer; every difference stated), over seeds, and write "
                  "reproduction.md and reproduction.json into --out: each row published "
                  "against measured with a verdict (reproduced, better, not reproduced). "
                  "Each group of models is a sweep in its own folder there, so the same "
                  "command again resumes.", add_reproduce_flags, cmd_reproduce),
    "explore": ("rebuild a sweep's explorer.html, or write one for a lab run",
                "Write FOLDER/explorer.html from a sweep folder's results.csv and reach.csv "
                "(or a lab run folder's results.json): one self-contained page (no "
                "network) with the reach table as a heatmap and, for the task of a clicked "
                "cell, its curves by set size, to filter by model, task and seed.",
                explore_flags, cmd_explore),
    "models": ("every model by name, one line each",
               "List every model the lab and the sweep know by name (--models), with what "
               "it is.", debug_flag, cmd_models),
    "tasks": ("every task by name, one line each, and the suites",
              "List every task the lab and the sweep know by name (--task, --tasks), how "
              "it is scored, and the suites --tasks takes for all of theirs.", debug_flag,
              cmd_tasks),
    "predict": ("the trained models' sum of a set you type",
                "Ask every trained model of a run folder for the sum of one set, e.g. "
                "deepsets predict 3 5 7.", predict_flags, cmd_predict),
}


def build_parser() -> argparse.ArgumentParser:
    handout = LabConfig()
    parser = Parser(prog="deepsets", description="DeepSets against an LSTM on the sum of a "
                    f"set of digits (the handout lab), trained on sets of 1-{handout.max_card} "
                    f"digits and tested on sets of {min(handout.cards)}-{max(handout.cards)}.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser,
                                metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name, (line, description, add_flags, run) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=line, description=description,
                           epilog=PLUGIN_CONTRACT if name == "models" else None,
                           formatter_class=argparse.RawDescriptionHelpFormatter
                           if name == "models" else argparse.HelpFormatter)
        add_flags(p)
        p.set_defaults(func=run)
    return parser


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
        elif args.command == "reproduce":
            where += f"; continue with: deepsets reproduce {args.name} --resume --out {args.out}"
        print(f"deepsets {args.command}: {where}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (| head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        if args.debug:
            raise
        print(f"deepsets {args.command}: error: not enough memory; use smaller sizes",
              file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:  # user errors; a bug's traceback stays visible
        if args.debug:
            raise
        message = " ".join(str(err).splitlines())  # one line, whatever the input held
        print(f"deepsets {args.command}: error: {message}", file=sys.stderr)
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
