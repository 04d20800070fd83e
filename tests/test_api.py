"""The benchmark from Python: ``deepsets.compare``, ``lab`` and ``load`` against the command
line, a model class of a script's ``__main__`` in local workers and on Ray, killed and
resumed, and bad values as one ``ValueError`` that names the setting, with nothing written."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from helpers import checkpoint_epoch, run_cli, wait_for
from test_iterating import NET

import deepsets
from deepsets.core.models import own
from deepsets.core.runfolder import load_checkpoint

QUICK = {"quick": True, "seeds": 1, "jobs": 2, "progress": False}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_api_and_the_command_line_give_the_same_sweep(here, capsys):
    (here / "apinet.py").write_text(NET)  # a plug-in the command line names by its path
    sys.path.insert(0, str(here))
    try:
        from apinet import Net
    finally:
        sys.path.remove(str(here))
    code, _, err = run_cli(capsys, "compare", "--quick", "--seeds", "1", "--jobs", "2",
                           "--tasks", "sum,max", "--models", "deepsets,apinet:Net",
                           "--out", "cli")
    assert code == 0, err
    run = deepsets.compare("sum,max", ["deepsets", Net], out="api", longest_first=True,
                           **QUICK)  # another order, the same results
    for name in ("results.csv", "reach.csv"):
        assert (here / "api" / name).read_bytes() == (here / "cli" / name).read_bytes()

    runs = pd.read_csv(here / "cli" / "reach.csv")  # one seed: each cell its run's reach
    assert list(run.reach.index) == ["deepsets", "apinet:Net"]
    assert list(run.reach.columns.get_level_values(0).unique()) == ["sum", "max"]
    for r in runs.itertuples():
        assert tuple(run.reach.loc[r.model, r.task]) == (r.reach, r.reach, r.reach)
    results = run.results
    assert len(results) == len(pd.read_csv(here / "cli" / "results.csv"))
    assert set(results["status"]) == {"ok"} and results["acc"].between(0, 1).all()
    loaded = deepsets.load("cli")
    assert isinstance(loaded, deepsets.Sweep)
    pd.testing.assert_frame_equal(loaded.results, results)
    figure = loaded.plot("max")
    assert figure.path == here / "cli" / "accuracy_max.png"
    assert figure._repr_png_().startswith(b"\x89PNG")
    assert "| model |" in loaded.summary._repr_markdown_()
    with pytest.raises(ValueError, match="task 'mx' is not in this sweep.*did you mean 'max'"):
        loaded.plot("mx")


def test_the_median_reach_of_an_even_number_of_seeds_is_the_lower_middle_one(tmp_path):
    rows = [("sum", "a", 0, 20), ("sum", "a", 1, 100), ("sum", "a", 2, 5), ("sum", "a", 3, 50),
            ("max", "a", 0, 10), ("max", "a", 1, 10), ("sum", "b", 0, 0), ("sum", "b", 1, 5)]
    pd.DataFrame(rows, columns=["task", "model", "seed", "reach"]).to_csv(
        tmp_path / "reach.csv", index=False)
    (tmp_path / "results.csv").write_text("task,model,seed,card\n")
    reach = deepsets.load(tmp_path).reach
    assert tuple(reach.loc["a", "sum"]) == (20, 5, 100)  # of 5, 20, 50, 100
    assert tuple(reach.loc["a", "max"]) == (10, 10, 10)
    assert tuple(reach.loc["b", "sum"]) == (0, 0, 5)
    assert reach.loc["b", ("max", "median")] != reach.loc["b", ("max", "median")]  # NaN


SCRIPT = '''
import sys

from torch import nn

import deepsets


class MySum(nn.Module):
    """phi an embedding, the sum, rho a linear layer: defined in __main__."""

    def __init__(self, input_dim, hidden_dim):
        super().__init__()
        self.embed = nn.Embedding(input_dim, hidden_dim, padding_idx=0)
        self.rho = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        return self.rho(self.embed(x).sum(1)).squeeze(-1)  # (B, N) -> (B,)


def wide_sum(input_dim, hidden_dim):
    """A function that builds a model, with the arguments it names."""
    return MySum(input_dim, 2 * hidden_dim)


if __name__ == "__main__":
    out, cluster, epochs = sys.argv[1], sys.argv[2] or None, int(sys.argv[3])
    models = [MySum, wide_sum] if epochs == 1 else [MySum]
    run = deepsets.compare("sum", models, quick=True, seeds=1, epochs=epochs, out=out,
                           jobs=2, cluster=cluster, progress=cluster is None)
    print(run.reach.to_string())
'''


def script_run(here, out, cluster="", epochs=1, **kwargs):
    return subprocess.run([sys.executable, "mine.py", out, cluster, str(epochs)], cwd=here,
                          capture_output=True, text=True, timeout=300, **kwargs)


def test_a_class_of_a_scripts_main_trains_in_workers_and_on_ray(here):
    (here / "mine.py").write_text(SCRIPT)
    local = script_run(here, "local")
    assert local.returncode == 0, local.stderr
    assert "MySum" in local.stdout and "wide_sum" in local.stdout
    results = pd.read_csv(here / "local" / "results.csv", keep_default_na=False)
    assert set(results["model"]) == {"MySum", "wide_sum"}
    assert set(results["status"]) == {"ok"}
    widths = {m: load_checkpoint(here / "local" / f"sum-{m}-seed0" / f"{m}.pt")[
        "model"]["rho.weight"].shape[1] for m in ("MySum", "wide_sum")}
    assert widths == {"MySum": 64, "wide_sum": 128}  # each built by its own code

    ray = script_run(here, "ray", "local-ray")
    assert ray.returncode == 0, ray.stderr
    assert (here / "ray" / "results.csv").read_bytes() == \
        (here / "local" / "results.csv").read_bytes()


def test_a_class_of_a_scripts_main_killed_mid_sweep_resumes(here):
    (here / "mine.py").write_text(SCRIPT)
    checkpoint = here / "cut" / "sum-MySum-seed0" / "MySum.pt"
    first = subprocess.Popen([sys.executable, "mine.py", "cut", "", "40"], cwd=here,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        wait_for(lambda: checkpoint_epoch(checkpoint) >= 1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the driver and its workers
        first.wait()
    before = load_checkpoint(checkpoint)
    assert before["epoch"] < 40
    again = script_run(here, "cut", epochs=40)
    assert again.returncode == 0, again.stderr
    assert "1 continue where they stopped" in again.stderr
    history = json.loads((checkpoint.parent / "history.json").read_text())["MySum"]
    assert len(history) == 40 and history[:before["epoch"]] == before["history"]


@pytest.mark.parametrize("call, settings, words", [
    ("compare", {"seeds": 0}, "seeds=0 is not allowed; use a whole number >= 1"),
    ("compare", {"epochs": "two"}, "epochs='two' is not allowed"),
    ("compare", {"tasks": "summ"}, "tasks: unknown task or suite 'summ' (did you mean 'sum'?)"),
    ("compare", {"cards": "+5,x"}, "cards='+5,x' is not allowed"),
    ("compare", {"epoch": 3}, "unknown setting 'epoch' (did you mean 'epochs'?)"),
    ("compare", {"models": [42]}, "models: 42 is neither a model's name"),
    ("compare", {"models": ["deepsets", "lsmt"]}, "models: unknown model 'lsmt'"),
    ("compare", {"jobs": 0}, "jobs=0 is not allowed"),
    ("compare", {"preset": "paper"}, "preset='paper' is not allowed; use handout or laf"),
    ("compare", {"device": "tpu"}, "device='tpu' is not allowed; use one of cpu, cuda, auto"),
    ("compare", {"resume": True}, "nothing to resume"),
    ("lab", {"lr": -1}, "lr=-1 is not allowed; use a finite number > 0"),
    ("lab", {"task": "vectors"}, "task='vectors' is not allowed"),
    ("lab", {"seeds": 2}, "unknown setting 'seeds' (did you mean 'seed'?)"),
])
def test_a_bad_value_is_a_value_error_naming_the_setting_and_nothing_is_written(
        tmp_path, call, settings, words):
    out = tmp_path / "out"
    with pytest.raises(ValueError) as raised:
        getattr(deepsets, call)(out=out, progress=False, **settings)
    assert words in str(raised.value) and "\n" not in str(raised.value)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_two_models_of_one_name_or_a_built_in_name_are_refused():
    def make(cls):
        return type(cls, (), {"__module__": "__main__"})  # a class of a notebook's cell

    with pytest.raises(ValueError, match="two models are named 'Net'; rename one"):
        deepsets.api.model_names([make("Net"), make("Net")])
    with pytest.raises(ValueError, match="named 'lstm', a built-in model's name"):
        deepsets.api.model_names([make("lstm")])


def cell_class(body):
    """A class defined as a notebook's cell defines it: no file holds its source."""
    space = {"__name__": "__main__"}
    exec(compile(textwrap.dedent(body), "<cell>", "exec"), space)  # noqa: S102
    return space["Net"]


def test_a_class_without_a_source_file_is_fingerprinted_by_its_code():
    one = "class Net:\n    size = 3\n    def forward(self, x):\n        return x + 1\n"
    assert own.code_fingerprint(cell_class(one)) == own.code_fingerprint(cell_class(one))
    for edit in (one.replace("x + 1", "x + 2"), one.replace("size = 3", "size = 4")):
        assert own.code_fingerprint(cell_class(edit)) != own.code_fingerprint(cell_class(one))


def test_the_lab_from_python_gives_its_tables_and_load_reads_them_back(here):
    run = deepsets.lab(models=["deepsets", cell_class(NET)], quick=True, epochs=1,
                       n_train=2000, cards="5,10", out="lab", progress=False)
    assert isinstance(run, deepsets.Run)
    assert set(run.results["model"]) == {"deepsets", "Net"}
    assert list(run.results["card"].unique()) == [5, 10]
    assert list(run.history["epoch"]) == [1, 1]
    assert "question1" in run.analysis and run.report.startswith("#")
    assert run.plot("mae").path.is_file()
    pd.testing.assert_frame_equal(deepsets.load("lab").results, run.results)
    with pytest.raises(ValueError, match="neither a sweep folder nor a lab run folder"):
        deepsets.load(here)
