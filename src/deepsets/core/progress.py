"""Progress callbacks: lower modules report and never print; ``Bars`` draws them.

Loops are named by a ``key`` so several can run at once, e.g. DeepSets and
the LSTM training side by side in two processes. A worker process reports
through ``QueueProgress``; the parent replays its events with ``replay``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any


class Progress:
    """What long work reports. This base class is silent."""

    def stage(self, text: str) -> None:
        """A new phase of the work starts, e.g. "generating data"."""

    def start(self, key: str, desc: str, total: int, unit: str) -> None:
        """Loop ``key`` of ``total`` items starts."""

    def advance(self, key: str, n: int = 1, loss: float | None = None) -> None:
        """``n`` items of loop ``key`` are done; a training loop reports its mean batch loss."""

    def write(self, key: str, text: str) -> None:
        """A line of news about loop ``key``, e.g. an epoch's summary."""

    def end(self, key: str) -> None:
        """Loop ``key`` is done."""

    def flush(self) -> None:
        """Pass on anything held back (a worker's bunched steps)."""

    def saved(self, path: Path) -> None:
        """The run-folder file ``path`` was just written whole (a checkpoint, results)."""


class QueueProgress(Progress):
    """Progress of a worker process, sent to the parent through a queue as
    ``(tag, event)`` pairs; with ``ship_files``, each saved file's bytes too.

    Steps are sent in bunches (every ``every`` seconds) so reporting costs
    nothing measurable even at thousands of steps per second.
    """

    def __init__(self, queue: Any, every: float = 0.2, tag: str | None = None,
                 ship_files: bool = False, report: bool = True) -> None:
        self.queue, self.every, self.tag = queue, every, tag
        self.ship_files, self.report = ship_files, report
        self.pending: dict[str, list[float]] = {}  # key -> [steps, loss sum, losses]
        self.last = time.monotonic()

    def send(self, *event: Any) -> None:
        if self.report or event[0] == "saved":
            self.queue.put((self.tag, event))

    def flush(self) -> None:
        """Send the steps counted since the last send."""
        for key, (n, loss_sum, losses) in self.pending.items():
            if n:
                self.send("advance", key, int(n), loss_sum / losses if losses else None)
        self.pending.clear()
        self.last = time.monotonic()

    def saved(self, path: Path) -> None:
        if self.ship_files:
            self.send("saved", Path(path).name, Path(path).read_bytes())

    def stage(self, text: str) -> None:
        self.send("stage", text)

    def start(self, key: str, desc: str, total: int, unit: str) -> None:
        self.send("start", key, desc, total, unit)

    def advance(self, key: str, n: int = 1, loss: float | None = None) -> None:
        entry = self.pending.setdefault(key, [0, 0.0, 0])
        entry[0] += n
        if loss is not None:
            entry[1] += loss
            entry[2] += 1
        if time.monotonic() - self.last > self.every:
            self.flush()

    def write(self, key: str, text: str) -> None:
        self.flush()
        self.send("write", key, text)

    def end(self, key: str) -> None:
        self.flush()
        self.send("end", key)


def replay(event: tuple, progress: Progress) -> None:
    """Call on ``progress`` what a ``QueueProgress`` event says."""
    kind, *args = event
    getattr(progress, kind)(*args)


class Bars(Progress):
    """tqdm bars on stderr, one per running loop; without a terminal, only the news lines
    unless ``always`` (a notebook: plain-text bars, no widgets)."""

    def __init__(self, always: bool = False) -> None:
        from tqdm import tqdm

        self.tqdm = tqdm
        self.disable = False if always else None  # None: tqdm's own test for a terminal
        self.bars: dict[str, object] = {}
        self.loss: dict[str, float] = {}  # running (exponentially averaged) loss per loop

    def stage(self, text: str) -> None:
        self.tqdm.write(f"{text} ...", file=sys.stderr)

    def start(self, key: str, desc: str, total: int, unit: str) -> None:
        self.bars[key] = self.tqdm(total=total, desc=desc, unit=unit, file=sys.stderr,
                                   dynamic_ncols=True, disable=self.disable, mininterval=0.25,
                                   position=len(self.bars), leave=True)

    def advance(self, key: str, n: int = 1, loss: float | None = None) -> None:
        bar = self.bars[key]
        bar.update(n)
        if loss is not None:
            self.loss[key] = loss if key not in self.loss else 0.98 * self.loss[key] + 0.02 * loss
            if bar.n % 50 < n:
                bar.set_postfix(loss=f"{self.loss[key]:.4f}", refresh=False)

    def write(self, key: str, text: str) -> None:
        self.tqdm.write(text, file=sys.stderr)

    def end(self, key: str) -> None:
        self.bars.pop(key).close()
        self.loss.pop(key, None)
