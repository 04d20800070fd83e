"""The lab notebook, run top to bottom in a fresh kernel at its quick setting."""

import base64
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "lab.ipynb"
#: Each figure cell's tag, and the PNGs it shows, in order, from the run's folder.
FIGURES = {
    "sizes-figure": ["training-sizes.png"],
    "loss-figure": ["loss.png"],
    "by-size-figure": ["accuracy.png", "mae.png"],
    "drift-figure": ["drift.png"],
    "reach-figure": ["padded-reach.png"],
}


def tagged(nb, tag: str):
    return next(c for c in nb.cells if tag in c.metadata.get("tags", []))


def pngs(cell) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.outputs
            if "image/png" in o.get("data", {})]


def execute(path: Path, injected: str, folder: Path):
    """The notebook at ``path`` with ``injected`` in a cell after its parameters cell, as
    papermill does, executed in a new kernel in ``folder``; raises on the first error.

    The kernel starts with matplotlib's Agg backend, which displays nothing by itself: the
    figures must render whatever backend a kernel has."""
    nb = nbformat.read(path, as_version=4)
    at = nb.cells.index(tagged(nb, "parameters"))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        injected, metadata={"tags": ["injected-parameters"]}))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MPLBACKEND", "agg")
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook with ``quick = True``, in a folder of its own."""
    folder = tmp_path_factory.mktemp("notebook")
    return execute(NOTEBOOK, "quick = True", folder), folder / "runs" / "notebook"


def test_every_cell_ran_without_an_error(executed):
    nb, _ = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("tag", FIGURES)
def test_each_figure_is_shown_as_the_png_it_saved(executed, tag):
    nb, folder = executed
    saved = [(folder / name).read_bytes() for name in FIGURES[tag]]
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in saved)
    assert pngs(tagged(nb, tag)) == saved


def test_the_table_shows_the_quick_runs_numbers(executed):
    nb, folder = executed
    results = json.loads((folder / "results.json").read_text())
    assert results["cards"] == [5, 10, 20, 50]  # the quick preset's sizes
    table = tagged(nb, "results-table").outputs[-1]["data"]["text/markdown"]
    for i, card in enumerate(results["cards"]):
        row = f"| {card} | " + " | ".join(
            f"{results[m]['acc'][i]:.4f} | {results[m]['mae'][i]:.3f}" for m in ("deepsets",
                                                                                  "lstm"))
        assert row in table


def test_shuffling_changes_the_lstm_and_not_deepsets(executed):
    nb, _ = executed
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    changes = {line.split(":")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if "when its set is shuffled" in line}
    assert changes["deepsets"] < 1e-4 < 0.01 < changes["lstm"]


def test_the_committed_notebook_carries_a_full_run():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert NOTEBOOK.stat().st_size < 2_000_000
    assert "widgets" not in nb.metadata
    params = tagged(nb, "parameters").source
    assert "quick = False" in params and "epochs = 20" in params and "n_train = 100_000" in params
    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    assert sum(bool(o) for o in outputs) >= len(outputs) - 2  # the install cell prints nothing
    for tag, names in FIGURES.items():
        assert len(pngs(tagged(nb, tag))) == len(names), tag
        assert not [o for o in tagged(nb, tag).outputs
                    if "<Figure size" in str(o.get("data", {}).get("text/plain", ""))], tag
