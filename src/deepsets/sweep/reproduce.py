"""Published results, run again at the paper's protocol: ``deepsets reproduce NAME``.

``reproduce`` runs the sweeps of an entry of ``published.REPRODUCTIONS`` through
``compare.run_compare`` (so runs resume and fail alone), then writes
``reproduction.json`` (a list of rows: ``row``, ``published``, ``published_spread``,
``measured`` (the mean over seeds), ``measured_spread`` (their standard deviation),
``metric``, ``verdict``) and ``reproduction.md``.

A row is ``reproduced`` when the measured mean lies within three published standard
deviations of the published mean (for a number read off a figure, which has none, within
the entry's stated ``tolerance``), ``better`` when it is better than that, and ``not
reproduced`` otherwise. A reading (``published.Reading``) is ``reproduced`` when its claim
holds on the means over seeds, ``not measured`` when its sizes were not tested (``--quick``).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path

from deepsets.core.progress import Progress
from deepsets.core.runfolder import checkpoint_path, load_trained, write_text
from deepsets.core.settings import CompareConfig
from deepsets.sweep.compare import run_compare, run_name
from deepsets.sweep.published import FLAT, REPRODUCTIONS, Reading, Reproduction, Row


def reproduce(name: str, out: Path, *, quick: bool = False, seeds: int | None = None,
              jobs: int = 2, cluster: str | None = None, progress: Progress | None = None,
              force: bool = False) -> tuple[list[dict], dict[str, str]]:
    """Run reproduction ``name`` into ``out`` (a sweep folder per group), then write
    reproduction.json and reproduction.md there. Returns the rows and the failed runs."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"unknown reproduction {name!r}; choose from "
                         + ", ".join(REPRODUCTIONS))
    entry, out = REPRODUCTIONS[name], Path(out)
    scores: dict[tuple[str, str, str, str, int, int], float] = {}
    failed: dict[str, str] = {}
    q: list[float] = []
    for group, settings in entry.sweeps.items():
        config = sweep_config(settings, entry.quick, quick_cards(entry, group) if quick
                              else None, seeds)
        rows, lost = run_compare(config, out / group, jobs=jobs, cluster=cluster,
                                 progress=progress, force=force)
        failed.update({f"{group}/{k}": v for k, v in lost.items()})
        if entry.per_image and entry.per_image[0] == group:
            q = per_image_q(config, out / group, entry.per_image[1])
        for r in rows:
            for metric in ("acc", "mae"):
                if r.get(metric) not in ("", None):
                    scores[group, r["task"], r["model"], metric, r["seed"],
                           r["card"]] = float(r[metric])
    table = [compare_row(row, entry, scores) if isinstance(row, Row) else
             check_reading(row, scores) for row in entry.rows]
    if entry.per_image:
        table.append(q_row(q, entry.per_image[1]))
    write_text(out / "reproduction.json", json.dumps(table, indent=2) + "\n")
    write_text(out / "reproduction.md", markdown(name, entry, table, quick))
    return table, failed


def per_image_q(config: CompareConfig, folder: Path, model: str) -> list[float]:
    """Each trained seed's q: the share of the test images whose own contribution to the
    sum, rounded, is the digit shown (``lab.drift.per_image_accuracy``)."""
    from deepsets.lab.drift import per_image_accuracy

    q = []
    for run in config.runs():
        if run.models[0] == model and checkpoint_path(folder / run_name(run), model).is_file():
            trained, _ = load_trained(folder / run_name(run), run, model)
            q.append(per_image_accuracy(trained, [], [], task=run.task)["q_test"])
    return q


def q_row(q: list[float], model: str) -> dict:
    """reproduction.json's row of q, beside the published rows (no published value)."""
    return {"row": "q: one image read right (test images)", "published": None,
            "published_spread": None, "measured": statistics.fmean(q) if q else None,
            "measured_spread": statistics.stdev(q) if len(q) > 1 else None, "metric": "q",
            "verdict": "not published", "model": model, "seeds": len(q)}


def quick_cards(entry: Reproduction, group: str) -> set[int]:
    """The test sizes ``--quick`` keeps of a group's: the first and last of each row's that
    reads the group (its own rows, and readings that compare it as a rival)."""
    return {size for row in entry.rows
            if row.group == group or group in {g for g, _ in getattr(row, "rivals", ())}
            for size in (row.sizes[0], row.sizes[-1])}


def sweep_config(settings: dict, quick: dict, quick_cards: set[int] | None,
                 seeds: int | None) -> CompareConfig:
    """A group's sweep: its settings; with ``quick_cards`` (``--quick``), the ``quick``
    settings over them and those test sizes only (the first and last of each row's);
    then ``--seeds``."""
    config = CompareConfig(**settings)
    if quick_cards is not None:
        config = replace(config, **quick, cards=tuple(sorted(quick_cards)))
    return replace(config, seeds=seeds) if seeds else config


def seed_means(scores: dict, run: tuple[str, str, str, str],
               sizes: tuple[int, ...]) -> list[float]:
    """Each seed's mean score over ``sizes`` of one ``run`` (group, task, model, metric)."""
    per_seed = []
    for seed in sorted({key[4] for key in scores if key[:4] == run}):
        values = [scores[(*run, seed, size)] for size in sizes if (*run, seed, size) in scores]
        if values:
            per_seed.append(statistics.fmean(values))
    return per_seed


def compare_row(row: Row, entry: Reproduction, scores: dict) -> dict:
    """One row of reproduction.json: published against the mean over seeds."""
    per_seed = seed_means(scores, (row.group, row.task, row.model, row.metric), row.sizes)
    measured = statistics.fmean(per_seed) if per_seed else None
    spread = statistics.stdev(per_seed) if len(per_seed) > 1 else None
    return {"row": row.row, "published": row.published, "published_spread": row.spread,
            "measured": measured, "measured_spread": spread, "metric": row.metric,
            "verdict": verdict(row, measured, entry.tolerance), "model": row.model,
            "seeds": len(per_seed)}


def check_reading(reading: Reading, scores: dict) -> dict:
    """One row of reproduction.json for a reading: its claim, what was measured (the MAE at
    the largest size, or its ratio to the MAE at the smallest), the rivals' MAE there."""
    def mean_at(group: str, model: str, size: int) -> float | None:
        per_seed = seed_means(scores, (group, reading.task, model, reading.metric), (size,))
        return statistics.fmean(per_seed) if per_seed else None

    small, large = reading.sizes[0], reading.sizes[-1]
    at_large = seed_means(scores, (reading.group, reading.task, reading.model,
                                   reading.metric), (large,))
    mine = statistics.fmean(at_large) if at_large else None
    rivals = {model: mean_at(group, model, large) for group, model in reading.rivals}
    if reading.claim == "best":
        claim, metric, measured = f"the lowest MAE of the {len(rivals) + 1} at {large}", \
            f"mae at {large}", mine
        known = [v for v in rivals.values() if v is not None]
        holds = None if mine is None or not known else mine <= min(known)
    else:
        first = mean_at(reading.group, reading.model, small)
        claim, metric = f"flat: MAE at {large} at most {FLAT:g}x at {small}", \
            f"mae at {large} / mae at {small}"
        measured = None if mine is None or not first else mine / first
        holds = None if measured is None else measured <= FLAT
    return {"row": reading.row, "published": None, "published_spread": None, "claim": claim,
            "measured": measured, "measured_spread": None, "metric": metric,
            "verdict": ("not measured" if holds is None else
                        "reproduced" if holds else "not reproduced"),
            "model": reading.model, "seeds": len(at_large),
            **({"rivals": rivals} if rivals else {})}


def verdict(row: Row, measured: float | None, tolerance: float | None) -> str:
    """``reproduced`` within 3 published std (or ``tolerance`` where none is published),
    ``better`` beyond it on the good side, else ``not reproduced``."""
    if measured is None:
        return "not reproduced"
    allowed = 3 * row.spread if row.spread is not None else (tolerance or 0.0)
    gain = row.published - measured if row.metric == "mae" else measured - row.published
    if abs(gain) <= allowed:
        return "reproduced"
    return "better" if gain > 0 else "not reproduced"


def number(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" + (f" +- {spread:.2g}" if spread is not None else "")


def markdown(name: str, entry: Reproduction, table: list[dict], quick: bool) -> str:
    """reproduction.md: what was run, the rows side by side with their verdicts, and every
    difference from the paper's protocol."""
    lines = [f"# {name}: {entry.paper}", "", entry.about + ".", ""]
    if quick:
        lines += ["**--quick: a smoke test at a tiny scale, not the protocol; its numbers "
                  "say nothing about the paper.**", ""]
    lines += ["| row | metric | published | measured (mean +- std over seeds) | seeds | "
              "verdict |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r['row']} | {r['metric']} | "
              f"{r.get('claim') or number(r['published'], r['published_spread'])}"
              f" | {number(r['measured'], r['measured_spread'])} | {r['seeds']} | "
              f"{r['verdict']} |" for r in table]
    rule = ("within 3 published standard deviations of the published mean"
            if entry.tolerance is None else
            f"within {entry.tolerance} of the published value (read off a figure)")
    verdicts = (f"A row is reproduced when the measured mean lies {rule}; better when it is "
                "better than that.")
    if all(isinstance(row, Reading) for row in entry.rows):
        verdicts = ("The paper gives figures only: a row is reproduced when its claim holds "
                    "on the means over seeds.")
    if entry.per_image:
        verdicts += (" q is the share of the unseen test images whose own contribution to a "
                     "prediction, rounded, is the digit shown, learned from sums alone: a "
                     "set of N images is right about q^N of the time if one misread image "
                     "spoils its sum (the lab's report explains it).")
    lines += ["", verdicts, "", "## How our protocol differs from the paper's", ""]
    lines += [f"- {d}" for d in entry.differences]
    lines += ["", "Command: `deepsets reproduce " + name + (" --quick" if quick else "")
              + "`; each group's sweep (results.csv, summary.md, figures, explorer.html) "
              "is in its folder here."]
    return "\n".join(lines) + "\n"
