"""Diagonal memory optimisation on the `.tflite` fixture zoo, measured in TFLM.

    python benchmarks/dmo.py [--models resnet_int8,ds_cnn_f32] [--reorder] [--markdown]

Per model:

- TFLM head: the arena head TFLM itself uses for the original model
  (measured: `print_allocations` of the tflite-micro interpreter);
- best, no overlap: infermem's best plan of TFLM's own problem (scratch
  buffers placed as TFLM places them) - the live-set bound caps this one;
- DMO plan: the same with the proven output/input overlaps (analytic rules);
- DMO bound: the planner's lower bound with those overlaps;
- DMO head: the head TFLM measures running the DMO-optimised model (offline
  plan), whose outputs must be bit-identical to the original's on three
  seeded random input sets (`ok`);
- saving: 1 - DMO head / TFLM head.

With --reorder the operators are first rewritten in the lowest-peak order (as
`infermem optimize --reorder --dmo` does) and both plans use it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from infermem.planners import lower_bound
from infermem.tflm import write_offline_plan
from infermem.tflm.empirical import Prober
from infermem.tflm.optimize import plan_offsets

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def reordered(src: Path, tmp: Path) -> Path:
    from infermem.frontends import load
    from infermem.schedule import best_order, write_order_tflite

    order = tuple(best_order(load(src), time_limit=10.0).order)
    if order == tuple(range(len(order))):
        return src
    dst = tmp / f"reordered_{src.name}"
    write_order_tflite(src, dst, order)
    return dst


def measure(src: Path, reorder: bool, tmp: Path) -> dict:
    t0 = time.perf_counter()
    base = reordered(src, tmp) if reorder else src
    _, _, plain, _ = plan_offsets(base, "best")
    tp, _, dmo, _ = plan_offsets(base, "best", dmo=True)
    out = tmp / f"dmo_{src.name}"
    write_offline_plan(base, out, {tp.tensor_buffers[n]: o for n, o in dmo.offsets.items()
                                   if n in tp.tensor_buffers})  # fmt: skip
    with Prober(src, runs=3) as prober:
        ok, head = prober.compare(out)
        tflm = prober.head
    return {
        "model": src.stem,
        "tflm_head": tflm,
        "best_plain": plain.arena_bytes,
        "dmo_plan": dmo.arena_bytes,
        "dmo_bound": lower_bound(tp.problem),
        "dmo_head": head,
        "ok": ok,
        "pairs": sum(1 for o in tp.problem.overlaps if o.max_bytes > 0),
        "saving": 1 - head / tflm if head else float("nan"),
        "seconds": time.perf_counter() - t0,
    }


COLUMNS = ("model", "TFLM head", "best, no overlap", "DMO plan", "DMO bound", "DMO head (TFLM)",
           "ok", "saving")  # fmt: skip


def row(r: dict) -> list[str]:
    return [r["model"], f"{r['tflm_head']:,}", f"{r['best_plain']:,}", f"{r['dmo_plan']:,}",
            f"{r['dmo_bound']:,}", f"{r['dmo_head']:,}", "yes" if r["ok"] else "NO",
            f"{r['saving']:.1%}"]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="comma-separated fixture stems (default: all .tflite)")
    ap.add_argument("--reorder", action="store_true", help="lowest-peak operator order first")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    paths = sorted(FIXTURES.glob("*.tflite"))
    if args.models:
        wanted = set(args.models.split(","))
        paths = [p for p in paths if p.stem in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="infermem-dmo-bench-") as tmp:
        for p in paths:
            rows.append(measure(p, args.reorder, Path(tmp)))
            if not args.markdown:
                print("  ".join(row(rows[-1])), f"({rows[-1]['seconds']:.1f} s)", flush=True)
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
        for r in rows:
            print("| " + " | ".join(row(r)) + " |")
    savings = [r["saving"] for r in rows]
    print(
        f"\n{len(rows)} models, all outputs bit-identical: {all(r['ok'] for r in rows)}; "
        f"saving vs TFLM's own head: median {statistics.median(savings):.1%}, "
        f"best {max(savings):.1%}, worst {min(savings):.1%}"
    )
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
