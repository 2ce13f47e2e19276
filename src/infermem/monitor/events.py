"""Phase and iteration events, and how they travel from a child to its parent.

A monitored program marks *when* things happen (a phase starts, an iteration
ends) and measures its own memory at that instant.  Inside one process the
events stay in a list; when `infermem monitor` runs a program, the environment
variable `INFERMEM_MONITOR_EVENTS` names a file that every `Monitor` in the
child appends JSON lines to, and the parent, which samples the child's RSS from
outside, reads them back.  Times are `time.monotonic()`, one clock for all
processes on the machine, so the parent can line events up with its samples.

Only the standard library is used here: a child in a bare environment must be
able to report that its runtime is missing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

ENV_VAR = "INFERMEM_MONITOR_EVENTS"
_STR = json.JSONEncoder(ensure_ascii=True).encode

PHASE_START = "phase_start"
PHASE_END = "phase_end"
ITER_START = "iter_start"
ITER_END = "iter_end"
ERROR = "error"
INFO = "info"


@dataclass(frozen=True, slots=True)
class Event:
    """One instant in a monitored program.

    `hwm` is the kernel's exact peak RSS since the previous event that carried
    one (None where the platform cannot reset its high-water mark, and on the
    quick iteration-start events), so peaks shorter than the sampling interval
    are still caught.  `py`/`py_peak`: tracemalloc current size and peak over
    the same interval, when tracing.
    """

    kind: str
    name: str
    t: float
    pid: int
    rss: int | None = None
    hwm: int | None = None
    py: int | None = None
    py_peak: int | None = None
    message: str | None = None
    error: str | None = None

    def to_json(self) -> str:
        """One JSON object; written by hand because json.dumps of a dict costs
        more than the measurement itself in a tight iteration loop."""
        parts = [f'"kind":{_STR(self.kind)},"name":{_STR(self.name)},"t":{self.t!r},'
                 f'"pid":{self.pid}']  # fmt: skip
        for key in ("rss", "hwm", "py", "py_peak"):
            v = getattr(self, key)
            if v is not None:
                parts.append(f'"{key}":{int(v)}')
        for key in ("message", "error"):
            v = getattr(self, key)
            if v is not None:
                parts.append(f'"{key}":{_STR(v)}')
        return "{" + ",".join(parts) + "}"

    @staticmethod
    def from_json(line: str) -> Event:
        d = json.loads(line)
        return Event(**{k: d.get(k) for k in Event.__dataclass_fields__})


class EventSink:
    """Append events as JSON lines, one write(2) each: a crash loses none, and
    O_APPEND keeps lines whole if several processes share the file."""

    def __init__(self, path: str):
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, event: Event) -> None:
        os.write(self._fd, (event.to_json() + "\n").encode())

    def close(self) -> None:
        os.close(self._fd)


def sink_from_env() -> EventSink | None:
    path = os.environ.get(ENV_VAR)
    return EventSink(path) if path else None


def read_events(path: str) -> list[Event]:
    """Every complete line of an events file; a torn last line is dropped."""
    events = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                try:
                    events.append(Event.from_json(line))
                except (ValueError, TypeError):
                    continue
    except FileNotFoundError:
        return []
    return events
