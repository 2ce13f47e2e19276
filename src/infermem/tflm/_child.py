"""The child process that hosts the TFLM interpreter.

TFLM reports to stderr from C code and a malformed model or a bad plan can
abort the process, so the interpreter never runs in infermem's own process.
The child serves a stream of requests, one JSON object per stdin line, and
answers each with one line "RESULT <json>" on stdout (after any progress
lines); it exits at the end of stdin.  A one-shot caller (`measure`) sends
one request and closes stdin; a long-lived caller (the overlap `Prober`)
keeps the child for many requests and restarts it after a crash.  TFLM's own
stderr is left to the parent; the allocation report is captured from fd 2
and passed through to it.

Requests:
  {"mode": "run", "model": P, "arena": N, "inputs": NPZ, "outputs": NPZ}
      set each input set of NPZ (arrays named s{k}_i{j}), invoke, write the
      outputs (s{k}_o{j}) to NPZ; print_allocations() after the first run,
      answered as {"ok", "head", "tail", "total"}.
  {"mode": "bisect", "model": P, "lo": L, "hi": H, "step": S, "first": [...]}
      probe arena sizes between L (fails) and H (works); before each probe
      print "try N", after it "ok N" or "fail N".
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ALLOC = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def command(module: str = "infermem.tflm._child") -> tuple[list[str], dict[str, str]]:
    """Command line and environment that start `module` as a child process
    (this child by default), with this copy of infermem importable."""
    src = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    return [sys.executable, "-m", module], env


def parse_allocations(text: str) -> dict[str, int]:
    """{"head", "tail", "total"} bytes from TFLM's "Arena allocation ... N bytes" lines."""
    return {k: int(v) for k, v in ALLOC.findall(text)}


def _interpreter(path: str, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(path, arena_size=int(arena))


def _allocations(interp) -> str:
    """What `print_allocations()` writes to fd 2 from C code, captured (and
    passed on to our own stderr, which the parent may be reading)."""
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            interp.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        data = f.read()
    os.write(2, data)
    return data.decode(errors="replace")


def run_sets(interp, sets) -> tuple[dict, dict[str, int]]:
    """Invoke `interp` on each input set (s{k}_i{j} in the mapping `sets`):
    the outputs by name s{k}_o{j}, and the allocations reported after the first run."""
    import time

    import numpy as np

    names = set(sets.keys())
    outputs, found = {}, {}
    seconds = []
    s = 0
    while f"s{s}_i0" in names:
        j = 0
        while f"s{s}_i{j}" in names:
            interp.set_input(sets[f"s{s}_i{j}"], j)
            j += 1
        t0 = time.perf_counter()
        interp.invoke()
        seconds.append(time.perf_counter() - t0)
        if s == 0:
            found = parse_allocations(_allocations(interp))
        k = 0
        while True:
            try:
                out = interp.get_output(k)
            except (IndexError, ValueError):
                break
            outputs[f"s{s}_o{k}"] = np.asarray(out)
            k += 1
        s += 1
    return outputs, {**found, "invoke_s": seconds}


def run(req: dict) -> dict:
    import numpy as np

    interp = _interpreter(req["model"], req["arena"])
    with np.load(req["inputs"]) as sets:
        outputs, found = run_sets(interp, sets)
    np.savez(req["outputs"], **outputs)
    return {"ok": True, **found}


def bisect(req: dict) -> dict:
    """Smallest multiple of `step` in (lo, hi] with which the model loads and runs."""
    import numpy as np

    from ._model import read_model
    from .inputs import input_specs

    inputs = [np.zeros(s, d) for s, d in input_specs(read_model(req["model"]))]
    lo, hi, step = int(req["lo"]), int(req["hi"]), int(req["step"])
    probes = list(req.get("first", []))
    while hi - lo > step:
        n = probes.pop(0) if probes else lo + ((hi - lo) // (2 * step)) * step
        if not lo < n < hi:
            continue
        print(f"try {n}", flush=True)
        try:
            interp = _interpreter(req["model"], n)
            for j, x in enumerate(inputs):
                interp.set_input(x, j)
            interp.invoke()
            ok = True
        except Exception:
            ok = False
        print(f"{'ok' if ok else 'fail'} {n}", flush=True)
        lo, hi = (lo, n) if ok else (n, hi)
    return {"ok": True, "lo": lo, "hi": hi}


def main() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            result = {"run": run, "bisect": bisect}[req["mode"]](req)
        except Exception as e:  # report, keep serving
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.flush()
        print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
