"""notebooks/your_model.ipynb: a model class defined in a cell, swept beside three baselines
in a fresh kernel (two tasks and one seed injected after its parameters), its reach table
and figures shown; and the committed notebook carries its outputs, every figure a PNG."""

from pathlib import Path

import nbformat
import pytest
from test_notebook import execute, pngs, tagged

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "your_model.ipynb"
MODELS = ["MySetNet", "deepsets", "deepsets-laf", "set-transformer"]
#: Each figure cell's tag and the PNG it shows, from the sweep's folder.
FIGURES = {"reach-figure": "reach.png", "max-figure": "accuracy_max.png",
           "images-max-figure": "accuracy_images-max.png"}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("your_model")
    nb = execute(NOTEBOOK, 'tasks = "max,images-max"\nseeds = 1', folder)
    return nb, folder / "runs" / "your_model"


def test_every_cell_ran_and_the_class_of_a_cell_trained_in_the_workers(executed):
    nb, folder = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    checkpoints = {p.parent.name for p in folder.glob("*/MySetNet.pt")}
    assert checkpoints == {"max-MySetNet-seed0", "images-max-MySetNet-seed0"}


def test_the_sweep_shows_its_bar_not_a_line_per_run(executed):
    nb, _ = executed
    err = "".join(o["text"] for o in tagged(nb, "sweep").outputs if o.get("name") == "stderr")
    assert "8 runs (0 done before): 100%" in err and "8/8" in err
    assert "done:" not in err  # the bar counts them


def test_the_reach_table_shows_every_model_on_every_task(executed):
    nb, _ = executed
    (table,) = [o["data"]["text/plain"] for o in tagged(nb, "reach-table").outputs
                if o.get("output_type") == "execute_result"]
    lines = table.splitlines()
    assert lines[0].split() == ["task", "max", "images-max"]
    assert [line.split()[0] for line in lines[2:]] == MODELS


@pytest.mark.parametrize("tag", FIGURES)
def test_each_figure_is_the_png_the_sweep_wrote(executed, tag):
    nb, folder = executed
    assert pngs(tagged(nb, tag)) == [(folder / FIGURES[tag]).read_bytes()]


def test_the_committed_notebook_holds_its_outputs_as_pngs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for tag in FIGURES:
        (png,) = pngs(tagged(nb, tag))
        assert png.startswith(b"\x89PNG")
    assert "MySetNet" in str(tagged(nb, "reach-table").outputs)
    assert "widgets" not in nb.metadata
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


def test_no_output_holds_an_image_other_than_png():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    kinds = {k for c in nb.cells if c.cell_type == "code" for o in c.outputs
             for k in o.get("data", {}) if k.startswith("image/")}
    assert kinds == {"image/png"}
