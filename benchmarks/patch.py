"""Patch-based inference (`infermem optimize --patch`), measured in TFLM (--onnx: ONNX).

    python benchmarks/patch.py [--models NAME,...] [--dmo] [--grid auto|RxC]
                               [--rank plan|tflm] [--markdown]
    python benchmarks/patch.py --onnx [--models NAME,...] [--grid auto|RxC] [--markdown]

Models: the `.tflite` files of tests/corpus/ (MobileNet v2 0.35 @ 96, MobileNet
v1 0.25 @ 96, ResNet-8, MobileNet v3 small, EfficientNet small; f32 and int8)
plus, when present, the MobileNet v2 variants `scripts/make_patch_models.py`
writes into benchmarks/.models/ (1.0 @ 224, 0.35 @ 224, 1.0 @ 96; too large
to commit):

    /work/venv-tf/bin/python scripts/make_patch_models.py

Per model, `optimize_patched` (the library behind `optimize --patch`) chooses
the stage end and grid (smallest planned arena with at most 25% more MACs;
`--rank plan`, the default, ranks the candidates by the plan written, as
`optimize --patch` does; `--rank tflm` by TFLM's own planner, for comparison),
plans it with infermem's `best` (and DMO with --dmo), writes the offline plan
and runs original and rewritten model in TFLM on three seeded random input
sets; the columns are

- TFLM head: what TFLM's own arena head is for the original (measured);
- patched head: the head TFLM measures running the rewritten, planned model;
  `=plan` when it equals infermem's planned arena;
- ratio: TFLM head / patched head;
- MACs, operators, flash (file bytes): before -> after (halo recomputation,
  slices, pads and concatenations, their index constants);
- ms: the wall time of one TFLM inference (fastest of the three), before -> after;
- ok: every output bit-identical to the original model's.

With --onnx: the ONNX CNNs of tests/corpus/ and tests/fixtures/ (symbolic
dims fixed as `--input-shape` does) and onnx's own `light_*` zoo models,
each through `optimize_onnx` (the library behind `optimize MODEL.onnx
--patch --dmo`): the rewrite chosen by TFLM's greedy planner on the ONNX
graph, planned with `best` with and without DMO (arenas computed by
infermem's planner, for infermem's arena executor), checked against the
original in onnxruntime on three seeded random input sets, graph outputs
and the stage's output (`=` bit-identical, else the largest difference;
`(stage)`: the light models' weights are constant fills, so their softmax
is the same for every input and only the stage's output, which varies, is
evidence) and by `infermem verify` in its `best + DMO`
arena (every tensor against onnxruntime); `ms` is one onnxruntime inference
(graph optimisations off), fastest of three, before -> after.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from infermem.errors import InfermemError
from infermem.rewrite.choose import TFLM_PLANNER
from infermem.rewrite.optimize import optimize_patched

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
CACHE = ROOT / "benchmarks" / ".models"


def models(only: set[str] | None) -> list[Path]:
    found = sorted(CORPUS.glob("*.tflite")) + sorted(CACHE.glob("*.tflite"))
    return [p for p in found if only is None or p.stem in only]


def measure(src: Path, grid: str, dmo: bool, tmp: Path, rank: str = "plan") -> dict:
    t0 = time.perf_counter()
    try:
        r = optimize_patched(src, tmp / src.name, grid, dmo=dmo, runs=3, timeout=600.0,
                             force=True, rank=TFLM_PLANNER if rank == "tflm" else None)
    except InfermemError as e:
        return {"model": src.stem, "error": str(e).splitlines()[0]}
    v, p = r.optimize.verification, r.patch
    row = {"model": src.stem, "tflm": v.head_before, "after": v.head_after,
           "planned": r.optimize.planned_arena_bytes, "ok": v.verified,
           "ms": (v.seconds_before * 1e3, v.seconds_after * 1e3), "reason": r.reason,
           "seconds": time.perf_counter() - t0, "ranked_by": r.choice.ranked_by}
    if p is not None:
        row.update(grid=f"{p.grid[0]}x{p.grid[1]}", until=p.stage_ops[-1],
                   macs=(p.macs_before, p.macs_after), ops=(p.ops_before, p.ops_after),
                   flash=(p.flash_before, p.flash_after))
    return row


def _pair(x: tuple, scale: float = 1.0, fmt: str = ",.0f") -> str:
    return f"{x[0] / scale:{fmt}} -> {x[1] / scale:{fmt}}"


def table(rows: list[dict], markdown: bool) -> str:
    head = ["model", "TFLM head", "patched head", "ratio", "grid (ops 0..N)", "MACs (M)",
            "operators", "flash (KB)", "ms / inference", "ok", "s"]
    return _render(head, [_line(r, head, _tflm_line) for r in rows], rows, markdown)


def _line(r: dict, head: list[str], line) -> list:
    """One table row: `line(r)`, or the error across the row."""
    if "error" in r:
        return [r["model"], "error: " + r["error"]] + [""] * (len(head) - 2)
    return line(r)


def _tflm_line(r: dict) -> list:
    same = " =plan" if r["after"] == r["planned"] else f" (plan {r['planned']:,})"
    grid = f"{r['grid']} (0..{r['until']})" if "grid" in r else "not patched"
    return [
        r["model"], f"{r['tflm']:,}", f"{r['after']:,}{same}",
        f"{r['tflm'] / r['after']:.2f}x", grid,
        _pair(r["macs"], 1e6, ",.1f") if "macs" in r else "",
        _pair(r["ops"]) if "ops" in r else "",
        _pair(r["flash"], 1e3) if "flash" in r else "",
        _pair(r["ms"], 1, ",.1f"), "yes" if r["ok"] else "NO", f"{r['seconds']:.0f}",
    ]  # fmt: skip


LIGHT = "light"  # onnx's backend test models, beside the onnx package
ONNX_MODELS = {  # stem -> (folder, input shapes for the symbolic dims)
    "mobilenet_v2_tf2onnx": ("corpus", {"input": (1, 96, 96, 3)}),
    "resnet8_tf2onnx": ("corpus", {"input": (1, 32, 32, 3)}),
    "resnet18_torchvision": ("corpus", {"input": (1, 3, 96, 96)}),
    "resnet18_torchvision_int8_qdq": ("corpus", {"input": (1, 3, 96, 96)}),
    "unet_seg": ("corpus", {"input": (1, 3, 128, 128)}),
    "yolov8n_det": ("corpus", {"images": (1, 3, 160, 160)}),
    "mobilenet_v1_dynbatch": ("fixtures", {"input": (1, 3, 96, 96)}),
    "ds_cnn_f32": ("fixtures", {}),
    "inception_block_f32": ("fixtures", {}),
    **{f"light_{m}": (LIGHT, {}) for m in ("squeezenet", "vgg19", "resnet50", "inception_v1",
                                            "shufflenet", "densenet121", "zfnet512",
                                            "bvlc_alexnet")},
}  # fmt: skip


def onnx_path(stem: str, folder: str) -> Path:
    if folder == LIGHT:
        import onnx

        return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"{stem}.onnx"
    return ROOT / "tests" / folder / f"{stem}.onnx"


def measure_onnx(stem: str, grid: str, tmp: Path) -> dict:
    from infermem.planning import plan_model
    from infermem.rewrite.onnx_optimize import optimize_onnx
    from infermem.rewrite.onnx_patch import OnnxSource

    folder, shapes = ONNX_MODELS[stem]
    src, t0 = onnx_path(stem, folder), time.perf_counter()
    try:
        r = optimize_onnx(src, tmp / f"{stem}.onnx", patch=grid, dmo=True, runs=3,
                          input_shapes=shapes, force=True,
                          allow_constant_outputs=folder == LIGHT)
    except InfermemError as e:
        return {"model": stem, "error": str(e).splitlines()[0]}
    row = {"model": stem, "shape": "x".join(map(str, next(iter(shapes.values()), ()))),
           "dmo": (r.arena_before, r.arena_after), "reason": r.reason, "ok": True,
           "ranked_by": r.choice.ranked_by}
    source = OnnxSource(src, shapes)
    best = plan_model(source.graph).plan.arena_bytes
    p, c = r.patch, r.check
    row["best"] = (best, best)
    if p is not None:
        after = plan_model(source.load(p.data, "patched")).plan.arena_bytes
        row.update(best=(best, after), grid=f"{p.grid[0]}x{p.grid[1]}", until=p.stage_ops[-1],
                   macs=(p.macs_before, p.macs_after), ops=(p.ops_before, p.ops_after),
                   flash=(p.flash_before, p.flash_after), ok=r.verified,
                   ms=(c.seconds_before * 1e3, c.seconds_after * 1e3),
                   same=("=" if c.bit_identical else f"{c.max_error:.1e}")
                   + ("" if not c.constant_outputs else " (stage)"))
        row["ok"] = r.verified and c.stage_output_varies
    row["seconds"] = time.perf_counter() - t0
    return row


def onnx_table(rows: list[dict], markdown: bool) -> str:
    head = ["model", "best arena", "best + DMO", "ratio (DMO)", "grid (ops 0..N)", "MACs (M)",
            "operators", "file (KB)", "ORT ms", "ORT outputs", "verify", "s"]
    return _render(head, [_line(r, head, _onnx_line) for r in rows], rows, markdown)


def _onnx_line(r: dict) -> list:
    patched = "grid" in r
    return [
        r["model"], _pair(r["best"]), _pair(r["dmo"]), f"{r['dmo'][0] / r['dmo'][1]:.2f}x",
        f"{r['grid']} (0..{r['until']})" if patched else "not patched",
        _pair(r["macs"], 1e6, ",.1f") if patched else "",
        _pair(r["ops"]) if patched else "", _pair(r["flash"], 1e3) if patched else "",
        _pair(r["ms"], 1, ",.1f") if patched else "", r.get("same", ""),
        ("ok" if r["ok"] else "FAILED") if patched else "", f"{r['seconds']:.0f}",
    ]  # fmt: skip


def _render(head: list[str], lines: list[list], rows: list[dict], markdown: bool) -> str:
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
        out = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
               for line in [head, *lines]]
    notes = [f"- {r['model']}: {r['reason']}" for r in rows if "grid" not in r and "reason" in r]
    ranked = sorted({r["ranked_by"] for r in rows if "ranked_by" in r})
    notes += [f"(candidates ranked by {', '.join(ranked)}; s: the whole optimize --patch call)"]
    return "\n".join(out + [""] + notes)


def main_onnx(args) -> int:
    only = set(args.models.split(",")) if args.models else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="infermem-patch-bench-") as tmp:
        for stem in ONNX_MODELS:
            if only is None or stem in only:
                print(f"{stem} ...", file=sys.stderr, flush=True)
                rows.append(measure_onnx(stem, args.grid, Path(tmp)))
                print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print(onnx_table(rows, args.markdown))
    return 0 if all(r.get("ok", False) for r in rows) else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="comma-separated model stems")
    ap.add_argument("--grid", default="auto", help="'auto' (default) or RxC")
    ap.add_argument("--dmo", action="store_true", help="plan with DMO overlaps as well")
    ap.add_argument("--rank", choices=("plan", "tflm"), default="plan",
                    help="rank candidates by the plan written (default) or TFLM's planner")
    ap.add_argument("--onnx", action="store_true", help="the ONNX models instead (always DMO)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if args.onnx:
        return main_onnx(args)
    only = set(args.models.split(",")) if args.models else None
    rows = []
    with tempfile.TemporaryDirectory(prefix="infermem-patch-bench-") as tmp:
        for src in models(only):
            print(f"{src.stem} ...", file=sys.stderr, flush=True)
            rows.append(measure(src, args.grid, args.dmo, Path(tmp), args.rank))
    if not (CACHE.is_dir() and any(CACHE.glob("*.tflite"))):
        print("(no benchmarks/.models: run scripts/make_patch_models.py for MobileNet v2 "
              "1.0 @ 224, 0.35 @ 224, 1.0 @ 96)", file=sys.stderr)
    print(table(rows, args.markdown))
    return 0 if all(r.get("ok", False) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
