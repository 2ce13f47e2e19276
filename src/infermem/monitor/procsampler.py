"""Sample this process's memory from a tiny helper process: no GIL taken.

A sampler thread must take the GIL every period to read `/proc/PID/statm`,
and the program waits for it to hand it back: a pure-Python loop runs about
3% slower with a 5 ms thread.  A separate process reads the same file without
touching this interpreter.  It is a bare `python -S -I` (standard library,
~15 ms of CPU to start, started once per `Monitor`); it appends fixed-size
binary records (t, rss, uss) to a temporary file, so a long run never blocks
on a full pipe and `samples()` can read the records so far at any moment.  It
stops when killed by `stop()`, or when this process dies (end of file on its
stdin, a pipe from this process, or /proc/PID/statm gone).  Times are
`time.monotonic()` (CLOCK_MONOTONIC, one clock for every process on the
machine), so they line up with the events.

Linux only (it needs /proc/PID/statm of another process); `ProcessSampler.start`
raises OSError elsewhere and the caller falls back to the thread `Sampler`.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from .sampler import MIN_INTERVAL_S, Sampler, Samples, _RssReader

_RECORD = struct.Struct("=dqq")  # t, rss, uss (-1: not read)

# The helper's whole program: standard library only, no site, no infermem.
_HELPER = r"""
import os, select, signal, struct, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pid, out = int(sys.argv[1]), sys.argv[4]
interval, uss_interval = float(sys.argv[2]), float(sys.argv[3])
rec = struct.Struct("=dqq").pack
page = os.sysconf("SC_PAGE_SIZE")
statm = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
fd = os.open(out, os.O_WRONLY | os.O_APPEND)
def uss():
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            return sum(int(ln.split()[1]) for ln in fh if ln.startswith(b"Private_")) * 1024
    except (OSError, ValueError, IndexError):
        return -1
next_uss = 0.0
deadline = time.monotonic()
while True:
    now = time.monotonic()
    try:
        rss = int(os.pread(statm, 128, 0).split()[1]) * page
    except (OSError, IndexError, ValueError):
        break
    if rss == 0:
        break
    u = -1
    if uss_interval > 0 and now >= next_uss:
        u, next_uss = uss(), now + uss_interval
    os.write(fd, rec(now, rss, u))
    deadline += interval
    if deadline - time.monotonic() < interval / 2:
        deadline = time.monotonic() + interval
    if select.select([0], [], [], max(deadline - time.monotonic(), 0))[0]:
        break
os._exit(0)
"""


class ProcessSampler:
    """Samples this process every `interval_s` from a helper process.

    Same contract as `Sampler(None, ...)` without `trace_python`: the first
    sample is taken here before `start()` returns (by a bridge thread that
    samples until the helper is up), the last one in `stop()`.
    """

    def __init__(self, interval_s: float = 0.005, uss_interval_s: float | None = None):
        self.interval_s = max(interval_s, MIN_INTERVAL_S)
        self.uss_interval_s = uss_interval_s
        self.pid = os.getpid()
        self._proc: subprocess.Popen | None = None
        self._path: str | None = None
        self._last: list[tuple[float, int, int]] = []
        self._done: Samples | None = None

    def start(self) -> ProcessSampler:
        """OSError where the helper cannot run (no /proc, no interpreter)."""
        if not os.path.exists(f"/proc/{self.pid}/statm") or not sys.executable:
            raise OSError("no /proc/PID/statm or no Python executable for a helper")
        if self.uss_interval_s and not os.path.exists(f"/proc/{self.pid}/smaps_rollup"):
            raise OSError("no /proc/PID/smaps_rollup for USS")
        self._reader = _RssReader(self.pid)
        fd, self._path = tempfile.mkstemp(prefix="infermem-samples-")
        os.close(fd)
        self._bridge = _Bridge(self._path, self.interval_s, self.uss_interval_s).start()
        argv = [sys.executable, "-S", "-I", "-c", _HELPER, str(self.pid), repr(self.interval_s),
                repr(self.uss_interval_s or 0.0), self._path]  # fmt: skip
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, close_fds=True)
        except OSError:
            self._bridge.stop()
            self._cleanup()
            raise
        return self

    def stop(self) -> Samples:
        """Stop the helper, reap it, take a last sample here."""
        if self._proc is None:
            return self._done or Samples.empty()
        self._bridge.stop()
        # Every record is on disk already, so the helper can simply be killed:
        # waiting for EOF on its stdin could hang where a fork of this process
        # still holds the pipe.  (EOF is for when this process dies first.)
        self._proc.kill()
        self._proc.wait()
        self._proc.stdin.close()
        self._proc = None
        self._last = self._take()
        self._done = self.samples()
        self._reader.close()
        self._cleanup()
        return self._done

    def samples(self) -> Samples:
        """The bridge thread's samples, then the helper's, then the last one."""
        if self._done is not None:
            return self._done
        first = self._bridge.samples()
        rows = self._records() + self._last
        if len(first.t):
            rows = [r for r in rows if r[0] > first.t[-1]]
        if not rows:
            return first
        t, rss, uss = (np.asarray(c) for c in zip(*rows, strict=True))
        return Samples(
            np.concatenate([first.t, t.astype(np.float64)]),
            np.concatenate([first.rss, rss.astype(np.int64)]),
            np.concatenate([first.uss, uss.astype(np.int64)]),
            np.concatenate([first.py, np.full(len(rows), -1, dtype=np.int64)]),
        )

    def _take(self) -> list[tuple[float, int, int]]:
        now = time.monotonic()
        rss = self._reader.read()
        return [] if rss is None else [(now, rss, -1)]

    def _records(self) -> list[tuple[float, int, int]]:
        """Whole records written so far (a record being written is left for later)."""
        if self._path is None:
            return []
        try:
            with open(self._path, "rb") as fh:
                data = fh.read()
        except OSError:
            return []
        data = data[: len(data) - len(data) % _RECORD.size]
        return list(_RECORD.iter_unpack(data))

    def _cleanup(self) -> None:
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None


class _Bridge(Sampler):
    """The thread sampler, only until the helper's first record lands (its
    interpreter takes ~10-40 ms to start): short runs keep their samples."""

    def __init__(self, path: str, interval_s: float, uss_interval_s: float | None):
        super().__init__(None, interval_s, uss_interval_s)
        self._path_ = path

    def _sample(self) -> bool:
        try:
            if os.path.getsize(self._path_) > 0:
                return False
        except OSError:
            return False
        return super()._sample()
