"""`infermem plan MODEL`: an arena plan, validated, with its exports."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from ._common import add_force_arg, add_model_args, check_outputs, load_graph, shape_json


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="plan the arena: offsets per tensor, validated")
    add_model_args(p)
    p.add_argument("--strategy", default="best", help="planner strategy (default: best)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=10.0,
        metavar="S",
        help="time limit for exact/search strategies, seconds",
    )
    p.add_argument(
        "--reorder", action="store_true", help="plan on the memory-optimal operator order"
    )
    p.add_argument(
        "--dmo",
        action="store_true",
        help="let outputs overlap inputs where proven safe (diagonal memory optimisation)",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="with --dmo: per operator, the overlap proven, its method, and the "
        "overlap the plan uses",
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("-o", "--output", type=Path, help="write the plan JSON to this file")
    p.add_argument("--header", type=Path, help="write a C header with the offsets")
    p.add_argument("--plot", type=Path,
                   help="draw the arena layout to this image (.png, .svg or .pdf)")
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..outputs import write_text, written
    from ..planning import plan_model
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
    Console().print(
        f"[bold]{graph.name}[/bold]: arena {human_bytes(p.arena_bytes)} ({p.arena_bytes:,} B) "
        f"with strategy {p.strategy}; live-set lower bound {p.lower_bound_bytes:,} B, "
        f"gap {p.gap:.2%} {optimal}; {len(pm.problem.buffers)} buffers, validated, "
        f"{p.seconds * 1000:.1f} ms"
    )
    if stored is not None:
        Console(highlight=False).print(
            stored.describe() + "; `infermem optimize` would replace it with this plan",
            soft_wrap=True)
    if rows is not None:
        from ..overlap.report import render_explain

        render_explain(rows, Console())
    return 0
