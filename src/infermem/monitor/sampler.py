"""A background thread that samples a process's memory at a fixed period.

RSS is read every period (down to 1 ms).  On Linux it comes straight from
`/proc/PID/statm` through a kept-open descriptor (a few microseconds, so the
sampler barely competes for the GIL); elsewhere from psutil.  USS (memory
only this process would free on exit) needs a walk over all mappings, about a
millisecond, so it is read at its own slower period, and not at all unless
asked.  Sleeping is deadline-based so the period does not drift; a late
wake-up skips ahead rather than bunching samples.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput

MIN_INTERVAL_S = 0.001


@dataclass(frozen=True)
class Samples:
    """Columns of one sampling run; `uss`/`py` are -1 where not measured."""

    t: np.ndarray
    rss: np.ndarray
    uss: np.ndarray
    py: np.ndarray

    @staticmethod
    def empty() -> Samples:
        z = np.zeros(0, dtype=np.int64)
        return Samples(np.zeros(0), z, z.copy(), z.copy())


class _RssReader:
    """Fast RSS of one pid: pread on /proc/PID/statm, else psutil."""

    def __init__(self, pid: int):
        self._fd = None
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        try:
            self._fd = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        except OSError:
            import psutil

            self._proc = psutil.Process(pid)

    def read(self) -> int | None:
        """RSS in bytes, or None once the process is gone."""
        try:
            if self._fd is not None:
                fields = os.pread(self._fd, 128, 0).split()
                rss = int(fields[1]) * self._page if len(fields) > 1 else 0
            else:
                rss = self._proc.memory_info().rss
        except (OSError, ProcessLookupError):
            return None
        except Exception:  # psutil.NoSuchProcess / ZombieProcess
            return None
        return rss or None  # a zombie reports 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _uss_reader(pid: int):
    """A function returning USS in bytes (or -1), or None where unavailable."""
    try:
        import psutil

        proc = psutil.Process(pid)
        proc.memory_full_info().uss  # noqa: B018 - probe availability once
    except Exception:
        return None

    def read() -> int:
        try:
            return int(proc.memory_full_info().uss)
        except Exception:
            return -1

    return read


class Sampler:
    """Samples `pid` (default: this process) every `interval_s` in a daemon thread."""

    def __init__(
        self,
        pid: int | None = None,
        interval_s: float = 0.005,
        uss_interval_s: float | None = None,
        trace_python: bool = False,
    ):
        if interval_s < MIN_INTERVAL_S:
            raise BadInput(f"sampling interval must be at least 1 ms, got {interval_s * 1e3:g} ms")
        self.pid = os.getpid() if pid is None else pid
        self.interval_s = interval_s
        self.uss_interval_s = uss_interval_s
        self._trace = trace_python and self.pid == os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t: list[float] = []
        self._rss: list[int] = []
        self._uss: list[int] = []
        self._py: list[int] = []

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, name="infermem-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Samples:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples()

    def samples(self) -> Samples:
        n = min(len(self._t), len(self._rss), len(self._uss), len(self._py))
        return Samples(
            np.asarray(self._t[:n], dtype=np.float64),
            np.asarray(self._rss[:n], dtype=np.int64),
            np.asarray(self._uss[:n], dtype=np.int64),
            np.asarray(self._py[:n], dtype=np.int64),
        )

    def _loop(self) -> None:
        reader = _RssReader(self.pid)
        uss = _uss_reader(self.pid) if self.uss_interval_s else None
        next_uss = 0.0
        deadline = time.monotonic()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                rss = reader.read()
                if rss is None:
                    break
                u = -1
                if uss is not None and now >= next_uss:
                    u, next_uss = uss(), now + self.uss_interval_s
                py = tracemalloc.get_traced_memory()[0] if self._trace else -1
                self._t.append(now)
                self._rss.append(rss)
                self._uss.append(u)
                self._py.append(py)
                deadline += self.interval_s
                now = time.monotonic()
                if deadline < now:
                    deadline = now
                self._stop.wait(deadline - now)
        finally:
            reader.close()
