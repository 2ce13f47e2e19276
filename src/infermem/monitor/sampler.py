"""A background thread that samples a process's memory at a fixed period.

RSS is read every period (down to 1 ms).  On Linux it comes straight from
`/proc/PID/statm` through a kept-open descriptor (a few microseconds, so the
sampler barely competes for the GIL); elsewhere from psutil.  USS (memory
only this process would free on exit) needs a walk over all mappings, about a
millisecond, so it is read at its own slower period, and not at all unless
asked.  Sleeping is deadline-based so the period does not drift; a late
wake-up skips ahead rather than bunching samples (so consecutive samples
are at least half a period apart).
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
    """A function returning USS in bytes (or -1), or None where unavailable.
    Linux: the Private_* lines of /proc/PID/smaps_rollup (the kernel sums the
    mappings: well under a millisecond); psutil elsewhere (it parses every
    mapping of `smaps`, many milliseconds for a process with a runtime loaded)."""
    rollup = f"/proc/{pid}/smaps_rollup"
    if os.path.exists(rollup):

        def read_rollup() -> int:
            try:
                with open(rollup, "rb") as fh:
                    return sum(int(ln.split()[1]) for ln in fh if ln.startswith(b"Private_")) * 1024
            except (OSError, ValueError, IndexError):
                return -1

        return read_rollup
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
        self._uss_col: list[int] = []
        self._py: list[int] = []
        self.hwm_bytes: int | None = None  # the process's VmHWM, largest read

    def start(self) -> Sampler:
        """Open the readers and take the first sample before returning, so a
        short run is never left without samples by a slow thread start."""
        self._reader = _RssReader(self.pid)
        self._hwm_fd = None
        if self.pid != os.getpid():  # another process: also follow its kernel peak
            try:
                self._hwm_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
            except OSError:
                pass
        self._read_uss = _uss_reader(self.pid) if self.uss_interval_s else None
        self._next_uss = 0.0
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="infermem-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Samples:
        """Stop the thread and take a last sample (if the process still exists)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            self._sample()
            self._reader.close()
            if self._hwm_fd is not None:
                os.close(self._hwm_fd)
                self._hwm_fd = None
        return self.samples()

    def samples(self) -> Samples:
        n = min(len(self._t), len(self._rss), len(self._uss_col), len(self._py))
        return Samples(
            np.asarray(self._t[:n], dtype=np.float64),
            np.asarray(self._rss[:n], dtype=np.int64),
            np.asarray(self._uss_col[:n], dtype=np.int64),
            np.asarray(self._py[:n], dtype=np.int64),
        )

    def _sample(self) -> bool:
        """Append one sample; False once the process is gone."""
        now = time.monotonic()
        rss = self._reader.read()
        if rss is None:
            return False
        u = -1
        if self._read_uss is not None and now >= self._next_uss:
            u, self._next_uss = self._read_uss(), now + self.uss_interval_s
        if self._hwm_fd is not None:
            self._read_hwm()
        self._py.append(tracemalloc.get_traced_memory()[0] if self._trace else -1)
        self._uss_col.append(u)
        self._rss.append(rss)
        self._t.append(now)
        return True

    def _read_hwm(self) -> None:
        """The kernel's peak RSS of the watched process (`VmHWM`), which
        catches a peak between two samples.  Read from /proc while the
        process runs, never from `wait4` at exit: that figure starts from the
        parent's own high-water mark (inherited through fork and exec), so a
        `sleep` started from a 200 MiB process would report 200 MiB."""
        try:
            text = os.pread(self._hwm_fd, 4096, 0)
        except OSError:
            return
        k = text.find(b"VmHWM:")
        if k >= 0:
            hwm = int(text[k + 6 : text.index(b"kB", k)]) * 1024
            self.hwm_bytes = max(self.hwm_bytes or 0, hwm)

    def _loop(self) -> None:
        """time.sleep, not Event.wait: a third less CPU per wake-up; stop()
        waits at most 50 ms for the thread to notice."""
        deadline = time.monotonic()
        while True:
            deadline += self.interval_s
            now = time.monotonic()
            if deadline - now < self.interval_s / 2:  # woke late: skip, do not bunch
                deadline = now + self.interval_s
            while (left := deadline - time.monotonic()) > 0 and not self._stop.is_set():
                time.sleep(min(left, 0.05))
            if self._stop.is_set() or not self._sample():
                break
