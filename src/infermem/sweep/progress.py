"""Progress on stderr: models done / total, failures, rate, ETA.

One line, redrawn in place on a terminal; elsewhere (a CI log, a file) a
line at most every `every` seconds.  The rate counts only models evaluated
in this run (not cache hits), so the ETA is for the work still to do.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (
        f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")


class Progress:
    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None,
                 every: float = 5.0):
        self.total, self.enabled = total, enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.2 if self.tty else every
        self.done = self.failed = self.cached = 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def line(self) -> str:
        evaluated = self.done - self.cached
        elapsed = time.monotonic() - self.t0
        text = f"sweep: {self.done}/{self.total} models, {self.failed} failed"
        if self.cached:
            text += f", {self.cached} cached"
        if evaluated and elapsed > 0:
            rate = evaluated / elapsed
            text += f", {rate * 60:.1f} models/min"
            if self.done < self.total:
                text += f", ETA {_duration((self.total - self.done) / rate)}"
        return text

    def update(self, result: dict, cached: bool = False) -> None:
        self.done += 1
        self.failed += result.get("status") != "ok"
        self.cached += cached
        now = time.monotonic()
        if self.enabled and (now - self.last >= self.every or self.done == self.total):
            self.last = now
            self._show()

    def _show(self) -> None:
        end = "\r" if self.tty and self.done < self.total else "\n"
        pad = "\x1b[K" if self.tty else ""
        print(self.line() + pad, end=end, file=self.stream, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty and self.done < self.total:
            print(file=self.stream)
