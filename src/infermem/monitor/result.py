"""One monitored run, assembled: timeline, phases, iterations, peak, leak, error.

The overall peak is the largest RSS known from any source: the samples, the
RSS and exact kernel peaks carried by events, and the kernel's high-water
mark of the whole child process when the parent could read it at exit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .events import ERROR, INFO, Event
from .leak import DEFAULT_MIN_RATE, LeakVerdict, detect_leak, detect_trend
from .phases import Iterations, PhaseStats, iteration_stats, phase_intervals, phase_stats
from .sampler import Samples
from .timeline import Timeline, label_phases


@dataclass(frozen=True)
class RunError:
    """Why a monitored run stopped early.  kind: "bad_input" or "failure"."""

    kind: str
    message: str
    phase: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "phase": self.phase}


@dataclass(frozen=True)
class MonitorResult:
    timeline: Timeline
    phases: tuple[PhaseStats, ...]
    iterations: Iterations
    peak_rss_bytes: int
    sampled_peak_rss_bytes: int
    peak_uss_bytes: int | None
    duration_s: float
    info: dict[str, str] = field(default_factory=dict)
    leak: LeakVerdict | None = None
    error: RunError | None = None
    exit_code: int | None = None
    target: dict = field(default_factory=dict)
    leak_uss: LeakVerdict | None = None  # time verdicts: the same test on sampled USS
    allocations: object | None = None  # tracealloc.AllocationGrowth, when traced

    def phase(self, name: str) -> PhaseStats | None:
        """The first phase called `name`, or None."""
        return next((p for p in self.phases if p.name == name), None)

    def with_leak(self, skip: int = 0, **kwargs) -> MonitorResult:
        return replace(self, leak=detect_leak(self.iterations.end_rss[skip:], **kwargs))

    def with_trend(
        self, warmup_s: float | None = None, min_rate: float = DEFAULT_MIN_RATE, **kwargs
    ) -> MonitorResult:
        """The leak verdict over time, for a program that marked no iterations:
        RSS from every sample, USS where at least a few were read."""
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        tl = self.timeline
        rss = detect_trend(tl.t_s, tl.rss_bytes, warmup_s=warmup_s, min_rate=min_rate, **kwargs)
        uss = None
        if (tl.uss_bytes >= 0).sum() >= 10:
            uss = detect_trend(tl.t_s, tl.uss_bytes, warmup_s=warmup_s, min_rate=min_rate,
                               series="uss", **kwargs)  # fmt: skip
        return replace(self, leak=rss, leak_uss=uss)

    def to_dict(self, timeline: bool = True) -> dict:
        d = {
            "target": self.target,
            "ok": self.error is None,
            "exit_code": self.exit_code,
            "error": self.error.to_dict() if self.error else None,
            "duration_s": round(self.duration_s, 6),
            "peak_rss_bytes": self.peak_rss_bytes,
            "sampled_peak_rss_bytes": self.sampled_peak_rss_bytes,
            "peak_uss_bytes": self.peak_uss_bytes,
            "phases": [p.to_dict() for p in self.phases],
            "iterations": self.iterations.to_dict(),
            "leak": self.leak.to_dict() if self.leak else None,
            "leak_uss": self.leak_uss.to_dict() if self.leak_uss else None,
            "allocations": self.allocations.to_dict() if self.allocations else None,
            "info": self.info,
            "samples": len(self.timeline),
        }
        if timeline:
            d["timeline"] = self.timeline.to_dict()
        return d


def _peak(samples: Samples, events: list[Event], kernel_peak: int | None) -> int:
    known = [int(samples.rss.max())] if len(samples.rss) else []
    known += [e.rss for e in events if e.rss is not None]
    known += [e.hwm for e in events if e.hwm is not None]
    if kernel_peak:
        known.append(kernel_peak)
    return max(known) if known else 0


def _last_error(events: list[Event]) -> RunError | None:
    errs = [e for e in events if e.kind == ERROR]
    if not errs:
        return None
    e = errs[-1]
    kind = "bad_input" if e.error == "BadInput" else "failure"
    message = e.message if e.error in ("BadInput", "Failure") else f"{e.error}: {e.message}"
    return RunError(kind, message, e.name or None)


def build_result(
    samples: Samples,
    events: list[Event],
    t0: float,
    *,
    kernel_peak: int | None = None,
    end_t: float | None = None,
) -> MonitorResult:
    """Combine samples (absolute monotonic times) and events into a result."""
    phases = tuple(p for p in phase_stats(events, samples, t0) if not p.name.startswith("__"))
    last = [end_t or 0.0]
    last += [float(samples.t[-1])] if len(samples.t) else []
    last += [events[-1].t] if events else []
    t_rel = samples.t - t0
    timeline = Timeline(
        t_rel,
        samples.rss,
        samples.uss,
        samples.py,
        label_phases(t_rel, phase_intervals(list(phases))),
    )
    uss = samples.uss[samples.uss >= 0]
    return MonitorResult(
        timeline=timeline,
        phases=phases,
        iterations=iteration_stats(events, samples, t0),
        peak_rss_bytes=_peak(samples, events, kernel_peak),
        sampled_peak_rss_bytes=int(samples.rss.max()) if len(samples.rss) else 0,
        peak_uss_bytes=int(uss.max()) if len(uss) else None,
        duration_s=max(max(last) - t0, 0.0),
        info={e.name: e.message or "" for e in events if e.kind == INFO},
        error=_last_error(events),
    )
