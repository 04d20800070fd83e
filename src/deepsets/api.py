"""The benchmark from Python: ``compare`` and ``lab`` run what ``deepsets compare`` and
``deepsets lab`` run, with the same settings, checks and defaults (one table,
``core.settings_table.SETTINGS``), and give back their tables as pandas DataFrames; ``load``
reads back a folder that either wrote.

    import deepsets
    run = deepsets.compare(tasks="laf", models=["deepsets", MySetNet], seeds=3,
                           out="runs/mine")
    run.reach          # model x task: the median reach over seeds, its lowest and highest
    run.results        # task, model, seed, size: each metric
    run.plot("max")    # the task's curves

A model is a name (``deepsets models`` lists them), an ``nn.Module`` class, or a function
that builds one. A class defined in a notebook's cell or a script trains in local worker
processes and on Ray as a named one does, sent to them by value (``core.models.own``),
with the same checkpoints and resume.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from deepsets.core.checks import check_positive_int, did_you_mean, names
from deepsets.core.models import model_name
from deepsets.core.progress import Bars, Progress
from deepsets.core.settings import CompareConfig, LabConfig
from deepsets.core.settings_table import SETTINGS
from deepsets.folders import Run, Sweep

#: A model as the API takes it: its name, an ``nn.Module`` class, or a function that
#: builds one (it gets the constructor arguments it names, as a class does).
Model = str | Callable[..., nn.Module]
S = TypeVar("S", LabConfig, CompareConfig)

DEFAULT_RUN = Path("runs/lab")
DEFAULT_SWEEP = Path("runs/compare")


def compare(tasks: str | Sequence[str] | None = None,
            models: Model | Sequence[Model] | None = None, *,
            out: str | os.PathLike[str] = DEFAULT_SWEEP, quick: bool = False,
            preset: str | None = None, jobs: int | None = None, cluster: str | None = None,
            resume: bool = False, force: bool = False, progress: bool = True,
            longest_first: bool = False, **settings: Any) -> Sweep:
    """Sweep tasks x models x seeds into the folder ``out``, as ``deepsets compare`` does,
    and return its tables.

    Args:
        tasks: task names, or a suite's (``"laf"``); a string may list several, ``"sum,max"``.
        models: names, ``nn.Module`` classes or functions that build one, or one of them.
        out: the sweep's folder; the same call again reuses finished runs and continues
            cut-off ones from their last checkpoint.
        quick: the tiny preset that runs in seconds (other settings still apply).
        preset: ``"handout"`` or ``"laf"``, as ``--preset``.
        jobs: runs at once in local worker processes (default: the CPU count).
        cluster: run on Ray: ``"local-ray"``, ``"auto"`` or ``"ray://HOST:PORT"``.
        resume: continue the sweep stored in ``out`` on its settings.
        force: start over, deleting the sweep's earlier runs in ``out``.
        progress: progress bars on stderr.
        longest_first: dispatch the costliest runs first, as ``--longest-first`` (it
            measures each model first): on many CPUs, the longest runs no longer start last.
        **settings: any other setting of the command line, by its name (``seeds=3``,
            ``epochs=5``, ``cards="5,10,20"`` or ``(5, 10, 20)``, ``readouts=...``); text is
            read as its flag reads it, ``cards="+1000"`` adding sizes.

    Raises:
        ValueError: a bad value, naming the setting and its rule, before anything is
            written.
    """
    from deepsets.sweep.compare import run_compare
    from deepsets.sweep.costs import longest_first as costliest

    given = {**settings, **({} if tasks is None else {"tasks": tasks}),
             **({} if models is None else {"models": model_names(models)})}
    config = sweep_config(Path(out), given, resume=resume, quick=quick, preset=preset)
    jobs = check_positive_int("jobs", (os.cpu_count() or 1) if jobs is None else jobs)
    shown = bars(progress)
    _, failed = run_compare(config, Path(out), jobs=jobs, cluster=cluster, progress=shown,
                            force=force, order=costliest(Path(out), shown) if longest_first
                            else None)
    if failed:
        warnings.warn(f"{len(failed)} of {len(config.runs())} runs failed: "
                      + "; ".join(f"{k}: {v}" for k, v in failed.items()), stacklevel=2)
    return Sweep(Path(out), failed)


def lab(task: str | None = None, models: Model | Sequence[Model] | None = None, *,
        out: str | os.PathLike[str] = DEFAULT_RUN, quick: bool = False, resume: bool = False,
        force: bool = False, progress: bool = True, **settings: Any) -> Run:
    """The whole lab into the run folder ``out``, as ``deepsets lab`` runs it (data,
    training, evaluation, figures, the questions and report.md), and its tables.

    Args:
        task: the set function to learn (default: the handout's sum).
        models: names, ``nn.Module`` classes or functions that build one, or one of them.
        out: the run folder; the same call again continues a cut-off run.
        quick: the tiny preset that runs in seconds (other settings still apply).
        resume: continue the run stored in ``out`` on its settings.
        force: start over, deleting the folder's earlier lab files.
        progress: progress bars on stderr.
        **settings: any other setting of ``deepsets lab``, by its name (``epochs=5``,
            ``seed=1``, ``cards="5,10"``); text is read as its flag reads it.

    Raises:
        ValueError: a bad value, naming the setting and its rule, before anything is
            written.
    """
    from deepsets.lab.run import run_lab

    given = {**settings, **({} if task is None else {"task": task}),
             **({} if models is None else {"models": model_names(models)})}
    config = lab_config(Path(out), given, resume=resume, quick=quick)
    run_lab(config, Path(out), resume=resume, force=force, progress=bars(progress))
    return Run(Path(out))


def load(folder: str | os.PathLike[str]) -> Sweep | Run:
    """The tables of a folder that ``deepsets compare`` (a ``Sweep``) or ``deepsets lab``
    (a ``Run``) wrote, from the command line or from Python."""
    from deepsets.core.runfolder import CONFIG

    folder = Path(folder)
    if (folder / "results.csv").is_file() and (folder / "reach.csv").is_file():
        return Sweep(folder)
    if (folder / CONFIG).is_file():
        return Run(folder)
    raise ValueError(f"{folder} is neither a sweep folder nor a lab run folder: it has no "
                     "results.csv and reach.csv, nor config.json")


# --- settings: the command line's, from the one table ---

def model_names(models: Model | Sequence[Model]) -> tuple[str, ...]:
    """Models as the settings name them (``core.models.model_name``): a string may list
    several (``"deepsets,lstm"``); two objects may not take one name (a name given twice,
    the settings refuse)."""
    items = [models] if isinstance(models, str) or callable(models) else list(models)
    given: list[str] = []
    objects: dict[str, object] = {}
    for item in items:
        if isinstance(item, str):
            given += names(item)
            continue
        name = model_name(item)
        if objects.setdefault(name, item) is not item:
            raise ValueError(f"models: two models are named {name!r}; rename one")
        given.append(name)
    return tuple(given)


def settings_over(config: S, given: dict[str, Any]) -> S:
    """``config`` with the settings ``given`` over it, by name; text is read as its flag
    reads it (``"5,10"``; ``cards="+1000"`` adds sizes to ``config``'s). Every value is
    checked by the settings table: a ``ValueError`` names the setting and its rule."""
    known = [f.name for f in fields(config)]
    for name in given:
        if name not in known:
            raise ValueError(f"unknown setting {name!r}{did_you_mean(name, known)}; the "
                             "settings are " + ", ".join(known))
    values = {k: read(k, v, config) if isinstance(v, str) else v for k, v in given.items()}
    return replace(config, **values)


def read(name: str, text: str, config: LabConfig | CompareConfig) -> Any:
    """Setting ``name``'s value from ``text``, as its flag reads it; the text itself for a
    setting that is a word (``task``, ``device``)."""
    parse, adds = SETTINGS[name].parse, name == "cards" and text.startswith("+")
    if parse is None:
        return text
    try:
        value = parse(text.removeprefix("+") if adds else text)
    except ValueError as err:
        raise ValueError(f"{name}={text!r} is not allowed; {err}") from None
    if adds:
        return tuple(sorted(set(config.cards) | set(value)))
    return value


def sweep_config(out: Path, given: dict[str, Any], *, resume: bool = False,
                 quick: bool = False, preset: str | None = None) -> CompareConfig:
    """A sweep's settings: the defaults (with ``resume``, those stored in ``out``), the
    quick preset, a named preset, then the settings ``given``."""
    from deepsets.core.runfolder import CONFIG
    from deepsets.sweep.compare import SWEEP, stored_sweep

    config = CompareConfig()
    if resume:
        stored = stored_sweep(out)
        if stored is not None:
            config = CompareConfig.from_dict(stored)
        elif not any(out.glob(f"*/{CONFIG}")):  # runs of a version without sweep.json
            raise ValueError(f"nothing to resume: {out} holds no {SWEEP}")
    config = config.quick() if quick else config
    if preset is not None:
        if preset not in CompareConfig.PRESETS or preset == "quick":
            raise ValueError(f"preset={preset!r} is not allowed; use handout or laf, or "
                             "quick=True")
        config = config.preset(preset)
    return settings_over(config, given)


def lab_config(out: Path, given: dict[str, Any], *, resume: bool = False,
               quick: bool = False) -> LabConfig | None:
    """A lab run's settings: the handout's (with ``resume``, those stored in ``out``; None
    where nothing is stored), the quick preset, then the settings ``given``."""
    from deepsets.core.runfolder import stored_config

    config = stored_config(out) if resume else LabConfig()
    if config is None:
        return None
    return settings_over(config.quick() if quick else config, given)


def bars(shown: bool) -> Progress:
    """Progress bars on stderr, in a terminal or a notebook alike; or nothing."""
    return Bars(always=True) if shown else Progress()
