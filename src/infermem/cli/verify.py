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
    add_fuse_arg,
    add_inputs_arg,
    add_json_arg,
    add_model_args,
    add_reorder_arg,
    add_runs_arg,
    add_seed_arg,
    add_strategy_arg,
    add_time_limit_arg,
    console,
    print_shape_notes,
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
    add_fuse_arg(p)
    add_inputs_arg(p)
    add_runs_arg(p, 3)
    add_allow_constant_arg(p)
    add_seed_arg(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.markup import escape

    from ..api import verify

    if args.list_ops:
        from ..runtime.kernels import supported

        print("\n".join(supported()))
        return 0
    if not args.model:
        raise BadInput("verify needs a model file (or --list-ops)")
    r = verify(args.model, plan=args.plan, strategy=args.strategy, time_limit=args.time_limit,
               reorder=args.reorder, dmo=args.dmo, fuse=args.fuse, inputs=args.inputs,
               runs=args.runs,
               seed=args.seed, alignment=args.align, input_shapes=dict(args.input_shape),
               allow_constant_outputs=args.allow_constant_outputs)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        print_shape_notes(r.shape_meta.get("shape_notes", ()))
        style = "green" if r.ok else "bold red"
        console(highlight=False).print(f"[{style}]{escape(r.summary())}[/{style}]")
    return 0 if r.ok else 1
