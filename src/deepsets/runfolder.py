"""Files of a run folder (see DESIGN.md), written atomically, and checkpoints.

Every write goes to a temporary file in the same folder and is then moved
into place with ``os.replace``, so an interrupted run never leaves a
half-written file: a reader sees the old version or the new one.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deepsets.models import SetModel, build_model

CONFIG = "config.json"
HISTORY = "history.json"
RESULTS = "results.json"
RESULTS_CSV = "results.csv"
REPORT = "report.md"
ANALYSIS = "analysis.json"


# mkstemp creates files readable by the owner only; give results the usual mode
_UMASK = os.umask(0)
os.umask(_UMASK)


class CheckpointError(ValueError):
    """A checkpoint that is missing, unsafe, corrupt or of another model."""


def checkpoint_path(run: Path, model_name: str) -> Path:
    return Path(run) / f"{model_name}.pt"


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


def save_checkpoint(path: Path, model: SetModel, name: str, **extra: Any) -> None:
    """DESIGN.md's checkpoint dict: model, model_args, name, plus optimizer, epoch, config..."""
    state = {"model": model.state_dict(), "model_name": name,
             "model_args": model.model_args, **extra}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


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
    return state


def load_model(path: Path, expect_name: str | None = None,
               expect_args: dict[str, int] | None = None) -> tuple[SetModel, dict[str, Any]]:
    """The model of a checkpoint with its weights, and the checkpoint dict."""
    state = load_checkpoint(path, expect_name)
    args = state["model_args"]
    if expect_args is not None and any(args.get(k) != v for k, v in expect_args.items()):
        raise CheckpointError(f"{path} holds a model with {args}, this run needs "
                              f"{expect_args}")
    try:
        model = build_model(state["model_name"], **args)
        model.load_state_dict(state["model"])
    except (TypeError, ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0][:200]
        raise CheckpointError(f"{path} does not match a {state['model_name']!r} model "
                              f"with {args}: {reason}") from None
    return model, state
