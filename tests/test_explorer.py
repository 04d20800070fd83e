"""explorer.html: the page a sweep writes, its data against results.csv and reach.csv,
``deepsets explore``, and the page itself in a real browser (headless Chromium, from the
distribution's packages: ``make test`` installs it; without it those tests skip)."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import expect_error, run_main

from deepsets.sweep.explorer import explorer_data, page, read_sweep, run_links
from deepsets.sweep.reach import cell_text

MODELS = ["deepsets", "plugins:DigitsOnly", "plugins:TenAtMost"]  # labels: DeepSets, as named
TASKS = ["sum", "mean", "images"]  # whole, real (with the constant guess), images
CELL_TEXT = "#heatmap g.heatmap-label text"  # Plotly's label of each heatmap cell


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A quick sweep with every kind of row: finished runs, runs that failed (DigitsOnly
    and TenAtMost on images) and sizes a model does not apply to (TenAtMost beyond 10)."""
    out = tmp_path_factory.mktemp("explorer") / "sweep"
    code = run_main(["compare", "--quick", "--tasks", ",".join(TASKS), "--models", "deepsets",
                     "--model", MODELS[1], "--model", MODELS[2], "--jobs", "2",
                     "--out", str(out)])
    assert code == 1  # the runs on images failed, the others went on
    return out


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def means(rows, task, model, key, seeds=(0, 1)):
    """{size: mean over ``seeds``} of one model's finished scores, from results.csv."""
    out = {}
    for r in rows:
        if r["task"] == task and r["model"] == model and r["status"] == "ok" \
                and int(r["seed"]) in seeds:
            out.setdefault(int(r["card"]), []).append(float(r[key]))
    return {c: float(np.mean(v)) for c, v in sorted(out.items())}


def test_the_page_holds_the_sweep(sweep):
    rows = read_rows(sweep / "results.csv")
    rows_read, reaches = read_sweep(sweep)
    data = json.loads(json.dumps(explorer_data(rows_read, reaches, run_links(sweep, rows_read),
                                               "t")))
    assert [t["name"] for t in data["tasks"]] == TASKS
    assert [m["name"] for m in data["models"]] == MODELS and data["seeds"] == [0, 1]
    assert data["models"][0]["parts"] == {"phi": "handout", "pooling": "sum", "rho": "linear"}
    assert data["models"][1]["parts"] is None  # a plug-in is not made of parts
    assert {(r["model"], r["phi"], r["readout"]) for r in rows} >= {
        ("deepsets", "handout", "linear"), ("plugins:DigitsOnly", "", "")}
    assert len(data["rows"]["card"]) == len(rows)  # every row, the constant guess's too
    statuses = {(r["task"], r["model"], r["status"]) for r in rows}
    assert ("images", "plugins:DigitsOnly", "failed") in statuses
    assert ("sum", "plugins:TenAtMost", "n/a") in statuses
    na = [i for i, s in enumerate(data["rows"]["status"]) if s == "n/a"]
    assert na and all(data["rows"]["card"][i] == 20 for i in na)
    assert {data["errors"][data["rows"]["error"][i]] for i in na} == {
        "not applicable beyond size 10: TenAtMost got 20"}
    mean = data["tasks"][1]
    assert mean["metrics"] == ["mae"] and mean["guessed"] and mean["train"] == [1, 10]
    assert data["tasks"][0]["metrics"] == ["acc", "mae"]
    # a link for each run folder there, with its files
    assert data["runs"]["0|0|1"] == ["sum-deepsets-seed1", ["config.json", "history.json",
                                     "results.json", "results.csv", "deepsets.pt"]]
    assert "2|1|0" in data["runs"]  # a failed run's folder holds its config
    assert len(data["reach"]["reach"]) == len(read_rows(sweep / "reach.csv"))


def test_explore_rebuilds_the_same_page(sweep, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy)
    (copy / "explorer.html").unlink()
    assert run_main(["explore", str(copy)]) == 0
    assert (copy / "explorer.html").read_bytes() == (sweep / "explorer.html").read_bytes()
    assert f"{copy / 'explorer.html'}" in capsys.readouterr().out
    # the CSV files alone make the page; runs whose folders are gone get no link
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("results.csv", "reach.csv"):
        shutil.copy(sweep / name, bare / name)
    assert run_main(["explore", str(bare)]) == 0
    text = (bare / "explorer.html").read_text()
    assert '"runs":{}' in text


def test_explore_refuses_what_is_not_a_sweep(tmp_path, capsys):
    expect_error(capsys, ["explore", str(tmp_path)], "is neither a sweep folder nor a lab "
                 "run folder: it has no results.csv")
    (tmp_path / "results.csv").write_text("task,model,seed,card,acc,mae,status,error\n"
                                          "juggling,deepsets,0,5,0.5,1.0,ok,\n")
    (tmp_path / "reach.csv").write_text("task,model,seed,reach,largest_size\n")
    expect_error(capsys, ["explore", str(tmp_path)], "tasks this deepsets does not know: "
                 "juggling")


def test_no_value_can_end_the_data_script():
    rows = [{"task": "sum", "model": "m", "seed": 0, "card": 5, "acc": None, "mae": None,
             "status": "failed", "error": "ValueError: </script><script>alert(1)</script>"}]
    html = page(explorer_data(rows, [], {}, "a <b> & c"))
    assert "</script><script>alert(1)" not in html
    assert "Explorer: a &lt;b> &amp; c" in html
    assert "http://" not in html.split("<script>")[0]  # no stylesheet or script from a server


# --- in a real browser ---

def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium here (make test installs it with apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not "
                                     "installed (pip install -e '.[dev]')")
    path = chromium()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def explorer(browser, sweep):
    """The sweep's page, opened from disk; what it logged and asked the network for."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    seen = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto((sweep / "explorer.html").as_uri())
    page.wait_for_function("window.explorer !== undefined")
    yield page, seen
    page.close()


def click_cell(page, model: int, task: int) -> None:
    """A real mouse click at the centre of the heatmap's cell."""
    page.mouse.click(*page.evaluate("([m, t]) => window.explorer.cellCentre(m, t)",
                                    [model, task]))


def traces(page) -> list[dict]:
    return page.evaluate("""() => (document.getElementById("curves").data || []).map(
        (t) => ({model: t.meta.model, role: t.meta.role, name: t.name, x: t.x, y: t.y}))""")


def test_the_page_loads_offline_without_errors(explorer, sweep):
    page, seen = explorer
    assert seen["errors"] == []
    assert {url.split(":")[0] for url in seen["requests"]} == {"file"}
    heatmap = page.evaluate("document.getElementById('heatmap').data[0]")
    assert len(heatmap["z"]) == len(MODELS) and {len(row) for row in heatmap["z"]} == {3}
    assert heatmap["x"] == TASKS and heatmap["y"] == ["DeepSets", *MODELS[1:]]
    # one drawn cell per (model, task), each with its reach as the summary writes it
    assert page.locator(CELL_TEXT).count() == len(MODELS) * len(TASKS)
    reach = {(r["task"], r["model"]): [] for r in read_rows(sweep / "results.csv")}
    for r in read_rows(sweep / "reach.csv"):
        reach[r["task"], r["model"]].append(int(r["reach"]))
    assert heatmap["text"][1][2] == "failed"  # DigitsOnly on images: no seed finished
    rows = read_rows(sweep / "results.csv")
    for m, model in enumerate(MODELS):
        for t, task in enumerate(TASKS):
            values = reach[task, model]
            limited = any(r["status"] == "n/a" for r in rows
                          if r["task"] == task and r["model"] == model)
            assert heatmap["customdata"][m][t][2] == cell_text(values, 20, limited, trained=10)
            if values and min(values) >= 10:  # the median of two seeds: the lower one
                assert heatmap["z"][m][t] == pytest.approx(min(values) / 20)
            elif values:  # not learned at the training sizes: grey, below the scale, "n/l"
                assert heatmap["z"][m][t] < 0 and heatmap["text"][m][t].startswith("n/l")
    assert heatmap["customdata"][2][0][2].endswith("*")  # TenAtMost on sum: n/a at 20


def test_a_click_draws_the_tasks_curves(explorer, sweep):
    page, seen = explorer
    rows = read_rows(sweep / "results.csv")
    click_cell(page, 0, 1)  # deepsets on mean: a real task, with the constant guess
    drawn = traces(page)
    # two seeds: a band and a mean line per model that finished, the guess too
    assert [(t["model"], t["role"]) for t in drawn] == [
        (m, role) for m in [*MODELS, "constant"] for role in ("range", "mean")]
    for t in drawn:
        if t["role"] == "mean":
            expected = means(rows, "mean", t["model"], "mae")  # the guess's rows: "constant"
            assert t["x"] == list(expected)[:len(t["x"])]
            assert t["y"] == pytest.approx([expected[c] for c in t["x"]], rel=1e-12)
    ten = next(t for t in drawn if t["model"] == "plugins:TenAtMost" and t["role"] == "mean")
    assert ten["x"] == [5, 10] and "n/a at 20+" in ten["name"]
    assert page.evaluate("document.getElementById('curves').layout.yaxis.type") == "log"
    # the training sizes are marked
    shape = page.evaluate("document.getElementById('curves').layout.shapes[0]")
    assert (shape["x0"], shape["x1"]) == (1, 10)
    # images: the failed runs are drawn as none and named as failed
    click_cell(page, 0, 2)
    assert {t["model"] for t in traces(page)} == {"deepsets"}
    assert "plugins:DigitsOnly (2 seed(s) failed)" in page.inner_text("#note")
    assert page.locator("#runs td.failed").count() == 4  # 2 models x 2 seeds
    assert page.inner_text("#runs-title").startswith("The runs of images: 6, 4 failed")
    assert seen["errors"] == []


def test_filters_and_switches(explorer, sweep):
    page, seen = explorer
    rows = read_rows(sweep / "results.csv")
    click_cell(page, 0, 0)  # sum, scored by accuracy
    before = traces(page)
    assert {t["model"] for t in before} == set(MODELS)
    hover = page.locator("#models label", has_text="deepsets").get_attribute("title")
    assert hover == "phi handout, pooling sum, rho linear"
    page.locator("#models label", has_text="plugins:DigitsOnly").locator("input").uncheck()
    assert {t["model"] for t in traces(page)} == {"deepsets", "plugins:TenAtMost"}
    assert len(page.evaluate("document.getElementById('heatmap').data[0].z")) == 2
    # one seed: a line, no band, its own values
    page.locator("#seeds label", has_text="seed 1").locator("input").uncheck()
    drawn = traces(page)
    assert [t["role"] for t in drawn] == ["mean", "mean"]
    assert drawn[0]["y"] == pytest.approx(list(means(rows, "sum", "deepsets", "acc",
                                                     seeds=(0,)).values()), rel=1e-12)
    # error instead of accuracy, linear axes
    page.locator("input[name=metric][value=mae]").check()
    assert traces(page)[0]["y"] == pytest.approx(list(means(
        rows, "sum", "deepsets", "mae", seeds=(0,)).values()), rel=1e-12)
    page.locator("#xlog").uncheck()
    assert page.evaluate("document.getElementById('curves').layout.xaxis.type") == "linear"
    # the run table links each run to its folder's files
    hrefs = page.eval_on_selector_all("#runs a", "links => links.map((a) => a.href)")
    assert hrefs and all(Path(h.removeprefix("file://")).exists() for h in hrefs)
    assert seen["errors"] == []


def test_the_committed_full_sweep_page(browser):
    """docs/laf/explorer.html, the full LAF sweep: its data is what its CSV files make, and it
    opens from disk and draws in the browser without errors."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "laf"
    html = (docs / "explorer.html").read_text()
    blob = html.split('<script id="data" type="application/json">', 1)[1].split("</script>")[0]
    rows, reaches = read_sweep(docs)
    assert json.loads(blob) == json.loads(json.dumps(  # else: deepsets explore docs/laf
        explorer_data(rows, reaches, run_links(docs, rows), "laf")))
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto((docs / "explorer.html").as_uri())
    page.wait_for_function("window.explorer !== undefined")
    models, tasks = (len({r["model"] for r in read_rows(docs / "reach.csv")}),
                     len({r["task"] for r in read_rows(docs / "reach.csv")}))
    assert (models, tasks) == (32, 26)
    assert page.locator(CELL_TEXT).count() == models * tasks
    click_cell(page, 0, 2)  # DeepSets on max: every model, three seeds
    assert len(traces(page)) == 2 * models and errors == []
    page.close()


def test_a_lab_run_gets_the_same_page(browser, tiny_run, tmp_path):
    """``deepsets explore RUN`` on a lab run folder: one task, one seed, its models."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run.run, run)
    assert run_main(["explore", str(run)]) == 0
    results = json.loads((run / "results.json").read_text())
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto((run / "explorer.html").as_uri())
    page.wait_for_function("window.explorer !== undefined")
    assert page.locator(CELL_TEXT).count() == 2  # DeepSets and the LSTM on sum
    click_cell(page, 1, 0)
    drawn = traces(page)  # one seed: a line per model, no band
    assert [(t["model"], t["role"]) for t in drawn] == [("deepsets", "mean"), ("lstm", "mean")]
    assert drawn[1]["x"] == results["cards"]
    assert drawn[1]["y"] == pytest.approx(results["lstm"]["acc"], rel=1e-12)
    hrefs = page.eval_on_selector_all("#runs a", "links => links.map((a) => a.href)")
    assert {Path(h).name for h in hrefs} >= {"config.json", "lstm.pt", "deepsets.pt"}
    assert all(Path(h.removeprefix("file://")).exists() for h in hrefs)
    page.close()


@pytest.mark.parametrize("part, tasks, own", [("digits", 13, []), ("mnist", 5, []),
                                              ("reals-max", 1, []), ("vectors", 3, ["own"])])
def test_the_committed_grid_pages_draw_a_panel_per_task(browser, part, tasks, own):
    """docs/grid/<part>/explorer.html, the poolings x readouts sweeps: its data is what its
    CSV files make; the grid view draws a panel per task, each pooling x each readout (the
    vectors' too the plug-in estimate, a row of its own with no readout to choose)."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "grid" / part
    html = (docs / "explorer.html").read_text()
    blob = html.split('<script id="data" type="application/json">', 1)[1].split("</script>")[0]
    rows, reaches = read_sweep(docs)
    assert json.loads(blob) == json.loads(json.dumps(  # else: deepsets explore docs/grid/...
        explorer_data(rows, reaches, run_links(docs, rows), part)))
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((docs / "explorer.html").as_uri())
    page.wait_for_function("window.explorer !== undefined")
    page.check("input[name=facet][value=grid]")
    traces = page.evaluate("document.getElementById('heatmap').data.map((t) => [t.y, t.x])")
    rows = [y for y, _ in traces]
    assert [(len(y), y[-1] == "plug-in") for y in rows] == [(11 + len(own), bool(own))] * tasks
    assert [x for _, x in traces] == [["linear", "relu-mlp", "tanh-mlp", *own]] * tasks
    page.uncheck("#readouts input[value='tanh-mlp']")
    traces = page.evaluate("document.getElementById('heatmap').data.map((t) => t.x)")
    assert traces == [["linear", "relu-mlp", *own]] * tasks  # the readout filter
    assert errors == []
