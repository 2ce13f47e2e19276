"""The arena executor on the fixture zoo: arena, verify time, traced memory.

    python benchmarks/executor.py [--models resnet50,squeezenet] [--repeats 3]

Per model (light ONNX zoo at 224x224 batch 1, and the tf2onnx fixtures):

- arena: bytes of the `best` plan the executor runs in;
- verify: wall seconds of what `infermem verify MODEL` does end to end —
  load, plan, and on 3 random input sets: onnxruntime with every
  intermediate exposed, the file-order run, the run in the plan's arena with
  every tensor compared bit for bit after its write and before each read,
  and (first set) each kernel on onnxruntime's inputs (median of --repeats),
  split into the executor's and onnxruntime's share.  The light zoo's
  weights are one constant each, so its outputs may not depend on the input:
  constant outputs are allowed there;
- bare run: one executor run without checks (median);
- peak: tracemalloc peak while building the executor and running it, against
  the budget arena + declared scratch + 5%; book: what the executor holds
  besides the arena between operators (Python objects);
- chunks: kernel chunks per run (from a traced run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import onnx

from infermem.frontends import load
from infermem.lifetimes import problem
from infermem.planners import plan
from infermem.runtime import Executor, run
from infermem.runtime.memcheck import measure
from infermem.runtime.verify import random_inputs, verify

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures"
MODELS = {
    **{m: LIGHT / f"light_{m}.onnx" for m in
       ["resnet50", "squeezenet", "inception_v1", "inception_v2", "densenet121", "shufflenet"]},
    **{m: FIXTURES / f"{m}.onnx" for m in
       ["mobilenet_v1_f32", "mobilenet_v2_f32", "mobilenet_v1_int8_qdq"]},
}


def verify_once(path: Path) -> tuple[float, float, float, object]:
    t0 = time.perf_counter()
    g = load(path)
    p = plan(problem(g), "best")
    r = verify(g, path, p.offsets, p.arena_bytes, strategy=p.strategy,
               allow_constant_outputs=path.parent == LIGHT)
    return time.perf_counter() - t0, r.executor_seconds, r.reference_seconds, r


def bench(name: str, path: Path, repeats: int) -> dict:
    runs = [verify_once(path) for _ in range(repeats)]
    r = runs[-1][3]
    assert r.ok, r.summary()
    g = load(path)
    p = plan(problem(g), "best")
    inputs = random_inputs(g, 0)
    ex = Executor.from_plan(g, p)
    bare = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ex.run(inputs)
        bare.append(time.perf_counter() - t0)
    _, trace = run(g, p, inputs, trace=True)
    m = measure(g, p.offsets, p.arena_bytes, inputs)
    return {
        "model": name, "ops": len(g.operators), "arena": p.arena_bytes,
        "verify": statistics.median(t for t, *_ in runs),
        "executor": statistics.median(e for _, e, _, _ in runs),
        "ort": statistics.median(o for _, _, o, _ in runs),
        "bare": statistics.median(bare), "chunks": len(trace.chunks),
        "scratch": m.scratch_bytes, "book": m.bookkeeping_bytes, "peak": m.peak_bytes,
        "budget": m.budget, "ok": m.ok,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    head = (f"{'model':22s} {'ops':>4s} {'arena B':>11s} {'verify s':>8s} {'exec s':>7s} "
            f"{'ort s':>6s} {'bare s':>7s} {'chunks':>7s} {'scratch B':>10s} {'book B':>8s} "
            f"{'peak B':>11s} "
            f"{'peak/arena':>10s} {'<=budget':>8s}")
    print(head)
    print("-" * len(head))
    for name in args.models.split(","):
        b = bench(name, MODELS[name], args.repeats)
        print(f"{b['model']:22s} {b['ops']:4d} {b['arena']:11,d} {b['verify']:8.2f} "
              f"{b['executor']:7.2f} {b['ort']:6.2f} {b['bare']:7.2f} {b['chunks']:7d} "
              f"{b['scratch']:10,d} {b['book']:8,d} {b['peak']:11,d} "
              f"{b['peak'] / b['arena']:10.3f} "
              f"{'yes' if b['ok'] else 'NO':>8s}", flush=True)


if __name__ == "__main__":
    main()
