"""What a sweep folder or a lab run folder holds, as the API gives it back: ``Sweep`` and
``Run``, their tables as pandas DataFrames (pandas imported when a table is read), their
figures as PNG files that Jupyter shows, their Markdown as text that Jupyter renders.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deepsets.core.checks import did_you_mean

if TYPE_CHECKING:
    import pandas as pd


class Markdown(str):
    """Text in Markdown, shown as such by Jupyter."""

    def _repr_markdown_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Figure:
    """A figure that a run wrote as a PNG: Jupyter shows it, ``path`` is the file."""

    path: Path

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"Figure({os.path.relpath(self.path)!r})"


def table(path: Path) -> pd.DataFrame:
    """A CSV the package wrote: an empty cell is missing, ``n/a`` stays a status."""
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, na_values=[""])


@dataclass(frozen=True)
class Sweep:
    """A sweep folder's tables, as ``compare`` ran it or ``load`` read it."""

    folder: Path
    #: ``{run: its error in one line}`` of the runs that failed in this call
    failed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder).resolve())

    @property
    def results(self) -> pd.DataFrame:
        """results.csv: one row per task, model, seed and test size, with each metric
        (``acc``, ``mae``; empty where there is none), the status (``ok``, ``failed``,
        ``n/a``) and the error; the model's parts (``phi``, ``pooling``, ``readout``)."""
        return table(self.folder / "results.csv")

    @property
    def runs(self) -> pd.DataFrame:
        """reach.csv: one row per finished run, its reach and how far it learned the
        training sizes (docs/benchmark.md)."""
        return table(self.folder / "reach.csv")

    @property
    def reach(self) -> pd.DataFrame:
        """Model x task: the median reach over seeds (of an even number, the lower middle
        one, as summary.md), the lowest and the highest; columns ``(task, "median" |
        "low" | "high")``, in the sweep's order. A reach is a set size: the largest up to
        which the model meets the task (docs/benchmark.md)."""
        from deepsets.sweep.reach import median_reach

        runs = self.runs
        cells = runs.groupby(["model", "task"], sort=False)["reach"].agg(
            median=median_reach, low="min", high="max")
        wide = cells.unstack("task").swaplevel(axis=1)
        order = [(t, s) for t in runs["task"].unique() for s in ("median", "low", "high")]
        return wide.reindex(index=runs["model"].unique(), columns=order)

    @property
    def summary(self) -> Markdown:
        """summary.md: the reach table, then each task's scores by size."""
        return Markdown((self.folder / "summary.md").read_text())

    def plot(self, task: str | None = None) -> Figure:
        """The figure of ``task``'s curves by set size (mean and range over seeds); without
        a task, the reach of every model on every task (reach.png)."""
        from deepsets.sweep.summary import figure_name

        if task is None:
            return Figure(self.folder / "reach.png")
        tasks = list(self.runs["task"].unique())
        if task not in tasks:
            raise ValueError(f"task {task!r} is not in this sweep{did_you_mean(task, tasks)}"
                             "; its tasks: " + ", ".join(tasks))
        return Figure(self.folder / figure_name(task))


@dataclass(frozen=True)
class Run:
    """A lab run folder's tables, as ``lab`` ran it or ``load`` read it."""

    folder: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder).resolve())

    @property
    def results(self) -> pd.DataFrame:
        """results.csv: one row per model and test size, with each metric."""
        return table(self.folder / "results.csv")

    @property
    def history(self) -> pd.DataFrame:
        """history.json: one row per model and epoch, its training loss and seconds."""
        import pandas as pd

        history = json.loads((self.folder / "history.json").read_text())
        return pd.DataFrame([{"model": m, **epoch} for m, epochs in history.items()
                             for epoch in epochs])

    @property
    def analysis(self) -> dict:
        """analysis.json: the handout's questions answered, and the drift where it
        applies."""
        return json.loads((self.folder / "analysis.json").read_text())

    @property
    def report(self) -> Markdown:
        """report.md: the run in words, with its tables."""
        return Markdown((self.folder / "report.md").read_text())

    def plot(self, name: str = "accuracy") -> Figure:
        """One of the run's figures: ``accuracy``, ``mae`` or ``drift``."""
        names = sorted(p.stem for p in self.folder.glob("*.png"))
        if name not in names:
            raise ValueError(f"{self.folder} has no figure {name!r}"
                             f"{did_you_mean(name, names)}; it has " + ", ".join(names))
        return Figure(self.folder / f"{name}.png")
