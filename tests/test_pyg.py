"""PyTorch Geometric's aggregations as set models (``pyg-*``): PyG's own aggregation on the
real elements, blind to padding, invariant to order where the aggregation is."""

import csv
import subprocess
import sys

import pytest
import torch
from helpers import expect_error

from deepsets.core.models import POOLS, SPECS, build_model
from deepsets.core.models.pyg import AGGREGATIONS

pytest.importorskip("torch_geometric")  # make test installs it (the pyg extra)

PYG = [name for name in SPECS if name.startswith("pyg-")]
SETS = torch.tensor([[0, 0, 3, 5, 7, 7], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 9],
                     [0, 0, 0, 10, 1, 1]])


def model(name):
    torch.manual_seed(0)
    return build_model(name, input_dim=11, embedding_dim=16, hidden_dim=8).eval()


def test_every_aggregation_of_the_list_is_a_model():
    assert PYG == [f"pyg-{name}" for name in AGGREGATIONS] and len(PYG) == 26
    assert {"pyg-sum", "pyg-mean", "pyg-softmax", "pyg-powermean", "pyg-median",
            "pyg-set2set", "pyg-pna"} <= set(PYG)


@pytest.mark.parametrize("name", PYG)
def test_prediction_is_pygs_aggregation_of_the_real_elements(name):
    m = model(name)
    with torch.no_grad():
        got = m(SETS)
        for i, row in enumerate(SETS):  # each set alone, its padding removed
            h = m.phi(row[row != 0])  # (E, H): the encoded elements
            pooled = m.pool(h, torch.zeros(len(h), dtype=torch.long), 1)
            assert got[i] == pytest.approx(m.rho(pooled).item(), rel=1e-5, abs=1e-6), i


@pytest.mark.parametrize("name", PYG)
def test_padding_is_never_an_element(name):
    m = model(name)
    with torch.no_grad():
        wide = torch.cat([torch.zeros(len(SETS), 5, dtype=torch.long), SETS], dim=1)
        assert torch.allclose(m(wide), m(SETS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in PYG if not POOLS[n].ordered])
def test_a_permuted_set_gets_the_same_prediction(name):
    m = model(name)
    digits = torch.tensor([[3, 5, 7, 7, 1, 9, 2]])
    order = torch.tensor([4, 6, 0, 3, 1, 5, 2])
    with torch.no_grad():
        assert m(digits[:, order]).item() == pytest.approx(m(digits).item(), rel=1e-5,
                                                           abs=1e-6)


@pytest.mark.parametrize("name", PYG)
def test_it_trains_and_rebuilds_from_its_arguments(name):
    m = model(name).train()
    torch.nn.functional.l1_loss(m(SETS), SETS.sum(1).float()).backward()
    assert all(p.grad is not None for p in m.encoder.parameters())  # phi learns through the pool
    again = build_model(name, **m.model_args)
    again.load_state_dict(m.state_dict())
    with torch.no_grad():
        assert torch.equal(again.eval()(SETS), m.eval()(SETS))


def test_models_lists_every_name(capsys):
    from deepsets.cli import main

    assert main(["models"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert names[:len(SPECS)] == list(SPECS)
    expect_error(capsys, ["lab", "--models", "pyg-nope"], "pyg-pna")  # the error lists them


def test_without_pyg_the_lab_runs_and_a_pyg_model_says_how_to_install():
    hide = "import sys; sys.modules['torch_geometric'] = None; "  # as if not installed
    probe = hide + ("import deepsets; from deepsets.core.settings import LabConfig; "
                    "LabConfig(models=('deepsets',)); LabConfig(models=('pyg-sum',))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "ValueError: the pyg-* models need PyTorch Geometric: " \
        "pip install 'deepsets[pyg]'" in proc.stderr


@pytest.mark.parametrize("name", ["pyg-sum", "pyg-lstm", "pyg-equilibrium", "pyg-pna"])
def test_predict_gives_the_forwards_numbers(name):
    from deepsets.core.evaluate import predict

    m = model(name)  # the equilibrium optimizes inside its forward: predict keeps autograd
    with torch.no_grad():
        expected = m(SETS)
    assert torch.allclose(torch.as_tensor(predict(m, SETS.numpy(), batch_tokens=12)),
                          expected, rtol=1e-5, atol=1e-6)  # in batches of 2 sets


def test_a_quick_sweep_trains_pyg_models(tmp_path, capsys):
    from helpers import run_main

    out = tmp_path / "sweep"
    assert run_main(["compare", "--quick", "--tasks", "sum", "--seeds", "1", "--models",
                     "pyg-sum,pyg-set2set,pyg-equilibrium", "--n-train", "640",
                     "--n-per-card", "20", "--cards", "5,20", "--jobs", "2",
                     "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 2 and all(",ok," in row for row in rows[1:])


def test_a_users_own_aggregation_joins_by_its_import_path(tmp_path, capsys):
    from helpers import run_main

    own = model("pyg:plugins:TwiceTheSum")
    with torch.no_grad():
        h, index = own.elements(SETS)
        pooled = 2 * torch.zeros(len(SETS), h.shape[1]).index_add_(0, index, h)
        assert torch.allclose(own(SETS), own.rho(pooled).squeeze(-1), rtol=1e-5, atol=1e-6)
    out = tmp_path / "sweep"
    assert run_main(["compare", "--quick", "--tasks", "sum", "--seeds", "1", "--models",
                     "deepsets", "--model", "pyg:plugins:TwiceTheSum", "--n-train", "640",
                     "--n-per-card", "20", "--cards", "5,20", "--out", str(out)]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert sum(",pyg:plugins:TwiceTheSum," in r and ",ok," in r for r in rows) == 2
    assert (out / "sum-pyg.plugins.TwiceTheSum-seed0" / "pyg.plugins.TwiceTheSum.pt").exists()
    capsys.readouterr()  # the sweep's own lines
    broken = tmp_path / "broken"  # an aggregation that fails is recorded; the others finish
    assert run_main(["compare", "--quick", "--tasks", "sum", "--seeds", "1", "--models",
                     "pyg-sum", "--model", "pyg:plugins:Broken", "--n-train", "640",
                     "--n-per-card", "20", "--cards", "5,20", "--out", str(broken)]) == 1
    with open(broken / "results.csv") as f:
        status = {r["model"]: r["status"] for r in csv.DictReader(f)}
    assert status == {"pyg-sum": "ok", "pyg:plugins:Broken": "failed"}
    assert "RuntimeError: Broken cannot pool" in (broken / "summary.md").read_text()
    capsys.readouterr()
    expect_error(capsys, ["compare", "--model", "pyg:plugins:DigitsOnly"],
                 "has no Aggregation class 'DigitsOnly'")
