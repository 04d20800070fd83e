"""The deepsets command: a real end-to-end run, predict, and every bad-input path."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import TINY
from helpers import expect_error, run_cli, run_main

from deepsets.cli import build_parser, main
from deepsets.core.runfolder import OUTPUTS

SMALL_FLAGS = ["--n-train", "2000", "--n-per-card", "100", "--epochs", "2",
               "--embedding-dim", "16", "--hidden-dim", "8", "--cards", "5,10,20"]


def test_lab_quick_end_to_end(tmp_path):
    """What a user types: every file of the run folder, the table and the paths printed."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "deepsets", "lab", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    for name in (*OUTPUTS, "deepsets.pt", "lstm.pt"):
        assert (out / name).is_file(), name
        assert str(out / name) in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["cards"] == [5, 10, 20, 50]
    assert "DeepSets acc" in proc.stdout and "LSTM MAE" in proc.stdout
    assert "deepsets epoch 2/2: loss" in proc.stderr  # one line per epoch without a terminal
    # predict reads the run folder back
    proc = subprocess.run([sys.executable, "-m", "deepsets", "predict", "--run", str(out),
                           "3", "5", "7"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "true sum 15" in proc.stdout and "DeepSets" in proc.stdout


@pytest.mark.parametrize("argv, pattern", [
    (["lab", "--epochs", "0"], "--epochs: 0 is not allowed"),
    (["lab", "--epochs", "-3"], "--epochs"),
    (["lab", "--n-train", "0"], "--n-train: 0 is not allowed"),
    (["lab", "--n-per-card", "x"], "'x' is not a whole number"),
    (["lab", "--batch-size", "2.5"], "--batch-size"),
    (["lab", "--lr", "nan"], "--lr: nan is not allowed"),
    (["lab", "--lr", "-1"], "--lr"),
    (["lab", "--seed", "-1"], "--seed"),
    (["lab", "--device", "tpu"], "invalid choice: 'tpu'"),
    (["lab", "--models", "deepsets,rnn"], "unknown model 'rnn'"),
    (["train", "--embedding-dim", "0"], "--embedding-dim"),
    (["predict"], "required: DIGIT"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_flags(capsys, argv, pattern):
    expect_error(capsys, argv, pattern)


def test_unwritable_out_is_reported_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    expect_error(capsys, ["lab", "--quick", "--out", str(blocker / "run")], "cannot write to")
    expect_error(capsys, ["lab", "--quick", "--out", str(blocker)], "is a file, not a folder")


def test_missing_run_folder(capsys, tmp_path):
    for cmd in ("eval", "plot"):
        expect_error(capsys, [cmd, "--run", str(tmp_path / "nope")], "does not exist")
    expect_error(capsys, ["predict", "--run", str(tmp_path / "nope"), "3"], "does not exist")


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(tiny_run.run, dst)
    return dst


def test_predict(capsys, run_copy):
    code, out, _ = run_cli(capsys, "predict", "--run", str(run_copy), "4", "5", "1", "7", "5")
    assert code == 0
    assert "a set of 5 digits, true sum 22" in out
    assert out.count("->") == 2  # both models answered


@pytest.mark.parametrize("digits", [["3", "11"], ["0"], ["3", "-2"]])
def test_predict_digit_out_of_range(capsys, run_copy, digits):
    argv = ["predict", "--run", str(run_copy), "--", *digits]
    expect_error(capsys, argv, "digits must lie in 1..10")


def test_predict_non_digit(capsys, run_copy):
    expect_error(capsys, ["predict", "--run", str(run_copy), "3", "five"], "'five' is not a digit")


def test_checkpoint_of_another_model(capsys, run_copy):
    shutil.copy(run_copy / "lstm.pt", run_copy / "deepsets.pt")
    expect_error(capsys, ["eval", "--run", str(run_copy)], "holds a 'lstm' model, not 'deepsets'")
    expect_error(capsys, ["predict", "--run", str(run_copy), "3"], "holds a 'lstm' model")


def test_checkpoint_missing_or_corrupt(capsys, run_copy):
    (run_copy / "lstm.pt").write_bytes(b"not a checkpoint")
    expect_error(capsys, ["eval", "--run", str(run_copy)], "corrupt or not a checkpoint")
    (run_copy / "lstm.pt").unlink()
    expect_error(capsys, ["eval", "--run", str(run_copy)], "no checkpoint at")


def test_checkpoint_of_another_size(capsys, run_copy, tmp_path):
    other = tmp_path / "other"
    assert main(["train", "--out", str(other), *SMALL_FLAGS[:6], "--embedding-dim", "8",
                 "--hidden-dim", "8", "--epochs", "1", "--models", "deepsets"]) == 0
    shutil.copy(other / "deepsets.pt", run_copy / "deepsets.pt")
    capsys.readouterr()
    expect_error(capsys, ["eval", "--run", str(run_copy)], "holds a model with")


def test_train_eval_plot_report_steps(capsys, tmp_path):
    out = tmp_path / "steps"
    code, stdout, _ = run_cli(capsys, "train", "--out", str(out), *SMALL_FLAGS)
    assert code == 0 and "deepsets: 2 epochs" in stdout and "lstm: 2 epochs" in stdout
    assert not (out / "results.json").exists()
    code, stdout, _ = run_cli(capsys, "eval", "--run", str(out))
    assert code == 0 and (out / "results.json").exists() and (out / "results.csv").exists()
    code, stdout, _ = run_cli(capsys, "plot", "--run", str(out))
    assert code == 0 and (out / "accuracy.png").exists() and (out / "mae.png").exists()
    assert not (out / "report.md").exists()
    code, stdout, _ = run_cli(capsys, "report", "--run", str(out))
    assert code == 0 and (out / "report.md").exists() and (out / "drift.png").exists()
    assert "## Question 1" in (out / "report.md").read_text()
    # the same settings as the shared tiny run: the steps give the lab's numbers
    assert json.loads((out / "config.json").read_text())["config"] == TINY.to_dict()


def test_other_settings_in_folder_need_force(capsys, run_copy):
    expect_error(capsys, ["lab", "--out", str(run_copy), "--epochs", "3"], "--force")
    expect_error(capsys, ["lab", "--out", str(run_copy), "--resume", "--epochs", "3"],
                 "(--epochs 2 -> 3); repeat the flags it was started with")


def test_cards_flag_sets_or_adds_sizes():
    parse = build_parser().parse_args
    from deepsets.flags import config_from

    assert config_from(parse(["lab", "--cards", "7,3"])).cards == (7, 3)
    assert config_from(parse(["lab", "--cards", "+1000,10000"])).cards == \
        (*range(5, 101, 5), 1000, 10000)
    assert config_from(parse(["lab", "--quick", "--cards", "+5,7"])).cards == (5, 7, 10, 20, 50)


@pytest.mark.parametrize("value", ["", "+", "5,0", "a"])
def test_bad_cards(capsys, value):
    expect_error(capsys, ["lab", "--cards", value], "--cards")


def test_every_flag_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = " ".join(p.format_help().split())  # as printed, lines joined
        for action in p._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
            for flag in action.option_strings:
                assert flag in text, (name, flag)
    lab_help = " ".join(sub.choices["lab"].format_help().split())
    for flag, default in (("--epochs", "20"), ("--batch-size", "64"), ("--lr", "0.001"),
                          ("--embedding-dim", "128"), ("--hidden-dim", "64"),
                          ("--n-train", "100,000"), ("--n-per-card", "10,000")):
        assert f"{flag} " in lab_help and f"(default: {default})" in lab_help, flag
    assert "--resume" in lab_help and "added to the command that started it" in lab_help


def test_an_error_quoting_a_line_break_stays_one_line(capsys, tmp_path):
    # the module name holds a carriage return, and so does Python's ImportError about it
    code = run_main(["lab", "--models", "0\r:Model", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "cannot import" in err


def test_lab_and_sweep_flags_come_from_one_table_of_settings():
    from deepsets.core.settings import QUICK, CompareConfig, LabConfig

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for command, config in (("lab", LabConfig()), ("compare", CompareConfig())):
        actions = {a.dest: a for a in sub.choices[command]._actions}
        for name in ("epochs", "n_train", "n_per_card", "recipe", "device"):
            value = getattr(config, name)  # each help ends with the config's own default
            shown = f"{value:,}" if isinstance(value, int) else str(value)
            assert actions[name].help.endswith(f"(default: {shown})"), (command, name)
        assert actions["epochs"].help.startswith("training epochs of a run")
    lab, compare = sub.choices["lab"], sub.choices["compare"]
    assert "10,000 training sets, 2 epochs, 200 test sets at sizes 5, 10, 20, 50" in \
        " ".join(lab.format_help().split())
    assert QUICK["lab"]["n_train"] == 10_000 and QUICK["sweep"]["n_train"] == 2_000
    assert "2 seeds, 1 epoch, 2,000 training sets, 100 test sets at sizes 5, 10, 20" in \
        " ".join(compare.format_help().split())


@pytest.mark.parametrize("command", ["lab", "compare"])
def test_a_bad_setting_is_refused_alike_by_the_lab_and_the_sweep(capsys, command):
    expect_error(capsys, [command, "--epochs", "0"],
                 "--epochs: 0 is not allowed; use a whole number >= 1")
    expect_error(capsys, [command, "--n-train", "x"], "--n-train: 'x' is not a whole number")
    expect_error(capsys, [command, "--cards", "5,0"], "--cards: 0 is not allowed")
    expect_error(capsys, [command, "--models", "rnn"], "unknown model 'rnn'")
