"""Progress callbacks: lower modules report, the CLI draws (DESIGN.md: they never print).

Loops are named by a ``key`` so several can run at once, e.g. DeepSets and
the LSTM training side by side in two processes. A worker process reports
through ``QueueProgress``; the parent replays its events with ``replay``.
"""

from __future__ import annotations

import time
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


class QueueProgress(Progress):
    """Progress of a worker process, sent to the parent through a queue.

    Steps are sent in bunches (every ``every`` seconds) so reporting costs
    nothing measurable even at thousands of steps per second.
    """

    def __init__(self, queue: Any, every: float = 0.2) -> None:
        self.queue, self.every = queue, every
        self.pending: dict[str, list[float]] = {}  # key -> [steps, loss sum, losses]
        self.last = time.monotonic()

    def _flush(self) -> None:
        for key, (n, loss_sum, losses) in self.pending.items():
            if n:
                self.queue.put(("advance", key, int(n), loss_sum / losses if losses else None))
        self.pending.clear()
        self.last = time.monotonic()

    def stage(self, text: str) -> None:
        self.queue.put(("stage", text))

    def start(self, key: str, desc: str, total: int, unit: str) -> None:
        self.queue.put(("start", key, desc, total, unit))

    def advance(self, key: str, n: int = 1, loss: float | None = None) -> None:
        entry = self.pending.setdefault(key, [0, 0.0, 0])
        entry[0] += n
        if loss is not None:
            entry[1] += loss
            entry[2] += 1
        if time.monotonic() - self.last > self.every:
            self._flush()

    def write(self, key: str, text: str) -> None:
        self._flush()
        self.queue.put(("write", key, text))

    def end(self, key: str) -> None:
        self._flush()
        self.queue.put(("end", key))


def replay(event: tuple, progress: Progress) -> None:
    """Call on ``progress`` what a ``QueueProgress`` event says."""
    kind, *args = event
    getattr(progress, kind)(*args)
