"""Injected by `infermem monitor --trace-allocations` (first on PYTHONPATH):
trace this Python program's allocations and leave tracemalloc snapshots for
the monitoring parent.  Not part of infermem's importable API.

Tracing starts `INFERMEM_TRACE_DELAY` seconds after start-up (the warm-up:
tracing the imports, with deep tracebacks, would slow start-up several
times over, and growth is measured between two later snapshots anyway).
The first Python process that starts with the variables set takes them
(and removes them, with this folder on PYTHONPATH, so its own child Pythons
run untraced).  A daemon thread dumps a snapshot about 1, 2, 4, 8 ... seconds after
start (kept: the parent picks the one at the end of its warm-up) and keeps
overwriting a "latest" one every second or so; a last one is written at exit.  Any
user `sitecustomize` later on the path still runs.
"""

import os
import sys


def _start(folder: str) -> None:
    import atexit
    import threading
    import time
    import tracemalloc

    frames = int(os.environ.pop("INFERMEM_TRACE_FRAMES", "16") or 16)
    period = [float(os.environ.pop("INFERMEM_TRACE_PERIOD", "1") or 1)]
    delay = float(os.environ.pop("INFERMEM_TRACE_DELAY", "1") or 0)
    pid = os.getpid()
    lock = threading.Lock()

    def dump(tag: str) -> None:
        with lock:
            if not tracemalloc.is_tracing():
                return
            t = time.monotonic()
            snap = tracemalloc.take_snapshot()  # unfiltered: filtering here is slow
            part = os.path.join(folder, f".{pid}-{tag}.part")
            snap.dump(part)
            os.replace(part, os.path.join(folder, f"{pid}-{tag}-{t:.6f}.snap"))
            if tag == "latest":  # only the newest "latest" is kept
                for name in os.listdir(folder):
                    if name.startswith(f"{pid}-latest-") and not name.endswith(f"{t:.6f}.snap"):
                        try:
                            os.unlink(os.path.join(folder, name))
                        except OSError:
                            pass

    def loop() -> None:
        """Snapshots cost time (all live traces are copied and pickled): the
        period stretches to keep them under about a tenth of the run."""
        time.sleep(delay)
        tracemalloc.start(frames)
        start, mark, k = time.monotonic(), 1.0, 0
        while True:
            time.sleep(period[0])
            t = time.monotonic()
            if t - start >= mark:
                dump(f"at{k}")
                mark, k = mark * 2, k + 1
            else:
                dump("latest")
            period[0] = max(period[0], 10 * (time.monotonic() - t))

    threading.Thread(target=loop, name="infermem-trace", daemon=True).start()
    atexit.register(dump, "latest")


def _chain() -> None:
    """Run the sitecustomize this one shadows, if there is one."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


_folder = os.environ.pop("INFERMEM_TRACE_DIR", None)
_restore = os.environ.pop("INFERMEM_TRACE_PYTHONPATH", None)
if _folder is not None:
    if _restore:
        os.environ["PYTHONPATH"] = _restore
    else:
        os.environ.pop("PYTHONPATH", None)
    try:
        _start(_folder)
    except Exception as e:  # never break the user's program
        print(f"infermem: allocation tracing not started: {e}", file=sys.stderr)
_chain()
