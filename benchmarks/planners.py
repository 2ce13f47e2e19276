"""Every planner on every fixture model, against the bound and against TFLM.

    python benchmarks/planners.py [--markdown] [--no-tflm] [--exact]

Per model: naive arena (no reuse), the live-set lower bound, the arena of each
strategy and the time it took, and for `.tflite` models the head that the
real TensorFlow Lite Micro interpreter reports (measured in a child process
with `print_allocations`).  Models: the `.tflite` and `.onnx` fixtures and the
ONNX model-zoo "light" models that ship with `onnx` (weights folded).  For
`.tflite` the problem is TFLM's own (scratch buffers included), so the `tflm`
column predicts the measured head.  Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import onnx

from infermem.frontends import load
from infermem.planners import plan
from infermem.planning import build_problem

ROOT = Path(__file__).resolve().parents[1]
LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
FAST = ("linear", "tflm", "best-fit", "breadth", "conflicts", "hill-climb", "best")


def models() -> list[Path]:
    fixtures = sorted((ROOT / "tests/fixtures").glob("*.tflite"))
    fixtures += sorted(p for p in (ROOT / "tests/fixtures").glob("*.onnx")
                       if "dynbatch" not in p.name)
    return fixtures + sorted(LIGHT.glob("*.onnx"))


def row(path: Path, tflm: bool, exact: bool) -> dict:
    graph = load(path)
    problem = build_problem(graph, graph.file_order)
    out = {"model": path.name, "format": graph.format, "buffers": len(problem.buffers),
           "naive": sum(b.size for b in problem.buffers)}
    for name in FAST + (("exact",) if exact else ()):
        t = time.perf_counter()
        p = plan(problem, name, time_limit=10.0)
        out[name] = p.arena_bytes
        out[f"{name}_s"] = time.perf_counter() - t
        out["bound"] = p.lower_bound_bytes
        if name == "exact":
            out["exact_optimal"] = p.optimal
    if tflm and graph.format == "tflite":
        from infermem.tflm import measure

        out["tflm_head"] = measure(path, bisect=False).head_bytes
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--no-tflm", action="store_true", help="skip the TFLM measurement")
    ap.add_argument("--exact", action="store_true", help="also run CP-SAT (10 s limit each)")
    args = ap.parse_args()
    cols = ["naive", "bound", *FAST, *(("exact",) if args.exact else ()), "tflm_head"]
    sep = " | " if args.markdown else "  "
    head = ["model", *cols, "best time"]
    if args.markdown:
        print("| " + sep.join(head) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    else:
        print(sep.join(f"{h:>12}" for h in head))
    for path in models():
        r = row(path, not args.no_tflm, args.exact)
        cells = [r["model"]] + [f"{r[c]:,}" if c in r else "-" for c in cols]
        cells.append(f"{r['best_s'] * 1000:.0f} ms")
        if args.exact and r.get("exact_optimal"):
            cells[head.index("exact")] += " *"
        if args.markdown:
            print("| " + sep.join(cells) + " |")
        else:
            print(sep.join(f"{c:>12}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
