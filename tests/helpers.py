"""Helpers the tests share: the command line called in this process, and a checkpoint's
epoch read while a run writes it."""

import time

from deepsets.cli import main
from deepsets.core.runfolder import load_checkpoint


def run_main(argv):
    """``deepsets ARGV``'s exit code; argparse's errors exit directly."""
    try:
        return main(list(argv))
    except SystemExit as stop:
        return stop.code


def run_cli(capsys, *argv):
    """``deepsets ARGV``: its exit code, stdout and stderr."""
    code = run_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def expect_error(capsys, argv, pattern):
    """``deepsets ARGV`` fails with exit code 2 and one line holding ``pattern``."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert pattern in lines[0], lines[0]


def checkpoint_epoch(path):
    """The epochs a checkpoint holds; 0 while it is missing."""
    try:
        return load_checkpoint(path)["epoch"]
    except ValueError:
        return 0


def wait_for(predicate, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")
