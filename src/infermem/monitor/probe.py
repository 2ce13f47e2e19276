"""Synchronous measurements of this process at an event: RSS, exact peak, Python heap.

The sampler thread sees memory every few milliseconds; a 50 us inference is
invisible to it.  So at every phase or iteration boundary the process measures
itself: current RSS, and the kernel's high-water mark (`VmHWM`) since the
previous boundary, which Linux lets a process reset by writing "5" to
`/proc/self/clear_refs`.  The peak of any interval between two events is thus
exact, whatever the sampling interval.  Resetting the mark lowers what
`getrusage` later reports for this process, which is why every event carries
the mark it cleared: nothing is lost, it is moved into the events.  (Two
Monitors running at once in one process would clear each other's marks: use
one, with nested phases.)

An iteration's start needs only the current RSS (`quick`: /proc/self/statm,
a few microseconds, no reset); its end reads and resets the mark, which then
covers the iteration and the loop's own gap before it.  Standard library only
on Linux (descriptors kept open: a full reading costs ~20 us); psutil is a
fallback elsewhere.
"""

from __future__ import annotations

import os
import re
import sys
import tracemalloc
from dataclasses import dataclass

_STATUS = "/proc/self/status"
_STATM = "/proc/self/statm"
_CLEAR = "/proc/self/clear_refs"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_RSS_RE = re.compile(rb"VmRSS:\s+(\d+) kB")
_HWM_RE = re.compile(rb"VmHWM:\s+(\d+) kB")


@dataclass(frozen=True)
class Reading:
    rss: int | None
    hwm: int | None
    py: int | None
    py_peak: int | None


class Probe:
    """Reads this process's memory at an event and resets the interval peaks."""

    def __init__(self, trace_python: bool = False):
        self._status = _open(_STATUS, os.O_RDONLY)
        self._statm = _open(_STATM, os.O_RDONLY)
        self._clear = _open(_CLEAR, os.O_WRONLY) if sys.platform.startswith("linux") else None
        self._reset_ok = self._clear is not None and self._reset()
        self._trace = trace_python
        self._started_tracing = False
        if trace_python and not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_tracing = True

    @property
    def exact_peaks(self) -> bool:
        return self._reset_ok

    def quick(self) -> Reading:
        """Current RSS only; peaks keep accumulating until the next `read`."""
        if self._statm is None:
            return Reading(self._rss_hwm()[0], None, None, None)
        return Reading(int(os.pread(self._statm, 128, 0).split()[1]) * _PAGE, None, None, None)

    def read(self) -> Reading:
        """RSS now, and the exact peaks since the previous `read`, which it resets."""
        rss, hwm = self._rss_hwm()
        if self._reset_ok:
            self._reset()
        else:
            hwm = None
        py = py_peak = None
        if self._trace and tracemalloc.is_tracing():
            py, py_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
        return Reading(rss, hwm, py, py_peak)

    def close(self) -> None:
        if self._started_tracing:
            tracemalloc.stop()
        for fd in (self._status, self._statm, self._clear):
            if fd is not None:
                os.close(fd)
        self._status = self._statm = self._clear = None

    def _rss_hwm(self) -> tuple[int | None, int | None]:
        if self._status is not None:
            text = os.pread(self._status, 4096, 0)
            rss, hwm = _RSS_RE.search(text), _HWM_RE.search(text)
            return (
                int(rss.group(1)) * 1024 if rss else None,
                int(hwm.group(1)) * 1024 if hwm else None,
            )
        try:
            import psutil

            return psutil.Process().memory_info().rss, None
        except ImportError:
            return None, None

    def _reset(self) -> bool:
        try:
            os.write(self._clear, b"5")
            return True
        except OSError:
            self._reset_ok = False
            return False


def _open(path: str, flags: int) -> int | None:
    """A descriptor kept open: re-reading /proc through it is 2-3x cheaper."""
    try:
        return os.open(path, flags)
    except OSError:
        return None
