"""`infermem plan MODEL`: an arena plan, validated, with its exports."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import (
    add_dmo_arg,
    add_force_arg,
    add_fuse_arg,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_patch_args,
    add_plot_arg,
    add_reorder_arg,
    add_strategy_arg,
    add_time_limit_arg,
    check_outputs,
    console,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="plan the arena: offsets per tensor, validated")
    add_model_args(p)
    add_strategy_arg(p)
    add_time_limit_arg(p)
    add_reorder_arg(p)
    add_dmo_arg(p)
    add_fuse_arg(p)
    p.add_argument(
        "--explain",
        action="store_true",
        help="with --dmo: per operator, the overlap proven, its method, and the "
        "overlap the plan uses",
    )
    add_patch_args(p)
    add_json_arg(p)
    add_output_arg(p, "the plan as JSON", metavar="PLAN.json")
    p.add_argument("--header", type=Path, help="write a C header with the offsets")
    add_plot_arg(p, "the arena layout")
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import plan, plan_patched
    from ..api.patching import check_patch
    from ..kvcache import kv_line
    from ..outputs import write_text, written
    from ..report.layout_plot import check_plot_path
    from ..report.units import human_bytes

    check_outputs([args.model], args.force,
                  {"-o": args.output, "--header": args.header, "--plot": args.plot})
    if args.plot is not None:
        check_plot_path(args.plot)
    kw = dict(strategy=args.strategy, time_limit=args.time_limit, alignment=args.align,
              reorder=args.reorder, dmo=args.dmo, explain=args.explain, fuse=args.fuse,
              input_shapes=dict(args.input_shape))  # fmt: skip
    patched = None
    if args.patch is None:
        check_patch(None, args.patch_until, args.max_mac_overhead)
        r = plan(args.model, **kw)
    else:
        patched = plan_patched(args.model, patch=args.patch, patch_until=args.patch_until,
                               max_mac_overhead=args.max_mac_overhead, **kw)
        r = patched.result
    doc = patched.to_json() if patched else r.to_json()
    if args.output:
        written(write_text(args.output, json.dumps(doc, indent=2)))
    if args.header:
        written(write_text(args.header, r.to_header()))
    if args.plot:
        r.plot(args.plot)
        written(args.plot)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    pm, p = r.planned, r.planned.plan
    print_shape_notes(pm.graph.meta.get("shape_notes", ()))
    optimal = {True: "proven optimal", False: "not proven optimal", None: ""}[p.optimal]
    if p.optimal and p.gap > 0:
        optimal = "proven optimal by the solver (overlaps make the bound weaker)"
    out = console()
    out.print(
        f"[bold]{pm.graph.name}[/bold]: arena {human_bytes(p.arena_bytes)} ({p.arena_bytes:,} B) "
        f"with strategy {p.strategy}; live-set lower bound {p.lower_bound_bytes:,} B, "
        f"gap {p.gap:.2%} {optimal}; {len(pm.problem.buffers)} buffers, validated, "
        f"{p.seconds * 1000:.1f} ms"
    )
    if r.kv_cache is not None:
        out.print(kv_line(r.kv_cache), highlight=False, end="")
    if patched is not None:
        _print_patch(out, patched)
    if r.order_change is not None:
        out.print(r.order_change.describe(), highlight=False)
    if r.fusion is not None:
        out.print(r.fusion.describe(), highlight=False)
    if r.stored_offline_plan is not None:
        out.print(r.stored_offline_plan.describe()
                  + "; `infermem optimize` would replace it with this plan", highlight=False)
    if r.dmo_rows is not None:
        from ..overlap.report import render_explain

        render_explain(list(r.dmo_rows), out)
    return 0


def _print_patch(out, patched) -> None:
    """Before/after: the arena, and what the rewrite costs."""
    d = patched.patch_json()
    if not d["patched"]:
        out.print(f"patch not applied: {d['reason']}", highlight=False)
        return
    saved = d["arena_before"] - d["arena_after"]
    out.print(f"patched (what-if, no file written): {d['reason']}", highlight=False)
    out.print(f"arena {d['arena_before']:,} B -> {d['arena_after']:,} B ({saved:,} B saved, "
              f"{d['arena_before'] / max(d['arena_after'], 1):.2f}x smaller); "
              + ("TFLM's own planner " if patched.before.planned.graph.format == "tflite" else
                 "TFLM's greedy planner on the ONNX graph ") +
              f"{d['tflm_planner_arena_before']:,} B -> "
              f"{d['tflm_planner_arena_after']:,} B", highlight=False)
