"""What long work tells its caller, in three small interfaces: ``Progress`` reports (the
CLI's ``Bars`` draws it), ``Outbox`` takes each run-folder file once it is written whole
(a worker ships it to the caller), ``Stop`` is asked at every training step.

Loops are named by a ``key`` so several can run at once. A worker process reports through
``QueueProgress`` and ships files through ``QueueOutbox``; the caller replays both.
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

    def tally(self, key: str, text: str) -> None:
        """A line that loop ``key``'s count already tells (a sweep's "done: RUN"): where
        a bar shows the count, the line is left out."""
        self.write(key, text)

    def end(self, key: str) -> None:
        """Loop ``key`` is done."""

    def flush(self) -> None:
        """Pass on anything held back (a worker's bunched steps)."""


class Outbox:
    """Where the run-folder files a job writes go. This base leaves them where they are."""

    def saved(self, path: Path) -> None:
        """The file ``path`` was just written whole (a checkpoint, results)."""


class Stop:
    """Asked at every training step whether to stop. This base never stops."""

    def check(self) -> None:
        """Raise KeyboardInterrupt when the job must stop (a trainer keeps its last
        checkpoint, as after Ctrl-C)."""


class EventStop(Stop):
    """Stops once ``event`` is set: a thread job whose caller left."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def check(self) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt


class QueueOutbox(Outbox):
    """A worker's outbox: each saved file's bytes go to the caller through a queue, as a
    ``(tag, ("saved", name, bytes))`` pair."""

    def __init__(self, queue: Any, tag: str | None = None) -> None:
        self.queue, self.tag = queue, tag

    def saved(self, path: Path) -> None:
        self.queue.put((self.tag, ("saved", Path(path).name, Path(path).read_bytes())))


class QueueProgress(Progress):
    """Progress of a worker, sent to the caller through a queue as ``(tag, event)`` pairs.

    Steps are sent in bunches (every ``every`` seconds) so reporting costs
    nothing measurable even at thousands of steps per second.
    """

    def __init__(self, queue: Any, every: float = 0.2, tag: str | None = None) -> None:
        self.queue, self.every, self.tag = queue, every, tag
        self.pending: dict[str, list[float]] = {}  # key -> [steps, loss sum, losses]
        self.last = time.monotonic()

    def send(self, *event: Any) -> None:
        self.queue.put((self.tag, event))

    def flush(self) -> None:
        """Send the steps counted since the last send."""
        for key, (n, loss_sum, losses) in self.pending.items():
            if n:
                self.send("advance", key, int(n), loss_sum / losses if losses else None)
        self.pending.clear()
        self.last = time.monotonic()

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

    def tally(self, key: str, text: str) -> None:
        if getattr(self.bars.get(key), "disable", True):  # no terminal: lines in a log
            self.write(key, text)

    def end(self, key: str) -> None:
        self.bars.pop(key).close()
        self.loss.pop(key, None)
