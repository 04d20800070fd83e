"""The run folder: its files, written atomically, its checkpoints and its settings.

Every write goes to a temporary file in the same folder and is then moved
into place with ``os.replace``, so an interrupted run never leaves a
half-written file: a reader sees the old version or the new one. The folder's
files are listed in docs/architecture.md.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepsets.core.models import MODELS, build_model, fingerprint, is_plugin, upgraded
from deepsets.core.progress import Progress
from deepsets.core.settings import LabConfig, Settings

CONFIG = "config.json"
HISTORY = "history.json"
RESULTS = "results.json"
RESULTS_CSV = "results.csv"
REPORT = "report.md"
ANALYSIS = "analysis.json"
ACCURACY_PNG = "accuracy.png"
MAE_PNG = "mae.png"
DRIFT_PNG = "drift.png"
#: A failed run's traceback (a sweep writes it into the run's folder).
FAILURE = "error.txt"
#: Every file a lab writes, besides one checkpoint per model.
OUTPUTS = (CONFIG, HISTORY, RESULTS, RESULTS_CSV, ACCURACY_PNG, MAE_PNG, ANALYSIS, DRIFT_PNG,
           REPORT)


# mkstemp creates files readable by the owner only; give results the usual mode
_UMASK = os.umask(0)
os.umask(_UMASK)


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, corrupt or of another model."""


def checkpoint_path(run: Path, model_name: str) -> Path:
    """``<model>.pt``; a plug-in ``package.module:Class`` gets ``package.module.Class.pt``."""
    return Path(run) / f"{model_name.replace(':', '.')}.pt"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then move it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None


def save_checkpoint(path: Path, model: nn.Module, name: str, **extra: Any) -> None:
    """The checkpoint dict: model, model_name, model_args, plus ``extra`` (optimizer, epoch,
    history; a plug-in's ``fingerprint``; ``refit`` after a least-squares refit)."""
    state = {"model": model.state_dict(), "model_name": name,
             "model_args": getattr(model, "model_args", {}), **extra}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def mismatch(state: dict[str, Any], name: str, model_args: dict | None,
             code: str | None) -> str | None:
    """Why the checkpoint dict ``state`` is not model ``name`` built with ``model_args``
    (None: any) from the code whose ``fingerprint`` is ``code`` (None: a built-in's); None
    when it is."""
    if state["model_name"] != name:
        return f"holds a {state['model_name']!r} model, not {name!r}"
    stored = state["model_args"]
    changed = {k: v for k, v in (model_args or {}).items() if stored.get(k) != v}
    if changed:
        return (f"holds a model with {', '.join(f'{k}={stored.get(k)!r}' for k in changed)}; "
                f"this run builds it with {', '.join(f'{k}={v!r}' for k, v in changed.items())}")
    if state.get("fingerprint") != code:
        return "was trained from other code (its source has changed since)"
    return None


def load_checkpoint(path: Path, expect_name: str | None = None) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``: no code in it ever runs)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's message is a page long; keep the unpickler's own reason
        found = re.search(r"WeightsUnpickler error:\s*(.*?)(?: Please use|\n\n|$)", str(err),
                          re.S)
        reason = " ".join((found.group(1) if found else str(err)).split()).rstrip(".")
        if "Unsupported global" in reason:
            raise CheckpointError(f"{path} is refused: it would run code or build objects a "
                                  f"safe load does not allow ({reason}); nothing in it "
                                  "was run") from None
        raise CheckpointError(f"{path} is corrupt or not a checkpoint ({reason})") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path} is corrupt or truncated "
                              f"({type(err).__name__}: {str(err)[:120]})") from None
    keys = ("model", "model_name", "model_args")
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise CheckpointError(f"{path} is not a deepsets checkpoint "
                              f"(it lacks {', '.join(keys)})")
    if expect_name is not None and state["model_name"] != expect_name:
        raise CheckpointError(f"{path} holds a {state['model_name']!r} model, "
                              f"not {expect_name!r}")
    return upgraded(state)  # an older version's checkpoint in today's names


def load_model(path: Path, expect_name: str | None = None,
               expect_args: dict[str, int] | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a checkpoint with its weights, ready to predict (eval mode: MNIST's
    deformations are off), and the checkpoint dict."""
    state = load_checkpoint(path, expect_name)
    args = state["model_args"]
    why = mismatch(state, state["model_name"], expect_args, fingerprint(state["model_name"]))
    if why is not None:
        raise CheckpointError(f"{path} {why}")
    try:
        model = build_model(state["model_name"], **args)
        model.load_state_dict(state["model"])
        model.eval()
    except (TypeError, ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0][:200]
        raise CheckpointError(f"{path} does not match a {state['model_name']!r} model "
                              f"with {args}: {reason}") from None
    return model, state


def load_trained(run: Path, config: LabConfig, name: str) -> tuple[nn.Module, dict[str, Any]]:
    """The fully trained model ``name`` of a run folder and its checkpoint dict; an error if
    it is missing, of other settings, or partly trained."""
    path = checkpoint_path(run, name)
    model, state = load_model(path, name, config.model_args(name))
    if state.get("epoch") != config.epochs:
        raise ValueError(f"{path} holds {state.get('epoch')} of {config.epochs} epochs; "
                         f"finish training first: deepsets lab --resume --out {run}")
    return model, state


# --- the run's settings: config.json ---

def versions() -> dict[str, str]:
    from importlib.metadata import version  # without importing scikit-learn

    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scikit-learn": version("scikit-learn"),
            "matplotlib": version("matplotlib")}


def settings_record(config: LabConfig | Settings) -> dict:
    """What a run's config.json (or a sweep's sweep.json) holds: the settings, the
    fingerprint of each plug-in's code, the versions of what computed it."""
    return {"config": config.to_dict(), "fingerprints": {
        m: fingerprint(m) for m in config.models if is_plugin(m)}, "versions": versions()}


def read_config(run: Path) -> LabConfig:
    """The settings of an existing run folder."""
    run = Path(run)
    if not run.is_dir():
        raise FileNotFoundError(f"run folder {run} does not exist")
    stored = read_json(run / CONFIG)
    if not isinstance(stored, dict) or not isinstance(stored.get("config"), dict):
        raise ValueError(f"{run / CONFIG} is not a deepsets config (no 'config' object)")
    return LabConfig.from_dict(stored["config"])


def stored_config(run: Path) -> LabConfig | None:
    """The settings stored in ``run``, or None when it holds no ``config.json``."""
    return read_config(run) if (Path(run) / CONFIG).is_file() else None


def as_flags(differences: dict[str, tuple]) -> str:
    """``{"epochs": (6, 8)}`` as the flags a user types: ``--epochs 6 -> 8``."""
    def value(v: object) -> str:
        return ",".join(map(str, v)) if isinstance(v, list) else str(v)

    return ", ".join(f"--{k.replace('_', '-')} {value(a)} -> {value(b)}"
                     for k, (a, b) in differences.items())


def prepare_run(run: Path, config: LabConfig | None, *, resume: bool = False,
                force: bool = False, progress: Progress | None = None) -> LabConfig:
    """Create or reopen the run folder and return the settings it runs with.

    - a new folder gets ``config`` (written to ``config.json`` at once, which
      also proves the folder is writable before any training starts);
    - a folder holding a run of the same settings continues it;
    - ``resume`` continues the stored run: with ``config`` None on its own
      settings, else ``config`` must have them (the device may differ);
    - a folder holding other settings is an error naming each difference;
    - ``force`` clears the folder's lab files first and starts over;
    - a checkpoint of other code (a plug-in edited since, ``outdated``) is removed, and
      ``progress`` told: that model trains again.
    """
    run = Path(run)
    if run.exists() and not run.is_dir():
        raise ValueError(f"--out {run} is a file, not a folder")
    stored = stored_config(run)
    if resume and stored is None:
        raise ValueError(f"nothing to resume: {run} holds no {CONFIG}")
    if config is None:
        if not resume:
            raise ValueError("no settings given")
        config = stored
    elif force:
        clear_run(run)
    elif stored is not None and not stored.same_results_as(config):
        hint = ("repeat the flags it was started with" if resume else
                "use --resume to continue it") + ", --force to start over, or another --out"
        raise ValueError(f"{run} holds a run with other settings "
                         f"({as_flags(stored.differences(config))}); {hint}")
    for name, why in outdated(run, config).items():
        checkpoint_path(run, name).unlink()
        (progress or Progress()).stage(f"{checkpoint_path(run, name).name} {why}: "
                                       "it trains again")
    try:
        run.mkdir(parents=True, exist_ok=True)
        for stale in run.glob(".*.tmp"):  # left by a run killed in the middle of a write
            stale.unlink()
        write_json(run / CONFIG, settings_record(config))
    except OSError as err:
        raise ValueError(f"cannot write to {run}: {err.strerror or err}") from None
    return config


def outdated(run: Path, config: LabConfig) -> dict[str, str]:
    """``{model: why}`` for each plug-in of ``config`` whose checkpoint in ``run`` is not
    that model as this run builds it from its code now (``mismatch``), or is unreadable.
    A built-in model's checkpoint follows from the settings, which ``prepare_run``
    compares: it is not loaded here (a sweep reopens thousands of run folders)."""
    found = {}
    for name in filter(is_plugin, config.models):
        path = checkpoint_path(run, name)
        if path.is_file():
            try:
                why = mismatch(load_checkpoint(path), name, config.model_args(name),
                               fingerprint(name))
            except CheckpointError as err:
                why = str(err).removeprefix(str(path)).strip()
            if why is not None:
                found[name] = why
    return found


def stored_models(run: Path) -> list[str]:
    """The models named in ``run``'s config.json, as written (none if it is unreadable)."""
    try:
        models = read_json(Path(run) / CONFIG)["config"]["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [m for m in models if isinstance(m, str)] if isinstance(models, list) else []


def clear_run(run: Path) -> None:
    """Remove the files a lab or a sweep's run writes (and nothing else) from ``run``: the
    checkpoints of the built-in models and of every model its settings name."""
    names = {*MODELS, *stored_models(run)}
    for name in (*OUTPUTS, FAILURE, *(checkpoint_path(run, m).name for m in names)):
        path = Path(run) / name
        if path.is_file():
            path.unlink()
