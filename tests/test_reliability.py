"""Interrupted runs resume, checkpoints are safe, bad input never crashes.

The signal tests run the real command in a subprocess on a small configuration.
"""

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import TINY
from helpers import checkpoint_epoch, run_main, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepsets import create_test_dataset, create_train_dataset, fit, predict
from deepsets.core.models import DeepSets
from deepsets.core.pipeline import evaluate_models, train_sets
from deepsets.core.runfolder import (
    load_checkpoint,
    load_trained,
    prepare_run,
    read_config,
    read_json,
)
from deepsets.core.settings import LabConfig
from deepsets.core.train import TrainingDiverged, init_model
from deepsets.lab import run as lab_run  # the modules; deepsets.lab is the API function
from deepsets.lab.drift import contributions

SMALL = ["--n-train", "20000", "--n-per-card", "100", "--epochs", "6", "--embedding-dim", "16",
         "--hidden-dim", "8", "--cards", "5,10,20"]


def lab(out, *extra, flags=SMALL):
    return subprocess.Popen([sys.executable, "-m", "deepsets", "lab", "--out", str(out),
                             *flags, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture(scope="module")
def straight_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    proc = lab(out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return (out / "results.json").read_bytes()


def test_sigint_stops_within_a_second_then_resume_is_identical(tmp_path, straight_lab):
    out = tmp_path / "run"
    proc = lab(out)
    wait_for(lambda: checkpoint_epoch(out / "deepsets.pt") >= 2)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 1.0
    assert proc.returncode == 130
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "stopped after" in last and f"deepsets lab --resume --out {out}" in last
    saved = checkpoint_epoch(out / "deepsets.pt")
    assert 2 <= saved < 6
    resumed = subprocess.run([sys.executable, "-m", "deepsets", "lab", "--resume", "--out",
                              str(out)], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    history = read_json(out / "history.json")["deepsets"]
    assert [e["epoch"] for e in history] == [1, 2, 3, 4, 5, 6]
    assert (out / "results.json").read_bytes() == straight_lab


def consistent(run):
    """Every visible file of the run folder is whole: JSON parses, checkpoints load."""
    for path in run.iterdir():
        if path.name.startswith("."):
            continue  # a temporary file of a write that was cut off; never read
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            load_checkpoint(path)
        elif path.suffix == ".png":
            assert path.read_bytes()[:4] == b"\x89PNG"


def test_sigkill_at_every_phase_leaves_a_consistent_folder(tmp_path, straight_lab):
    out = tmp_path / "run"
    phases = [
        lambda: (out / "config.json").exists(),  # data generation / first epochs
        lambda: checkpoint_epoch(out / "deepsets.pt") >= 3,  # mid DeepSets training
        lambda: (out / "lstm.pt").exists(),  # mid LSTM training
        lambda: (out / "results.json").exists(),  # plotting, analysis, report
    ]
    for reached in phases:
        proc = lab(out)
        wait_for(lambda proc=proc, reached=reached: reached() or proc.poll() is not None)
        proc.kill()
        proc.communicate()
        consistent(out)
    proc = lab(out)  # the same command again continues where the last one stopped
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert not list(out.glob(".*.tmp"))
    assert (out / "results.json").read_bytes() == straight_lab


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    X, y = create_train_dataset(n_train=2_000, seed=0)
    ckpt = tmp_path / "deepsets.pt"
    model = init_model(DeepSets, 0, "deepsets", embedding_dim=8, hidden_dim=8)
    fit(model, X, y, name="deepsets", epochs=1, checkpoint=ckpt)
    bad = y.astype(np.float64)
    bad[1_000:] = np.inf
    with pytest.raises(TrainingDiverged, match=r"deepsets: the loss became inf at epoch 2, "
                                               r"step \d+; epochs 1-1 are saved in"):
        fit(model, X, bad, name="deepsets", epochs=3, checkpoint=ckpt)
    assert load_checkpoint(ckpt)["epoch"] == 1


def test_quick_killed_then_same_command_plus_resume_is_identical(tmp_path):
    """The user's habit: kill -9 in the middle, then the same command with --resume."""
    straight = lab(tmp_path / "straight", flags=["--quick"])
    _, err = straight.communicate(timeout=300)
    assert straight.returncode == 0, err
    out = tmp_path / "run"
    proc = lab(out, flags=["--quick"])
    wait_for(lambda: checkpoint_epoch(out / "lstm.pt") >= 1 or proc.poll() is not None)
    proc.kill()
    proc.communicate()
    assert checkpoint_epoch(out / "lstm.pt") == 1  # cut off in the LSTM's second epoch
    assert not (out / "results.json").exists()
    resumed = lab(out, "--resume", flags=["--quick"])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "Traceback" not in err
    assert (out / "results.json").read_bytes() == \
        (tmp_path / "straight" / "results.json").read_bytes()
    history = read_json(out / "history.json")
    assert [e["epoch"] for e in history["lstm"]] == [1, 2]


def test_resume_refuses_changed_flags_and_names_each(tmp_path, capsys):
    out = tmp_path / "run"
    prepare_run(out, LabConfig().quick())
    code = run_main(["lab", "--quick", "--out", str(out), "--resume", "--epochs", "3",
                     "--seed", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--seed 0 -> 4, --epochs 2 -> 3" in err and "repeat the flags" in err
    assert read_config(out) == LabConfig().quick()  # nothing changed
    code = run_main(["lab", "--out", str(out)])  # the handout's defaults, no --resume
    err = capsys.readouterr().err
    assert code == 2 and "--n-train 10000 -> 100000" in err and "use --resume" in err
    assert run_main(["lab", "--resume", "--out", str(tmp_path / "none")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_other_seed_other_data():
    a, _ = train_sets(TINY)
    b, _ = train_sets(LabConfig(**{**TINY.to_dict(), "seed": 1}))
    assert a.shape == b.shape and not np.array_equal(a, b)


# --- bad input: every flag and public function, thrown random values ---

INT_FLAGS = ["--epochs", "--batch-size", "--n-train", "--n-per-card", "--embedding-dim",
             "--hidden-dim", "--seed"]
ANY_TEXT = st.one_of(
    st.integers(-10**30, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "nan", "inf", "1e999", "0x10", " 3", "3.0", "+", ",",
                     "deepsets,", "+1000,10000", "cpu", "cuda", "exact"]),
)


@pytest.fixture
def no_lab(monkeypatch):
    """Stop after parsing and validation: record the config the lab would run with."""
    seen = []

    def fake_run_lab(config, out, **kwargs):
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setattr(lab_run, "run_lab", fake_run_lab)
    return seen


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(INT_FLAGS + ["--lr", "--cards", "--models", "--device", "--recipe"]),
       value=ANY_TEXT)
def test_any_flag_value_is_accepted_or_one_line_error(flag, value, no_lab, capsys, tmp_path):
    code = run_main(["lab", f"{flag}={value}", "--out", str(tmp_path / "r")])
    _, err = capsys.readouterr()
    if code == 0:
        config = no_lab[-1]
        field = flag[2:].replace("-", "_")
        if flag in INT_FLAGS:
            assert getattr(config, field) == int(value) and int(value) >= 0
        elif flag == "--lr":
            assert 0 < config.lr < float("inf")
    else:
        assert code == 2 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(digits=st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=30))
def test_predict_any_digits(digits, tiny_run, capsys):
    code = run_main(["predict", "--run", str(tiny_run.run), "--", *map(str, digits)])
    out, err = capsys.readouterr()
    if all(1 <= d <= 10 for d in digits):
        assert code == 0 and f"true sum {sum(digits)}" in out
    else:
        assert code == 2 and err.strip().splitlines() == [err.strip()]
        assert "digits must lie in 1..10" in err


SIZE_VALUES = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True), st.text(max_size=3),
                        st.none(), st.booleans())


@settings(max_examples=150, deadline=None)
@given(n=SIZE_VALUES, card=SIZE_VALUES, seed=st.one_of(st.integers(-5, 2**64), st.text(max_size=2)))
def test_data_functions_valid_or_value_error(n, card, seed):
    def named(err):  # the message names the argument that is wrong, and its value
        return [name for name, value in (("n_", n), ("card", card), ("seed", seed))
                if f"{name}" in str(err) and repr(value) in str(err)]

    for make in (lambda: create_train_dataset(n_train=n, max_card=card, seed=seed),
                 lambda: create_test_dataset(n_per_card=n, cards=[card], seed=seed)):
        try:
            X, y = make()
        except ValueError as err:
            assert named(err), err
            continue
        X, y = (X, y) if isinstance(X, np.ndarray) else (X[0], y[0])
        assert X.shape[0] == n and (X.sum(axis=1) == y).all()


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(["epochs", "batch_size", "lr", "seed", "n_train", "cards",
                              "models", "device", "recipe", "hidden_dim"]),
       value=st.one_of(st.integers(-10, 10**20), st.floats(allow_nan=True), st.text(max_size=5),
                       st.none(), st.lists(st.integers(-2, 200), max_size=3)))
def test_config_valid_or_value_error(field, value):
    try:
        config = LabConfig(**{field: value})
    except ValueError as err:
        # the message names the field: "field=value ...", "field: ..." or "field is empty"
        assert str(err).startswith((f"{field}=", f"{field}: ", f"{field} is empty")), err
    else:
        assert LabConfig.from_dict(config.to_dict()) == config


@settings(max_examples=100, deadline=None)
@given(tokens=st.lists(st.lists(st.integers(-3, 14), min_size=3, max_size=3), min_size=1,
                       max_size=5))
def test_predict_function_valid_or_value_error(tokens):
    model = DeepSets(embedding_dim=4, hidden_dim=4)
    X = np.asarray(tokens)
    try:
        out = predict(model, X)
    except ValueError as err:
        assert "tokens must lie in 0..10" in str(err)
        assert X.min() < 0 or X.max() > 10
    else:
        assert out.shape == (len(tokens),) and np.isfinite(out).all()


# --- big inputs stay within memory by batching ---

def test_predict_100000_digits(tiny_run, capsys):
    digits = ["7"] * 100_000
    assert run_main(["predict", "--run", str(tiny_run.run), *digits]) == 0
    out = capsys.readouterr()[0]
    assert "a set of 100000 digits, true sum 700000" in out
    # DeepSets' answer is b2 + 100,000 a_7, from its 11 contributions alone
    model, _ = load_trained(tiny_run.run, TINY, "deepsets")
    a, b2 = contributions(model)
    shown = float(next(line for line in out.splitlines() if "DeepSets" in line).split()[1])
    assert shown == pytest.approx(b2 + 100_000 * a[7], rel=1e-4)
    lstm = next(line for line in out.splitlines() if "LSTM" in line)
    assert np.isfinite(float(lstm.split()[1]))


def test_evaluation_at_10000_digits(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    config = LabConfig(**{**TINY.to_dict(), "cards": [10_000], "n_per_card": 20})
    results = evaluate_models(run, config)
    assert results["cards"] == [10_000]
    assert all(np.isfinite(results[m]["mae"][0]) for m in ("deepsets", "lstm"))


def test_stale_temp_files_are_cleared(tmp_path):
    run = tmp_path / "run"
    prepare_run(run, TINY)
    (run / ".results.json.abc.tmp").write_text("{half")
    prepare_run(run, TINY)
    assert not list(run.glob(".*.tmp"))


def test_unsafe_checkpoint_runs_nothing_through_the_cli(tiny_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    marker = tmp_path / "created"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    state = torch.load(run / "lstm.pt", weights_only=True)
    state["model"] = Payload()
    torch.save(state, run / "lstm.pt")
    assert run_main(["eval", "--run", str(run)]) == 2
    assert "is refused" in capsys.readouterr()[1]
    assert not marker.exists()
