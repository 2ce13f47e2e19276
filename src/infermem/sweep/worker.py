"""`run_task`: one model, in a child process, with a per-model timeout.

The same function runs on the local pool (one thread per job) and on Dask
workers (`Client.map(run_task, ...)`), so the guarantees are the same
everywhere: the work (`task.evaluate`) happens in a long-lived child process
owned by the calling thread, which imports infermem once and then serves
one task per request.  A task that runs past its timeout, or a child that
dies (a crash in native code, the kernel's OOM killer), costs only that
model: its result is a failed row with the reason, the child's process group
is killed and the next task starts a fresh one.

Plain subprocesses rather than `multiprocessing`: Dask runs its workers as
daemon processes, which `multiprocessing` forbids to have children.

Protocol: the child prints `READY` once imported, then reads one task per
stdin line (base64 of a pickle: it is our own child) and answers one JSON
line.  Its stdout is kept for the protocol; anything a library prints goes
to a temporary file whose tail explains a crash.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import pickle
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time

from .task import Task, evaluate, failed

STARTUP_S = 120.0  # importing infermem in a fresh child on a loaded machine
_local = threading.local()
_children: list[_Child] = []
_lock = threading.Lock()


class _Child:
    """One worker child process and its pipes."""

    def __init__(self):
        from ..tflm._child import command

        cmd, env = command("infermem.sweep.worker")
        self.owner = threading.current_thread().name
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, bufsize=0,
                                     start_new_session=True)
        self.buf = b""
        line = self.read_line(STARTUP_S)
        if line != "READY":
            reason = self.why("starting", STARTUP_S) if line is None else line
            self.close(kill=True)
            raise RuntimeError(reason)

    def read_line(self, timeout: float) -> str | None:
        """One line from the child, or None on timeout or end of output."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def ask(self, task: Task) -> dict | None:
        self.proc.stdin.write(base64.b64encode(pickle.dumps(task)) + b"\n")
        line = self.read_line(task.options.timeout)
        return None if line is None else json.loads(line)

    def why(self, what: str, timeout: float) -> str:
        """The reason a child gave no answer: timeout, signal or exit status,
        with the tail of what it printed."""
        code = self.proc.poll()
        if code is None:
            head = f"timed out after {timeout:g} s {what}"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            head = f"the worker process crashed ({name}) {what}"
        else:
            head = f"the worker process exited with status {code} {what}"
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip()
        return head + (f"; it printed: ...{text[-600:]}" if text else "")

    def close(self, kill: bool = False) -> None:
        try:
            if kill:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        with _lock:
            if self in _children:
                _children.remove(self)


def _child() -> _Child:
    c = getattr(_local, "child", None)
    if c is None or c.proc.poll() is not None:
        c = _local.child = _Child()
        with _lock:
            _children.append(c)
    return c


def run_task(task: Task) -> dict:
    """Evaluate `task` in this thread's child process; never raises for the
    model's sake: a timeout or a crash is a failed result."""
    t0 = time.perf_counter()
    try:
        child = _child()
    except (OSError, RuntimeError) as e:
        return failed(task, "crash", f"could not start a worker process: {e}")
    try:
        result = child.ask(task)
    except (BrokenPipeError, ValueError):
        result = None
    if result is not None:
        return result
    kind = "timeout" if child.proc.poll() is None else "crash"
    reason = child.why(f"on {os.path.basename(task.path)}", task.options.timeout)
    child.close(kill=True)
    _local.child = None
    return failed(task, kind, reason, time.perf_counter() - t0)


def close_workers(kill: bool = False, owner: str = "") -> None:
    """Stop the children of the threads whose name starts with `owner` (every
    child this process started by default).  The local pool stops its own at
    the end of a sweep; at exit all are stopped anyway."""
    with _lock:
        children = [c for c in _children if c.owner.startswith(owner)]
    for c in children:
        c.close(kill=kill)
    _local.child = None


atexit.register(close_workers, kill=True)


def _serve() -> None:
    """The child: import once, then answer tasks until stdin closes."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to the log, not the protocol
    from ..fit import model_needs  # noqa: F401 - imported once, before the first task
    from ..frontends import onnx, tflite  # noqa: F401
    from ..profile import profile  # noqa: F401

    proto.write("READY\n")
    for line in sys.stdin.buffer:
        task = pickle.loads(base64.b64decode(line))
        proto.write(json.dumps(evaluate(task)) + "\n")


if __name__ == "__main__":
    _serve()
