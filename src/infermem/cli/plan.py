"""`infermem plan MODEL`: an arena plan, validated, with its exports."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import (
    add_dmo_arg,
    add_force_arg,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_reorder_arg,
    add_strategy_arg,
    add_time_limit_arg,
    check_outputs,
    console,
    load_graph,
    shape_json,
)


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="plan the arena: offsets per tensor, validated")
    add_model_args(p)
    add_strategy_arg(p)
    add_time_limit_arg(p)
    add_reorder_arg(p)
    add_dmo_arg(p)
    p.add_argument(
        "--explain",
        action="store_true",
        help="with --dmo: per operator, the overlap proven, its method, and the "
        "overlap the plan uses",
    )
    add_json_arg(p)
    add_output_arg(p, "the plan as JSON", metavar="PLAN.json")
    p.add_argument("--header", type=Path, help="write a C header with the offsets")
    p.add_argument("--plot", type=Path,
                   help="draw the arena layout to this image (.png, .svg or .pdf)")
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..outputs import write_text, written
    from ..planning import order_change, plan_model
    from ..report.layout_plot import check_plot_path
    from ..report.plan_export import plan_to_header, plan_to_json
    from ..report.units import human_bytes

    check_outputs([args.model], args.force,
                  {"-o": args.output, "--header": args.header, "--plot": args.plot})
    if args.plot is not None:
        check_plot_path(args.plot)
    graph = load_graph(args)
    pm = plan_model(graph, args.strategy, args.time_limit, args.align, args.reorder, args.dmo)
    doc = {**plan_to_json(graph.name, pm.problem, pm.plan, pm.order), **shape_json(graph.meta)}
    from ..tflm.stored import stored_plan_of

    stored = stored_plan_of(graph)
    doc["stored_offline_plan"] = stored.to_json() if stored else None
    change = order_change(pm, args.align) if args.reorder else None
    doc["order_change"] = change.to_json() if change else None
    rows = None
    if args.explain:
        if not args.dmo:
            from ..errors import BadInput

            raise BadInput("--explain lists the DMO overlaps: give --dmo too")
        from ..overlap import explain

        rows = explain(graph, pm.order, pm.problem, pm.plan)
        doc["dmo"] = rows
    if args.output:
        written(write_text(args.output, json.dumps(doc, indent=2)))
    if args.header:
        written(write_text(args.header, plan_to_header(graph.name, pm.problem, pm.plan)))
    if args.plot:
        from ..report.layout_plot import plot_layout

        plot_layout(pm.problem, pm.plan, args.plot, title=f"{graph.name}: {pm.plan.strategy}")
        written(args.plot)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    p = pm.plan
    optimal = {True: "proven optimal", False: "not proven optimal", None: ""}[p.optimal]
    if p.optimal and p.gap > 0:
        optimal = "proven optimal by the solver (overlaps make the bound weaker)"
    console().print(
        f"[bold]{graph.name}[/bold]: arena {human_bytes(p.arena_bytes)} ({p.arena_bytes:,} B) "
        f"with strategy {p.strategy}; live-set lower bound {p.lower_bound_bytes:,} B, "
        f"gap {p.gap:.2%} {optimal}; {len(pm.problem.buffers)} buffers, validated, "
        f"{p.seconds * 1000:.1f} ms"
    )
    if change is not None:
        console(highlight=False).print(change.describe())
    if stored is not None:
        console(highlight=False).print(
            stored.describe() + "; `infermem optimize` would replace it with this plan",
            soft_wrap=True)
    if rows is not None:
        from ..overlap.report import render_explain

        render_explain(rows, console())
    return 0
