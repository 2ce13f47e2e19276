"""`infermem verify MODEL.onnx`: run the model inside a plan's arena, compare
with onnxruntime, exit 1 on the first difference (naming output, operator
and tensor)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import BadInput
from ._common import (
    add_allow_constant_arg,
    add_dmo_arg,
    add_inputs_arg,
    add_json_arg,
    add_model_args,
    add_reorder_arg,
    add_runs_arg,
    add_seed_arg,
    add_strategy_arg,
    add_time_limit_arg,
    console,
    load_graph,
    shape_json,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "verify", help="prove a plan: run an ONNX model in its arena, compare with onnxruntime"
    )
    add_model_args(p, "model file (.onnx only: infermem's arena executor runs ONNX; a .tflite "
                      "plan is proven in TFLM by `infermem optimize`)", optional=True)
    p.add_argument("--list-ops", action="store_true",
                   help="print the operator types the arena executor runs, and exit")
    p.add_argument("--plan", type=Path, metavar="PLAN.json",
                   help="plan JSON written by `infermem plan -o` (instead of planning here)")
    add_strategy_arg(p)
    add_time_limit_arg(p)
    add_reorder_arg(p)
    add_dmo_arg(p)
    add_inputs_arg(p)
    add_runs_arg(p, 3)
    add_allow_constant_arg(p)
    add_seed_arg(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..runtime.planfile import load_inputs, read_plan
    from ..runtime.verify import random_inputs, verify

    if args.list_ops:
        from ..runtime.kernels import supported

        print("\n".join(supported()))
        return 0
    if not args.model:
        raise BadInput("verify needs a model file (or --list-ops)")
    graph = load_graph(args)
    if graph.format != "onnx":
        raise BadInput(f"{args.model}: `infermem verify` runs ONNX models in infermem's arena "
                       "executor; a .tflite plan is proven in TFLM by `infermem optimize`")
    if args.runs < 0 or (args.runs == 0 and not args.inputs):
        raise BadInput(f"--runs must be at least 1 (or 0 with --inputs), got {args.runs}")
    if args.plan:
        if args.dmo or args.reorder:
            raise BadInput("--dmo and --reorder shape a new plan; they do not apply to --plan")
        plan = read_plan(args.plan, graph)
        offsets, arena, order, strategy = plan.offsets, plan.arena_bytes, plan.order, plan.strategy
    else:
        pm = _plan(graph, args)
        offsets, arena, order = pm.plan.offsets, pm.plan.arena_bytes, pm.order
        strategy = pm.plan.strategy + (" + DMO" if args.dmo else "")
    inputs = [load_inputs(args.inputs, graph)] if args.inputs else []
    inputs += [random_inputs(graph, args.seed + i) for i in range(args.runs)]
    report = verify(graph, graph.source or args.model, offsets, arena, order, inputs, strategy,
                    allow_constant_outputs=args.allow_constant_outputs)
    if args.json:
        print(json.dumps({**report.to_dict(), **shape_json(graph.meta)}, indent=2))
    else:
        from rich.markup import escape

        style = "green" if report.ok else "bold red"
        console(highlight=False).print(f"[{style}]{escape(report.summary())}[/{style}]",
                                       soft_wrap=True)
    return 0 if report.ok else 1


def _plan(graph, args):
    from ..planning import plan_model

    try:
        return plan_model(graph, args.strategy, args.time_limit, args.align, args.reorder,
                          args.dmo)
    except ImportError as e:
        what = "--dmo" if args.dmo else "--reorder" if args.reorder else "planning"
        raise BadInput(f"{what} is not available in this build ({e})") from None
