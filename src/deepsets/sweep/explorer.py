"""``explorer.html``: one self-contained page per sweep, to open from disk and explore.

The page holds the sweep's rows (results.csv), each run's reach (reach.csv), what each
task is (its metrics, its training sizes, its largest test size), links to the run
folders that are there, the page's script (``explorer.js``) and Plotly's own library,
inlined: no server, no network. ``deepsets compare`` writes it; ``deepsets explore
SWEEP`` rebuilds it from a sweep folder's two CSV files, so a sweep whose run folders are
gone (docs/laf) still gets one. ``deepsets explore RUN`` writes the same page for one lab
run folder (one task, one seed: its models' curves), which the lab itself does not.
"""

from __future__ import annotations

import csv
import json
import re
from importlib import resources
from pathlib import Path

from deepsets.core.models import parts_of, readout_of, without_readout
from deepsets.core.results import GUESS, REFERENCES, model_names, status_rows
from deepsets.core.runfolder import RESULTS, checkpoint_path, read_config, read_json, write_text
from deepsets.core.tasks import TASKS
from deepsets.lab.plot import label
from deepsets.sweep.reach import OWN, REACH_COLUMNS, run_reach, yardsticks
from deepsets.sweep.summary import MAX_TRAIN_CARD

EXPLORER = "explorer.html"
#: The files of a run folder the page links to, when they are there.
RUN_FILES = ("config.json", "history.json", "results.json", "results.csv")


def plotly_js() -> str:
    """Plotly's library, minified, from the plotly package (which ships it for offline
    use)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def folder_name(task: str, model: str, seed: int) -> str:
    """A run's folder in a sweep: ``<task>-<model>-seed<k>`` (a plug-in's ``:`` becomes
    ``.``)."""
    return f"{task}-{model.replace(':', '.')}-seed{seed}"


def number(value) -> float | None:
    """A score as a number; None for a missing one (a failed run's ``""``)."""
    return None if value is None or value == "" else float(value)


#: reach.csv's columns of whole numbers (an older one lacks ``learned_to``).
SIZES = ("seed", "reach", "learned_to", "largest_size")


def read_sweep(folder: Path) -> tuple[list[dict], list[dict]]:
    """The rows of a sweep folder's results.csv and reach.csv, seeds and sizes as numbers
    (scores stay text: ``explorer_data`` reads them as the sweep's own rows). ValueError,
    in one line, for a folder that is not one."""
    folder = Path(folder)
    for name in ("results.csv", "reach.csv"):
        if not (folder / name).is_file():
            raise ValueError(f"{folder} is neither a sweep folder nor a lab run folder: it "
                             f"has no {name} (deepsets compare or deepsets lab --out "
                             "FOLDER writes one)")
    with open(folder / "results.csv", newline="") as f:
        rows = [{**r, "seed": int(r["seed"]), "card": int(r["card"])}
                for r in csv.DictReader(f)]
    with open(folder / "reach.csv", newline="") as f:
        reaches = [{k: int(r[k]) if k in SIZES and r.get(k) else r.get(k, "")
                    for k in REACH_COLUMNS} for r in csv.DictReader(f)]
    unknown = sorted({r["task"] for r in rows} - set(TASKS))
    if unknown:
        raise ValueError(f"{folder}/results.csv holds tasks this deepsets does not know: "
                         f"{', '.join(unknown)}")
    return rows, reaches


def columns(rows: list[dict], keys: tuple[str, ...]) -> dict[str, list]:
    """Rows as one list per key: the page's data stays small at a full sweep's size."""
    return {k: [r.get(k) for r in rows] for k in keys}


def run_links(folder: Path, rows: list[dict]) -> dict[tuple, tuple[str, list[str]]]:
    """``{(task, model, seed): (its folder, its files)}`` for the run folders of a sweep
    that are there."""
    links = {}
    for key in dict.fromkeys((r["task"], r["model"], r["seed"]) for r in rows
                             if r["model"] != GUESS):
        run = Path(folder) / folder_name(*key)
        files = [f for f in RUN_FILES if (run / f).is_file()]
        files += sorted(p.name for p in run.glob("*.pt"))
        if files:
            links[key] = (run.name, files)
    return links


def explorer_data(rows: list[dict], reaches: list[dict], links: dict, title: str, *,
                  max_card: int = MAX_TRAIN_CARD) -> dict:
    """What the page shows, as JSON: tasks, models, seeds, the rows and reaches by
    column (models and tasks as indices), the training sizes (1..``max_card`` sets) and
    the runs' ``links`` (``run_links``)."""
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows if r["model"] != GUESS))
    seeds = sorted({r["seed"] for r in rows})
    errors = list(dict.fromkeys(r.get("error") or "" for r in rows))
    index = {**{m: i for i, m in enumerate(models)}, GUESS: -1}
    table = [{**r, "task": tasks.index(r["task"]), "model": index[r["model"]],
              "acc": number(r["acc"]), "mae": number(r["mae"]),
              "status": r.get("status") or "ok", "error": errors.index(r.get("error") or "")}
             for r in rows]
    return {
        "title": title,
        "tasks": [{"name": t, "metrics": list(TASKS[t].metrics),
                   "guessed": TASKS[t].guessed, "about": TASKS[t].title,
                   "criterion": TASKS[t].criterion,
                   "train": [TASKS[t].scale, TASKS[t].scale * max_card],
                   "sizes": sorted({r["card"] for r in rows if r["task"] == t})}
                  for t in tasks],
        "models": [{"name": m, "label": label(m), "parts": parts_of(m),
                    "base": without_readout(m), "readout": readout_of(m) or OWN}
                   for m in models],
        "guess": label(GUESS),
        "seeds": seeds,
        "errors": errors,
        "rows": columns(table, ("task", "model", "seed", "card", "acc", "mae", "status",
                                "error")),
        "reach": columns([{**r, "task": tasks.index(r["task"]),
                           "model": models.index(r["model"])} for r in reaches
                          if r["task"] in tasks and r["model"] in models],
                         ("task", "model", "seed", "reach", "largest_size")),
        "runs": {f"{tasks.index(t)}|{models.index(m)}|{seed}": list(link)
                 for (t, m, seed), link in links.items()},
    }


def page(data: dict) -> str:
    """The HTML of the page: the template with Plotly, the data and the script inlined.
    The data's ``</`` is escaped, so no value can end its script element."""
    here = resources.files("deepsets.sweep")
    template = (here / "explorer.html").read_text(encoding="utf-8")
    script = (here / "explorer.js").read_text(encoding="utf-8")
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    parts = {"/*PLOTLY*/": plotly_js(), "/*DATA*/": blob, "/*EXPLORER*/": script,
             "<!--TITLE-->": data["title"].replace("&", "&amp;").replace("<", "&lt;")}
    marks = re.compile("|".join(map(re.escape, parts)))  # the template's, not the parts'
    return marks.sub(lambda m: parts[m.group()], template)


def write_page(folder: Path, data: dict) -> Path:
    """``folder/explorer.html`` showing ``data`` (``explorer_data``)."""
    write_text(Path(folder) / EXPLORER, page(data))
    return Path(folder) / EXPLORER


def write_explorer(folder: Path, rows: list[dict], reaches: list[dict],
                   max_card: int = MAX_TRAIN_CARD) -> Path:
    """``folder/explorer.html`` for a sweep's rows and reaches, trained on sets of
    1..``max_card``."""
    return write_page(folder, explorer_data(rows, reaches, run_links(folder, rows),
                                            Path(folder).resolve().name, max_card=max_card))


def lab_page_data(run: Path) -> dict:
    """The page's data for one lab run folder: its task, its models, its seed; each
    model's reach; links to its own files."""
    config, results = read_config(run), read_json(Path(run) / RESULTS)
    rows = status_rows(results, task=config.task, seed=config.seed)
    refs = yardsticks(rows)
    reaches = [{"task": config.task, "model": m, "seed": config.seed,
                "reach": run_reach(config.task, [r for r in rows if r["model"] == m], refs),
                "largest_size": max(results["cards"])}
               for m in model_names(results) if m != GUESS]
    files = [f for f in RUN_FILES if (Path(run) / f).is_file()]
    links = {(config.task, m, config.seed): (".", [*files, checkpoint_path(run, m).name])
             for m in model_names(results) if m not in REFERENCES}
    return explorer_data(rows, reaches, links, Path(run).resolve().name,
                         max_card=config.max_card)


def explore(folder: Path) -> Path:
    """Rebuild ``explorer.html`` from a sweep folder's results.csv and reach.csv, or write
    one for a lab run folder (its results.json)."""
    folder = Path(folder)
    if (folder / RESULTS).is_file() and not (folder / "reach.csv").is_file():
        return write_page(folder, lab_page_data(folder))
    stored = read_json(folder / "sweep.json") if (folder / "sweep.json").is_file() else {}
    max_card = stored.get("config", {}).get("max_card", MAX_TRAIN_CARD)  # older: none
    return write_explorer(folder, *read_sweep(folder), max_card=max_card)
