"""A researcher's loop, from the command line: write a model, sweep it, change it, sweep
again. Never a stale result, never a silent overwrite, one line where a line is wanted
and the model's own traceback where that is wanted."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import expect_error, run_cli
from test_figures import assert_inside

from deepsets.core.evaluate import predict
from deepsets.core.results import status_rows
from deepsets.core.runfolder import load_checkpoint
from deepsets.core.settings import CompareConfig
from deepsets.core.train import fit
from deepsets.sweep.costs import duration
from deepsets.sweep.reach import reach_figure, reach_rows
from deepsets.sweep.summary import task_figure

ROOT = Path(__file__).resolve().parents[1]

NET = '''import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, input_dim, hidden_dim):
        super().__init__()
        self.embedding = nn.Embedding(input_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        h = self.embedding(x).sum(dim=1)  # (B, N) -> (B, H)
        return self.out(h).squeeze(-1)


class Wide(Net):
    def forward(self, x):
        return self.out(self.embedding(x).sum(dim=1))  # (B, 1): the last dimension kept


class NotFinite(Net):
    def forward(self, x):
        return super().forward(x) * float("nan")


class Bug(Net):
    def forward(self, x):
        h = self.embedding(x).sum(dim=1)
        return self.out(h[:, :3]).squeeze(-1)  # BUG LINE
'''
BUG_LINE = NET.splitlines().index("        return self.out(h[:, :3]).squeeze(-1)  # BUG LINE") + 1
QUICK = ["compare", "--quick", "--seeds", "1", "--jobs", "2"]


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A module of plug-ins in the current folder, under a name of its own for each test
    (this process keeps the modules it imported)."""
    monkeypatch.chdir(tmp_path)

    def write(name, text=NET):
        Path(f"{name}.py").write_text(text)
        return name
    return write


def rows_of(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_an_edited_plugin_trains_again_and_the_sweep_says_so(models, capsys):
    module = models("edited_net")
    argv = [*QUICK, "--tasks", "sum", "--models", "deepsets", "--model", f"{module}:Net",
            "--out", "sweep"]
    assert run_cli(capsys, *argv)[0] == 0
    before = {r["model"]: r["mae"] for r in rows_of("sweep/results.csv")}
    ckpt = Path(f"sweep/sum-{module}.Net-seed0/{module}.Net.pt")
    first = load_checkpoint(ckpt)["fingerprint"]
    # the edit: every prediction times 0 (the file's size changes, so Python recompiles it)
    Path(f"{module}.py").write_text(NET.replace("return self.out(h).squeeze(-1)",
                                                "return self.out(h).squeeze(-1) * 0"))
    code, _, err = run_cli(capsys, *argv)
    assert code == 0
    assert (f"2 runs: 1 reused, 1 train again ({module}:Net: was trained from other code "
            "(its source has changed since))") in err
    after = {r["model"]: r["mae"] for r in rows_of("sweep/results.csv")}
    assert after["deepsets"] == before["deepsets"]  # reused as it was
    assert after[f"{module}:Net"] != before[f"{module}:Net"]
    # a model that predicts 0 for every set misses by the mean sum of its test sets
    rows = [r for r in rows_of("sweep/results.csv") if r["model"] == f"{module}:Net"]
    assert all(float(r["acc"]) == 0 and float(r["mae"]) > 10 for r in rows)
    assert load_checkpoint(ckpt)["fingerprint"] != first
    stored = json.loads(Path("sweep/sweep.json").read_text())
    assert stored["fingerprints"] == {f"{module}:Net": load_checkpoint(ckpt)["fingerprint"]}
    # unchanged now: everything is reused
    assert "2 runs: 2 reused" in run_cli(capsys, *argv)[2]


def test_a_sweep_folder_refuses_other_settings_and_starts_over_cleanly(models, capsys):
    module = models("over_net")
    first = [*QUICK, "--tasks", "sum,count", "--models", "deepsets", "--model",
             f"{module}:Net", "--out", "sweep"]
    assert run_cli(capsys, *first)[0] == 0
    Path("sweep/notes.txt").write_text("mine")
    results = Path("sweep/results.csv").read_bytes()
    other = [*QUICK, "--tasks", "sum", "--models", "deepsets", "--epochs", "2", "--cards",
             "5,50", "--out", "sweep"]
    refusal = "holds a sweep with other settings (--epochs 1 -> 2, --cards 5,10,20 -> 5,50)"
    expect_error(capsys, other, refusal)
    expect_error(capsys, [*other, "--resume"], refusal)
    assert Path("sweep/results.csv").read_bytes() == results  # nothing touched
    # --resume alone continues the stored sweep on its own settings
    code, out, err = run_cli(capsys, "compare", "--resume", "--out", "sweep")
    assert code == 0 and "4 runs: 4 reused" in err and "12 rows from 4 runs" in out
    # a sweep's grid may shrink or grow: its runs stay and are reused
    code, _, err = run_cli(capsys, *QUICK, "--tasks", "sum", "--models", "deepsets", "--out",
                           "sweep")
    assert code == 0 and "1 runs: 1 reused" in err
    assert not Path("sweep/accuracy_count.png").exists()  # no figure of another sweep
    # starting over leaves nothing of the old sweep but what is not the sweep's
    assert run_cli(capsys, *other, "--force")[0] == 0
    assert sorted(p.name for p in Path("sweep").iterdir()) == sorted([
        "sum-deepsets-seed0", "sweep.json", "results.csv", "reach.csv", "reach.png",
        "summary.md", "accuracy_sum.png", "explorer.html", "notes.txt"])
    assert json.loads(Path("sweep/sweep.json").read_text())["config"]["epochs"] == 2
    assert {r["card"] for r in rows_of("sweep/results.csv")} == {"5", "50"}
    # a lab's run folder is not a sweep's: refused, even with --force, and left whole
    Path("run").mkdir()
    Path("run/config.json").write_text("{}")
    expect_error(capsys, [*other[:-1], "run", "--force"], "--out run is a lab's run folder")
    assert sorted(p.name for p in Path("run").iterdir()) == ["config.json"]


def test_a_wrong_output_fails_its_run_alone_and_every_output_is_written(models, capsys):
    """A (B, 1) regression and one that predicts NaN: each run fails before its first
    step with one line, the others finish, and the summary, figures and explorer are
    written; a long plug-in name crops no text of the figures."""
    module = models("a_module_of_models_with_a_long_name")  # 40 characters and more
    code, out, err = run_cli(capsys, *QUICK, "--tasks", "sum", "--models", "deepsets",
                             "--model", f"{module}:Wide", "--model", f"{module}:NotFinite",
                             "--out", "sweep")
    assert code == 1 and "Traceback" not in err
    assert (f"failed: sum-{module}.Wide-seed0: OutputError: model {module}:Wide gives "
            "predictions of shape (64, 1) for 64 sets; a regression needs one number per "
            "set, shape (64,)\n") in out
    assert (f"failed: sum-{module}.NotFinite-seed0: OutputError: model {module}:NotFinite "
            "gives 64 predictions that are not finite") in out
    rows = rows_of("sweep/results.csv")
    assert {r["model"]: r["status"] for r in rows} == {
        "deepsets": "ok", f"{module}:Wide": "failed", f"{module}:NotFinite": "failed"}
    assert "## Failed runs: 2" in Path("sweep/summary.md").read_text()
    for name in ("reach.png", "accuracy_sum.png", "explorer.html", "reach.csv"):
        assert Path("sweep", name).stat().st_size > 0
    # the figures of this sweep, with the long name, crop no text
    config = CompareConfig(tasks=("sum",), models=("deepsets", f"{module}:Wide"), seeds=1,
                           cards=(5, 10, 20))
    typed = [{**r, "seed": int(r["seed"]), "card": int(r["card"]),
              "acc": float(r["acc"]) if r["acc"] else None,
              "mae": float(r["mae"]) if r["mae"] else None}
             for r in rows if r["model"] != f"{module}:NotFinite"]
    assert any(f"{module}:Wide" in t.get_text()
               for t in assert_inside(reach_figure(reach_rows(typed, config), config)))
    assert_inside(task_figure(typed, config, "sum"))


def test_results_without_scores_are_a_failed_run_never_ok():
    """Results a model gave no score in (written by older code from a (B, 1) model: an
    accuracy and no MAE) are ``failed`` with the reason; a size a model does not apply to
    is ``n/a`` with its own."""
    results = {"cards": [5, 10], "net": {"acc": [0.0, 0.0], "mae": [None, None]},
               "mlp": {"acc": [1.0, None], "mae": [0.1, None], "not_applicable": "too big"}}
    rows = {(r["model"], r["card"]): (r["status"], r["error"]) for r in status_rows(results)}
    assert rows == {("net", 5): ("failed", "no mae score at size 5"),
                    ("net", 10): ("failed", "no mae score at size 10"),
                    ("mlp", 5): ("ok", ""), ("mlp", 10): ("n/a", "too big")}


def test_a_plugin_that_raises_says_where_and_debug_shows_its_traceback(models, capsys):
    module = models("raising_net")
    argv = [*QUICK, "--tasks", "sum", "--models", "deepsets", "--model", f"{module}:Bug",
            "--out", "sweep"]
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and "Traceback" not in err
    assert (f"failed: sum-{module}.Bug-seed0: RuntimeError: mat1 and mat2 shapes cannot be "
            f"multiplied (64x3 and 64x1) (at {module}.py:{BUG_LINE})") in out
    where = f'{module}.py", line {BUG_LINE}, in forward'
    assert where in Path(f"sweep/sum-{module}.Bug-seed0/error.txt").read_text()
    code, out, err = run_cli(capsys, *argv, "--debug")
    assert code == 1 and "1 failed before and run again" in err
    assert "Traceback (most recent call last)" in err and where in err


def test_on_ray_a_failed_run_brings_its_traceback_back(models, tmp_path):
    pytest.importorskip("ray")
    module = models("raising_on_ray")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-m", "deepsets", *QUICK, "--tasks", "sum",
                           "--models", f"{module}:Bug", "--cluster", "local-ray", "--debug",
                           "--out", "sweep"], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert f"(at {module}.py:{BUG_LINE}, on node 127.0.0.1 " in proc.stdout  # Ray's node
    assert f'{module}.py", line {BUG_LINE}, in forward' in proc.stderr


def lab(*argv, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "deepsets", "lab", "--n-train", "500",
                           "--n-per-card", "20", "--cards", "5,10", "--embedding-dim", "8",
                           "--hidden-dim", "8", *argv], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


def test_force_starts_a_lab_over_for_every_model_and_an_edit_retrains(models, tmp_path):
    module = models("lab_net")
    argv = ["--models", f"deepsets,{module}:Net", "--out", "run"]
    assert lab(*argv, "--epochs", "2", cwd=tmp_path).returncode == 0
    ckpt = tmp_path / "run" / f"{module}.Net.pt"
    assert load_checkpoint(ckpt)["epoch"] == 2
    proc = lab(*argv, "--epochs", "1", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert load_checkpoint(ckpt)["epoch"] == 1
    assert load_checkpoint(tmp_path / "run" / "deepsets.pt")["epoch"] == 1
    # an edited plug-in: its checkpoint is not resumed, it trains again, and the lab says so
    (tmp_path / f"{module}.py").write_text(NET.replace("hidden_dim)\n", "hidden_dim)  #\n", 1))
    before = ckpt.stat().st_mtime_ns
    proc = lab(*argv, "--epochs", "1", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (f"{module}.Net.pt was trained from other code (its source has changed since): it "
            "trains again") in proc.stderr
    assert ckpt.stat().st_mtime_ns != before


def test_a_typo_gets_a_did_you_mean(capsys):
    expect_error(capsys, ["compare", "--model", "mymodels.relu_ds.ReluDeepSets"],
                 "unknown model 'mymodels.relu_ds.ReluDeepSets' (did you mean "
                 "'mymodels.relu_ds:ReluDeepSets'? a model of your own is named "
                 "package.module:ClassName)")
    expect_error(capsys, ["compare", "--models", "deepset,lstm"],
                 "unknown model 'deepset' (did you mean 'deepsets'?)")
    expect_error(capsys, ["compare", "--tasks", "summ"],
                 "unknown task or suite 'summ' (did you mean 'sum'?)")
    expect_error(capsys, ["lab", "--task", "unqiue"],
                 "invalid choice: 'unqiue' (did you mean 'unique'?)")


def test_costs_under_a_minute_are_in_seconds():
    assert [duration(s) for s in (0.42, 35.2, 720, 12_600)] == [
        "0.4 s", "35 s", "12 min", "3.5 h"]


def test_a_vector_plugin_standardizes_with_the_helper_so_units_do_not_matter():
    """examples/vector_sum.py's ``Standardize`` layers are fitted from the training sets
    by the trainer: the same data in units a thousand times smaller trains to the same
    model, whose predictions are a thousand times larger."""
    sys.path.insert(0, str(ROOT))
    try:
        from examples.vector_sum import VectorSum
    finally:
        sys.path.remove(str(ROOT))
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 100, size=(256, 4, 1)).astype(np.float32)
    y = X.sum(axis=(1, 2)).astype(np.float64)
    models = []
    for unit in (1.0, 1000.0):
        torch.manual_seed(0)
        model = VectorSum(input_dim=1, hidden_dim=16)
        fit(model, X * unit, y * unit, name="vector-sum", epochs=2, batch_size=32)
        models.append(model)
    assert models[1].elements.loc.item() == pytest.approx(1000 * X.mean(), rel=1e-5)
    assert models[1].targets.scale.item() == pytest.approx(1000 * y.std(ddof=1), rel=1e-5)
    test = rng.uniform(0, 100, size=(32, 6, 1)).astype(np.float32)
    small, large = predict(models[0], test), predict(models[1], test * 1000)
    np.testing.assert_allclose(large, 1000 * small, rtol=1e-3)
    assert not np.allclose(small, small.mean())


def test_a_sweep_json_older_than_a_setting_reads_it_as_its_default(tmp_path):
    """A sweep.json written before a sweep had a setting (hidden_dim, batch_size, ...)
    holds runs made at its default: the same folder takes them, another value is refused."""
    from dataclasses import replace

    from deepsets.core.settings import CompareConfig
    from deepsets.sweep.compare import SWEEP, prepare_sweep

    out = tmp_path / "sweep"
    config = CompareConfig(tasks=("sum",), models=("deepsets",), seeds=1)
    prepare_sweep(out, config)
    stored = json.loads((out / SWEEP).read_text())
    for key in ("max_card", "max_digit", "embedding_dim", "hidden_dim", "batch_size", "lr"):
        del stored["config"][key]
    (out / SWEEP).write_text(json.dumps(stored))
    prepare_sweep(out, config)  # the defaults: the same sweep
    old = json.loads((out / SWEEP).read_text())
    del old["config"]["hidden_dim"]
    (out / SWEEP).write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"other settings \(--hidden-dim 64 -> 32\)"):
        prepare_sweep(out, replace(config, hidden_dim=32))
