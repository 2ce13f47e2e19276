"""A long-lived child process that runs many `.tflite` files in TFLM.

The empirical search runs a dozen slightly different offline plans of the same
model; starting a fresh interpreter process for each costs seconds, running
them in one process costs milliseconds.  The child stays isolated from
infermem's own process all the same: a plan that makes TFLM crash kills only
the child, which the parent restarts.

Protocol: one JSON request per stdin line {"model", "arena", "inputs",
"outputs", "n_outputs"} (npz paths; arrays s{k}_i{j} in, s{k}_o{j} out); one stdout line
back, "OK <head bytes> <tail bytes>" (from `print_allocations` after the first
run) or "ERR <message>".
"""

from __future__ import annotations

import json
import re
import sys

ALLOC = re.compile(r"Arena allocation (head|tail) (\d+) bytes")


def allocations(interp) -> str:
    """What `print_allocations()` writes to fd 2 from C code, captured."""
    import os
    import tempfile

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
        return f.read().decode(errors="replace")


def serve() -> None:
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    for line in sys.stdin:
        try:
            req = json.loads(line)
            interp = runtime.Interpreter.from_file(req["model"], arena_size=int(req["arena"]))
            sets = np.load(req["inputs"])
            outputs = {}
            s = 0
            while f"s{s}_i0" in sets.files:
                j = 0
                while f"s{s}_i{j}" in sets.files:
                    interp.set_input(sets[f"s{s}_i{j}"], j)
                    j += 1
                interp.invoke()
                if s == 0:
                    found = dict(ALLOC.findall(allocations(interp)))
                for k in range(int(req["n_outputs"])):
                    outputs[f"s{s}_o{k}"] = np.asarray(interp.get_output(k))
                s += 1
            np.savez(req["outputs"], **outputs)
            print(f"OK {found.get('head', -1)} {found.get('tail', -1)}", flush=True)
        except Exception as e:  # report, keep serving
            print(f"ERR {type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    serve()
