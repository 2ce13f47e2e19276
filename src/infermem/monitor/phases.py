"""Per-phase and per-iteration statistics from samples plus events.

A phase's peak is the largest of: the RSS measured at its start and end, the
exact kernel peaks carried by the events inside it (see `probe`), and the
sampled RSS between its start and end.  Growth is RSS at the end minus RSS at
the start: what the phase left behind.  A phase that never ended (the program
crashed inside it) is closed at the last thing seen and marked incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .events import ITER_END, ITER_START, PHASE_END, PHASE_START, Event
from .leak import median
from .sampler import Samples


@dataclass(frozen=True)
class PhaseStats:
    name: str
    start_s: float
    end_s: float
    start_rss_bytes: int
    end_rss_bytes: int
    peak_rss_bytes: int
    py_peak_bytes: int | None = None
    complete: bool = True

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def growth_bytes(self) -> int:
        return self.end_rss_bytes - self.start_rss_bytes

    @property
    def peak_delta_bytes(self) -> int:
        """How far above its starting RSS the phase went."""
        return self.peak_rss_bytes - self.start_rss_bytes

    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "duration_s": round(self.duration_s, 6),
            "start_rss_bytes": self.start_rss_bytes,
            "end_rss_bytes": self.end_rss_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "growth_bytes": self.growth_bytes,
            "peak_delta_bytes": self.peak_delta_bytes,
            "complete": self.complete,
        }
        if self.py_peak_bytes is not None:
            d["py_peak_bytes"] = self.py_peak_bytes
        return d


@dataclass(frozen=True)
class Iterations:
    """Per-iteration columns (one entry per completed `Monitor.iteration()`)."""

    start_s: np.ndarray
    end_s: np.ndarray
    start_rss: np.ndarray
    end_rss: np.ndarray
    peak_rss: np.ndarray

    def __len__(self) -> int:
        return len(self.end_rss)

    @property
    def peak_delta(self) -> np.ndarray:
        return self.peak_rss - self.start_rss

    def to_dict(self) -> dict:
        if not len(self):
            return {"count": 0}
        delta, dur = self.peak_delta, self.end_s - self.start_s
        return {
            "count": len(self),
            "median_duration_s": float(median(dur)),
            "peak_delta_bytes_max": int(delta.max()),
            "peak_delta_bytes_median": int(median(delta)),
            "post_rss_bytes": self.end_rss.tolist(),
        }


@dataclass(frozen=True)
class _Interval:
    name: str
    i0: int
    i1: int | None  # index of the closing event, None if never closed


def _pair(events: list[Event], open_kind: str, close_kind: str) -> list[_Interval]:
    """Match start/end events by name, innermost first; unmatched starts stay open."""
    out: list[_Interval] = []
    stack: list[tuple[str, int]] = []
    for i, e in enumerate(events):
        if e.kind == open_kind:
            stack.append((e.name, i))
        elif e.kind == close_kind:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == e.name:
                    out.append(_Interval(e.name, stack[k][1], i))
                    del stack[k]
                    break
    out += [_Interval(name, i0, None) for name, i0 in stack]
    return sorted(out, key=lambda iv: iv.i0)


def _span_peak(events: list[Event], iv: _Interval, samples: Samples, t1: float) -> int:
    """Largest RSS known inside the interval: boundaries, exact marks, samples."""
    t0 = events[iv.i0].t
    stop = len(events) if iv.i1 is None else iv.i1 + 1
    known = [e.rss for e in events[iv.i0 : stop] if e.rss is not None]
    known += [e.hwm for e in events[iv.i0 + 1 : stop] if e.hwm is not None]
    inside = samples.rss[(samples.t >= t0) & (samples.t <= t1)]
    if len(inside):
        known.append(int(inside.max()))
    return max(known) if known else 0


def _rss_at(samples: Samples, t: float, fallback: int | None) -> int:
    """Last sampled RSS at or before t, where no event measured it."""
    if fallback is not None:
        return fallback
    k = int(np.searchsorted(samples.t, t, side="right")) - 1
    return int(samples.rss[k]) if k >= 0 and len(samples.rss) else 0


def _close(events: list[Event], iv: _Interval, samples: Samples) -> tuple[float, int | None]:
    """End time and end RSS; an open interval ends at the last thing seen."""
    if iv.i1 is not None:
        return events[iv.i1].t, events[iv.i1].rss
    last_t = max([events[-1].t] + ([float(samples.t[-1])] if len(samples.t) else []))
    return last_t, None


def phase_stats(events: list[Event], samples: Samples, t0: float) -> list[PhaseStats]:
    """One PhaseStats per phase, in the order the phases started."""
    out = []
    for iv in _pair(events, PHASE_START, PHASE_END):
        start = events[iv.i0]
        t1, end_rss = _close(events, iv, samples)
        stop = len(events) if iv.i1 is None else iv.i1 + 1
        py = [e.py_peak for e in events[iv.i0 + 1 : stop] if e.py_peak is not None]
        out.append(
            PhaseStats(
                name=iv.name,
                start_s=start.t - t0,
                end_s=t1 - t0,
                start_rss_bytes=_rss_at(samples, start.t, start.rss),
                end_rss_bytes=_rss_at(samples, t1, end_rss),
                peak_rss_bytes=_span_peak(events, iv, samples, t1),
                py_peak_bytes=max(py) if py else None,
                complete=iv.i1 is not None,
            )
        )
    return out


def iteration_stats(events: list[Event], samples: Samples, t0: float) -> Iterations:
    """Completed iterations only: a crashed one has no post-iteration RSS."""
    rows = []
    for iv in _pair(events, ITER_START, ITER_END):
        if iv.i1 is None:
            continue
        a, b = events[iv.i0], events[iv.i1]
        start_rss, end_rss = _rss_at(samples, a.t, a.rss), _rss_at(samples, b.t, b.rss)
        rows.append((a.t - t0, b.t - t0, start_rss, end_rss, _span_peak(events, iv, samples, b.t)))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 5
    return Iterations(
        np.asarray(cols[0], dtype=np.float64),
        np.asarray(cols[1], dtype=np.float64),
        *(np.asarray(c, dtype=np.int64) for c in cols[2:]),
    )


def phase_intervals(phases: list[PhaseStats]) -> list[tuple[str, float, float]]:
    return [(p.name, p.start_s, p.end_s) for p in phases]
