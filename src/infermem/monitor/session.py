"""`Monitor`: what a program's memory does while it runs, phase by phase.

    with infermem.Monitor(interval_ms=2) as mon:
        with mon.phase("load"):
            sess = onnxruntime.InferenceSession(path)
        with mon.phase("steady"):
            for x in batches:
                with mon.iteration():
                    sess.run(None, {"x": x})
    mon.timeline          # table: t_s, rss_bytes, uss_bytes, py_bytes, phase
    mon.phases            # per-phase peak, growth, duration
    mon.leak()            # slope of post-iteration RSS, with a verdict

A helper process samples RSS (a thread where it cannot, or with tracemalloc,
whose Python heap only this interpreter can read); phase and iteration boundaries are measured
synchronously (see `probe`), so short phases get exact peaks.  When the
program runs under `infermem monitor -- CMD`, the same events are also written
to the file the parent names in the environment, and the parent's timeline
shows them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BadInput
from .events import (
    ERROR,
    INFO,
    ITER_END,
    ITER_START,
    PHASE_END,
    PHASE_START,
    Event,
    sink_from_env,
)
from .probe import Probe

MONITOR_PHASE = "__monitor__"  # brackets a whole Monitor; not reported as a phase


class Monitor:
    """Samples this process's memory and records named phases and iterations.

    interval_ms: sampling period (>= 1 ms; default 5); None samples nothing and
        records only the synchronous phase/iteration measurements.
    uss_interval_ms: also sample USS at this (slower) period; it costs about a
        millisecond of GIL time per reading, so it is off unless asked.
    tracemalloc: trace Python allocations (per-phase Python peak); costly.
    keep_events: keep events in memory for `result()` (about 200 bytes each,
        two per iteration: small, but the monitor's own growth); a child whose
        events only go to its parent passes False so its memory stays flat.
    """

    def __init__(
        self,
        interval_ms: float | None = 5.0,
        *,
        uss_interval_ms: float | None = None,
        tracemalloc: bool = False,
        keep_events: bool = True,
    ):
        if interval_ms is not None and interval_ms < 1:
            raise BadInput(f"interval_ms must be at least 1, got {interval_ms}")
        if uss_interval_ms is not None and uss_interval_ms < 1:
            raise BadInput(f"uss_interval_ms must be at least 1, got {uss_interval_ms}")
        self.interval_ms = interval_ms
        self.uss_interval_ms = uss_interval_ms
        self.trace_python = tracemalloc
        self.keep_events = keep_events
        self.events: list[Event] = []
        self.t0: float | None = None
        self._probe: Probe | None = None
        self._sampler = None
        self._samples = None
        self._sink = None
        self._failed_in: str | None = None  # innermost phase an exception left

    # -- lifecycle -------------------------------------------------------------
    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and not isinstance(exc, KeyboardInterrupt | SystemExit):
            where = self._failed_in or ""
            self._emit(ERROR, where, message=str(exc), error=type(exc).__name__)
        self.stop()

    def start(self) -> Monitor:
        self._probe = Probe(trace_python=self.trace_python)
        self._sink = sink_from_env()
        sampler = None
        if self.interval_ms is not None:
            sampler = _make_sampler(self.interval_ms, self.uss_interval_ms, self.trace_python)
        self.t0 = time.monotonic()
        self._sampler = _start(sampler) if sampler else None
        self._emit(PHASE_START, MONITOR_PHASE)
        return self

    def stop(self) -> None:
        if self._probe is None:
            return
        self._emit(PHASE_END, MONITOR_PHASE)
        if self._sampler is not None:
            self._samples = self._sampler.stop()
            self._sampler = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        self._probe.close()
        self._probe = None

    # -- marking ---------------------------------------------------------------
    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Everything inside is the phase `name`; phases may nest."""
        if not name or name.startswith("__"):
            raise BadInput(f"bad phase name {name!r}")
        self._emit(PHASE_START, name)
        try:
            yield
        except BaseException:
            self._failed_in = self._failed_in or name
            raise
        finally:
            self._emit(PHASE_END, name)

    @contextmanager
    def iteration(self, name: str = "run") -> Iterator[None]:
        """One repetition of the steady-state work; the leak verdict uses these."""
        self._emit(ITER_START, name, quick=True)
        try:
            yield
        finally:
            self._emit(ITER_END, name)

    def info(self, key: str, value: str) -> None:
        """A fact for the report (runtime version, input shapes...)."""
        self._emit(INFO, key, message=str(value))

    def _emit(self, kind: str, name: str, quick: bool = False, **extra) -> None:
        if self._probe is None:
            raise BadInput("Monitor is not running: use it as `with Monitor() as mon:`")
        r = self._probe.quick() if quick else self._probe.read()
        event = Event(
            kind, name, time.monotonic(), os.getpid(), r.rss, r.hwm, r.py, r.py_peak, **extra
        )
        if self.keep_events:
            self.events.append(event)
        if self._sink is not None:
            self._sink.write(event)

    # -- results ---------------------------------------------------------------
    def result(self):
        """Everything measured so far, as a `MonitorResult`."""
        from .result import build_result
        from .sampler import Samples

        samples = self._samples
        if samples is None:
            samples = self._sampler.samples() if self._sampler else Samples.empty()
        return build_result(samples, self.events, self.t0 or time.monotonic())

    @property
    def timeline(self):
        return self.result().timeline

    @property
    def phases(self):
        return self.result().phases

    @property
    def peak_rss_bytes(self) -> int:
        return self.result().peak_rss_bytes

    def leak(self, skip: int = 0, **kwargs):
        """Leak verdict over the post-iteration RSS, after `skip` warm-up iterations."""
        from .leak import detect_leak

        return detect_leak(self.result().iterations.end_rss[skip:], **kwargs)


def _make_sampler(interval_ms: float, uss_interval_ms: float | None, trace_python: bool):
    """The helper-process sampler (no GIL taken from the program) unless tracing
    Python allocations, which only a thread in this interpreter can read.
    Imported here so numpy loads before the clock starts."""
    from .procsampler import ProcessSampler
    from .sampler import Sampler

    uss = uss_interval_ms / 1e3 if uss_interval_ms else None
    if trace_python:
        return Sampler(None, interval_ms / 1e3, uss, trace_python=True)
    return ProcessSampler(interval_ms / 1e3, uss)


def _start(sampler):
    """Start `sampler`; a helper process that cannot start falls back to a thread."""
    try:
        return sampler.start()
    except OSError:
        from .sampler import Sampler

        return Sampler(None, sampler.interval_s, sampler.uss_interval_s).start()
