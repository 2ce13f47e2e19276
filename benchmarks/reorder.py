"""Memory-aware operator reordering: live-set peak in the file's order vs the best order.

    python benchmarks/reorder.py [--only NAME,NAME] [--time-limit 10] [--markdown]

Per model: operators, branch points (operators with more than one successor
or predecessor), the live-set peak of the file's own order and of the best
order (both computed by `lifetimes`, 16-byte aligned), the saving, the lower
bound the search proved, whether the best order is proven optimal, and the
seconds `best_order` took.  Every reordered model is written back and run
against the original: onnxruntime for ONNX, TFLite Micro for .tflite, on a
seeded random input; `same` says whether all outputs are bit-identical.  For
.tflite models the arena head TFLM itself measures (its own greedy planner,
`print_allocations`) is reported for both files.

Models: the branchy light ONNX zoo that ships with onnx, the fixtures with
branches, NASNet-A normal-cell stacks built as real ONNX files, and (with
--stress) NASNet-shaped graphs with random tensor sizes.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from infermem.frontends import load
from infermem.graph import Graph
from infermem.schedule import (
    Schedule,
    best_order,
    branch_points,
    live_peak,
    write_order_onnx,
    write_order_tflite,
)
from infermem.schedule.synthetic import nasnet_onnx, random_cells

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
ZOO = ("inception_v1", "inception_v2", "densenet121", "squeezenet", "shufflenet", "resnet50")
TFLITE = ("inception_block_f32", "inception_block_int8", "resnet_int8", "tiny_unet_int8",
          "mobilenet_v2_int8", "mobilenet_v3_small_int8")  # fmt: skip
NASNET_CELLS = (2, 4, 7, 10)


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path | Graph]  # a model file in the temp dir, or a bare Graph


def cases(stress: bool) -> list[Case]:
    out = [Case(f"light_{z}", lambda _t, z=z: LIGHT / f"light_{z}.onnx") for z in ZOO]
    out += [Case(f, lambda _t, f=f: FIXTURES / f"{f}.tflite") for f in TFLITE]
    out.append(Case("inception_block_f32.onnx", lambda _t: FIXTURES / "inception_block_f32.onnx"))
    for c in NASNET_CELLS:
        out.append(Case(f"nasnet_a_{c}cells", lambda t, c=c: _save(nasnet_onnx(c, 8, 16), t, c)))
    if stress:
        out += [Case(f"random_cells_10_s{s}", lambda _t, s=s: random_cells(10, s))
                for s in range(8)]
    return out


def _save(model: onnx.ModelProto, tmp: Path, cells: int) -> Path:
    path = tmp / f"nasnet_a_{cells}cells.onnx"
    onnx.save(model, str(path))
    return path


def same_outputs_onnx(src: Path, dst: Path, g: Graph) -> bool:
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    feeds = {}
    for i in onnx.load(str(src), load_external_data=False).graph.input:
        if i.name in g.inputs:
            t = g.tensors[i.name]
            feeds[i.name] = rng.normal(size=t.shape).astype(t.dtype)
    runs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feeds)
            for p in (src, dst)]  # fmt: skip
    return all(a.tobytes() == b.tobytes() for a, b in zip(*runs, strict=True))


def tflm_check(src: Path, dst: Path) -> tuple[bool, int, int]:
    """(outputs identical, TFLM head of src, TFLM head of dst), measured."""
    from infermem.tflm._model import read_model
    from infermem.tflm.inputs import random_inputs
    from infermem.tflm.measure import run

    inputs = [random_inputs(read_model(src), 0)]
    a, b = run(src, inputs), run(dst, inputs)
    same = all(x.tobytes() == y.tobytes() for x, y in zip(a.outputs[0], b.outputs[0], strict=True))
    return same, a.head_bytes, b.head_bytes


def measure(case: Case, tmp: Path, time_limit: float) -> dict:
    made = case.make(tmp)
    g = made if isinstance(made, Graph) else load(made)
    s: Schedule = best_order(g, time_limit=time_limit)
    assert live_peak(g, s.order) == s.peak_bytes
    r = {"model": case.name, "ops": len(g.operators), "bp": branch_points(g), "s": s,
         "same": None, "heads": None}  # fmt: skip
    if isinstance(made, Path):
        dst = tmp / f"reordered_{made.name}"
        if g.format == "tflite":
            write_order_tflite(made, dst, s.order)
            same, h0, h1 = tflm_check(made, dst)
            r["heads"] = (h0, h1)
        else:
            write_order_onnx(made, dst, s.order, g)
            same = same_outputs_onnx(made, dst, g)
        g2 = load(dst)
        r["same"] = same and live_peak(g2, g2.file_order) == s.peak_bytes
    return r


COLUMNS = ("model", "ops", "branch pts", "file-order peak", "best peak", "saving", "lower bound",
           "proven", "method", "time", "same outputs", "TFLM head file → best")  # fmt: skip


def row(r: dict) -> list[str]:
    s: Schedule = r["s"]
    heads = f"{r['heads'][0]:,} → {r['heads'][1]:,}" if r["heads"] else ""
    same = "" if r["same"] is None else "yes" if r["same"] else "NO"
    return [r["model"], str(r["ops"]), str(r["bp"]), f"{s.file_order_peak_bytes:,}",
            f"{s.peak_bytes:,}", f"{s.saving_percent:.1f}%", f"{s.lower_bound_bytes:,}",
            "yes" if s.proven_optimal else "no", s.method, f"{s.seconds:.2f} s", same, heads]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--time-limit", type=float, default=10.0, help="per model (default 10 s)")
    ap.add_argument("--stress", action="store_true", help="add random-size NASNet-shaped graphs")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    todo = cases(args.stress)
    if args.only:
        wanted = set(args.only.split(","))
        todo = [c for c in todo if c.name in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="infermem-reorder-bench-") as tmp:
        for c in todo:
            rows.append(measure(c, Path(tmp), args.time_limit))
            if not args.markdown:
                print("  ".join(row(rows[-1])), flush=True)
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
        for r in rows:
            print("| " + " | ".join(row(r)) + " |")
    bad = [r["model"] for r in rows if r["same"] is False]
    never_worse = all(r["s"].peak_bytes <= r["s"].file_order_peak_bytes for r in rows)
    print(f"\n{len(rows)} models; proven optimal: {sum(r['s'].proven_optimal for r in rows)}; "
          f"never above the file's order: {never_worse}; outputs differ: {bad or 'none'}")
    return 0 if never_worse and not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
