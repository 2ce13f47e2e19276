"""The child process that hosts the TFLM interpreter.

TFLM reports to stderr from C code and a malformed model or a bad plan can
abort the process, so the interpreter never runs in infermem's own process.
The parent sends one JSON request on stdin; the child answers with one JSON
line on stdout (after any progress lines) and leaves TFLM's own stderr alone
for the parent to read.

Requests:
  {"mode": "run", "model": P, "arena": N, "inputs": NPZ, "outputs": NPZ}
      set each input set of NPZ (arrays named s{k}_i{j}), invoke, write the
      outputs (s{k}_o{j}) to NPZ; print_allocations() after the first run.
  {"mode": "bisect", "model": P, "lo": L, "hi": H, "step": S}
      probe arena sizes between L (fails) and H (works); before each probe
      print "try N", after it "ok N" or "fail N".
"""

from __future__ import annotations

import json
import sys


def _interpreter(path: str, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_file(path, arena_size=int(arena))


def _zeros(model_path: str):
    import numpy as np

    from ._model import read_model
    from .inputs import input_specs

    return [np.zeros(s, d) for s, d in input_specs(read_model(model_path))]


def run(req: dict) -> dict:
    import numpy as np

    interp = _interpreter(req["model"], req["arena"])
    sets = np.load(req["inputs"])
    n_sets = 1 + max((int(k.split("_")[0][1:]) for k in sets.files), default=-1)
    outputs = {}
    for s in range(n_sets):
        j = 0
        while f"s{s}_i{j}" in sets.files:
            interp.set_input(sets[f"s{s}_i{j}"], j)
            j += 1
        interp.invoke()
        if s == 0:
            sys.stdout.flush()
            interp.print_allocations()
        k = 0
        while True:
            try:
                out = interp.get_output(k)
            except (IndexError, ValueError):
                break
            outputs[f"s{s}_o{k}"] = np.asarray(out)
            k += 1
    np.savez(req["outputs"], **outputs)
    return {"ok": True, "sets": n_sets}


def bisect(req: dict) -> dict:
    """Smallest multiple of `step` in (lo, hi] with which the model loads and runs."""
    inputs = _zeros(req["model"])
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
    req = json.loads(sys.stdin.read())
    try:
        result = {"run": run, "bisect": bisect}[req["mode"]](req)
    except Exception as e:
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    sys.stdout.flush()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
