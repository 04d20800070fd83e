"""A sweep as a user runs it, today's code against an earlier commit's, side by side.

    python benchmarks/sweep_speed.py [--base 98b689f] [--rounds 2] [-- SWEEP FLAGS...]

Checks the base commit out into a scratch worktree and runs the same ``deepsets compare``
command with each code (the base's through PYTHONPATH, in this environment), in turns,
each into a fresh folder; prints each side's wall seconds and peak memory (the process
tree's, ``bench.run_measured``), the medians and the speed-up, and which runs' results.json
are the same bytes on both sides. The default sweep: three tasks, five models (the
poolings that the token table now serves, a ReLU readout, the LSTM), two seeds, the
sweep's own scale.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import run_measured

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ["--tasks", "sum,max,mean", "--models",
         "deepsets,deepsets-max+rho=relu-mlp,pyg-softmax,deepsets+pooling=pma,lstm",
         "--seeds", "2", "--n-train", "20000", "--epochs", "5", "--n-per-card", "1000",
         "--jobs", "2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="98b689f", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("sweep", nargs="*", help="compare's flags (default: SWEEP)")
    args = parser.parse_args()
    flags = args.sweep or SWEEP
    scratch = Path(tempfile.mkdtemp(prefix="deepsets-speed-"))
    base = scratch / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base),
                    args.base], check=True, capture_output=True)
    try:
        sides = {f"base {args.base}": str(base / "src"), "today": str(ROOT / "src")}
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for k in range(args.rounds):
            for side, src in sides.items():
                out = scratch / f"{side.split()[0]}{k}"
                os.environ["PYTHONPATH"] = src
                times[side].append(run_measured([sys.executable, "-m", "deepsets", "compare",
                                                 *flags, "--out", str(out)]))
                print(f"{side}, round {k}: {times[side][-1][0]:.1f} s, "
                      f"{times[side][-1][1]:,.0f} MiB", flush=True)
        folders = sorted(p.name for p in (scratch / "today0").iterdir() if p.is_dir())
        same = [r for r in folders if (scratch / "base0" / r / "results.json").read_bytes()
                == (scratch / "today0" / r / "results.json").read_bytes()]
        print(f"\n`deepsets compare {' '.join(flags)}`, {args.rounds} rounds in turns:\n")
        print("| code | wall s, each round | median s | peak MiB, median |")
        print("|---|---|---:|---:|")
        for side, runs in times.items():
            print(f"| {side} | {', '.join(f'{s:.1f}' for s, _ in runs)} | "
                  f"{statistics.median(s for s, _ in runs):.1f} | "
                  f"{statistics.median(m for _, m in runs):,.0f} |")
        old, new = (statistics.median(s for s, _ in runs) for runs in times.values())
        print(f"\nspeed-up {old / new:.2f}x; the same results.json bytes in {len(same)} of "
              f"{len(folders)} runs: {', '.join(same)}")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                       check=False, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
