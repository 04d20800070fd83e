"""A sweep's figures never crop a text: every title, axis label, tick label, legend text,
cell text and colorbar label lies inside the canvas, for one model and for many, with a
plug-in's long import path among the model names; and the reach table's median rule,
stated where it is read."""

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from deepsets.core.results import GUESS
from deepsets.core.settings import CompareConfig
from deepsets.core.tasks import TASKS
from deepsets.sweep.reach import cell_text, median_reach, reach_figure, reach_rows
from deepsets.sweep.summary import summary, task_figure

#: A plug-in named by its import path: 40 characters and more, as a user's may be.
PLUGIN = "mymodels.relu_deepsets_variants:ReluDeepSets"
MANY_MODELS = ("deepsets", "deepsets-mean", "deepsets-max", "lstm", "gru", "set-transformer",
               "pyg-sum", "pyg-mean", "pyg-max", "pyg-set2set", "pyg-attentional", PLUGIN)
MANY_TASKS = ("sum", "max", "unique", "images", "mean", "images-min-over-max",
              "images-inverse-count", "gaussian-entropy")
CARDS = tuple(range(5, 105, 5))


def sweep(tasks, models, seeds=2):
    """A stand-in for a ``CompareConfig`` (whose plug-ins must import) and its results.csv
    rows: scores that fall with size, differently for each model and seed."""
    config = SimpleNamespace(tasks=tasks, models=models, all_models=models, readouts=(),
                             seeds=seeds, cards=CARDS, max_card=10)
    rng = np.random.default_rng(0)
    rows = []
    for task in tasks:
        for seed in range(seeds):
            for i, model in enumerate([*models, *([GUESS] if TASKS[task].guessed else [])]):
                fall = rng.uniform(0.002, 0.03) * (i + 1) / len(models)
                for card in TASKS[task].sizes(CARDS):
                    acc = float(np.clip(1.02 - fall * card / TASKS[task].scale, 0, 1))
                    rows.append({"task": task, "model": model, "seed": seed, "card": card,
                                 "acc": acc, "mae": 1.0 if model == GUESS else 1.02 - acc,
                                 "status": "ok", "error": ""})
    return config, rows


def drawn_texts(fig):
    """Every text the canvas draws: visible, not empty, and not the label of a tick
    outside its axis's view (matplotlib keeps such ticks but does not draw them)."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            margin = 1e-9 * max(abs(low), abs(high), 1)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - margin <= tick.get_loc() <= high + margin:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def assert_inside(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    texts = drawn_texts(fig)
    assert texts
    for text in texts:
        extent = text.get_window_extent(renderer)
        assert (extent.x0 >= box.x0 - 1 and extent.y0 >= box.y0 - 1
                and extent.x1 <= box.x1 + 1 and extent.y1 <= box.y1 + 1), (
            f"{text.get_text()!r} at {extent.bounds} outside the canvas {box.bounds}")
    return texts


SWEEPS = {"one model, one task": (("sum",), (PLUGIN,)),
          "one model, a real task": (("mean",), (PLUGIN,)),
          "two models": (("sum", "mean"), ("deepsets", PLUGIN)),
          "12 models, 8 tasks": (MANY_TASKS, MANY_MODELS)}


@pytest.mark.parametrize("shape", SWEEPS)
def test_accuracy_and_mae_by_size_crop_no_text(shape):
    tasks, models = SWEEPS[shape]
    config, rows = sweep(tasks, models)
    for task in tasks:
        texts = assert_inside(task_figure(rows, config, task))
        assert PLUGIN in {t.get_text() for t in texts}  # the legend names it whole


@pytest.mark.parametrize("shape", SWEEPS)
def test_reach_figure_crops_no_text(shape):
    tasks, models = SWEEPS[shape]
    config, rows = sweep(tasks, models)
    texts = assert_inside(reach_figure(reach_rows(rows, config), config))
    assert PLUGIN in {t.get_text() for t in texts}
    assert len(PLUGIN) >= 40


def test_a_two_seed_cell_reads_the_lower_middle_reach_everywhere():
    """Reaches of 20 and 100: the table, the figure and ``median_reach`` say 20, a size
    tested, and summary.md's reach header states the rule."""
    assert median_reach([100, 20]) == 20 and median_reach([5, 20, 100]) == 20
    assert cell_text([20, 100], 200, False) == "20 (20 to 100)"
    cards = tuple(range(10, 210, 10))
    config = CompareConfig(tasks=("sum",), models=("deepsets",), seeds=2, cards=cards)
    rows = [{"task": "sum", "model": "deepsets", "seed": seed, "card": card,
             "acc": 1.0 if card <= reach else 0.0, "mae": 0.0, "status": "ok", "error": ""}
            for seed, reach in ((0, 100), (1, 20)) for card in cards]
    reaches = reach_rows(rows, config)
    assert [r["reach"] for r in reaches] == [100, 20]
    text = summary(rows, config, reaches=reaches)
    assert "| DeepSets | 20 (20 to 100) |" in text
    assert "the lower middle one of an even number" in text
    fig = reach_figure(reaches, config)
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert cells == ["20"]
    assert "lower middle" in fig.get_suptitle()
