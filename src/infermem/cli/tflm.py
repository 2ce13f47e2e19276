"""`infermem tflm measure MODEL`: the arena a model really uses in TFLite Micro."""

from __future__ import annotations

import json

from ._common import (
    add_arena_size_arg,
    add_json_arg,
    add_model_args,
    add_timeout_arg,
    console,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser("tflm", help="TensorFlow Lite Micro: measure the real arena")
    tsub = p.add_subparsers(dest="tflm_command", metavar="ACTION", required=True)
    m = tsub.add_parser(
        "measure",
        help="run the model in TFLM and report head, tail, total and the minimum arena_size",
    )
    add_model_args(m, "a .tflite model")
    add_json_arg(m)
    m.add_argument(
        "--no-bisect", action="store_true", help="skip the search for the minimum arena_size"
    )
    add_arena_size_arg(m)
    add_timeout_arg(m)
    m.set_defaults(func=run_measure)


def run_measure(args) -> int:
    from ..api import measure
    from ..report.units import human_bytes

    r = measure(args.model, bisect=not args.no_bisect, arena_size=args.arena_size,
                timeout=args.timeout, alignment=args.align, input_shapes=dict(args.input_shape))
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
        return 0
    a = r.arena
    from rich.table import Table  # rich: only for the table (every command parses this)

    t = Table(title=f"TFLM arena of {args.model} (measured)")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    t.add_column("", justify="right")
    rows = [
        ("head (planned tensors, scratch)", a.head_bytes),
        ("tail (persistent runtime data)", a.tail_bytes),
        ("total", a.total_bytes),
        ("minimum arena_size that runs", a.min_arena_bytes),
        (_predicted_label(r.stored_offline_plan), r.predicted_head_bytes),
    ]
    for name, n in rows:
        t.add_row(name, "-" if n is None else f"{n:,}", human_bytes(n))
    c = console()
    c.print(t)
    if r.stored_offline_plan is not None:
        c.print(r.stored_offline_plan.describe(), highlight=False)
    print_shape_notes(r.shapes["shape_notes"])
    return 0


def _predicted_label(stored) -> str:
    if stored is None:
        return "head predicted by infermem (tflm planner)"
    return "head predicted by infermem (with the file's offline plan)"

