"""`infermem tflm measure MODEL`: the arena a model really uses in TFLite Micro."""

from __future__ import annotations

import json

from rich.table import Table

from ._common import (
    add_arena_size_arg,
    add_json_arg,
    add_model_args,
    add_timeout_arg,
    check_align,
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
    from ..errors import BadInput
    from ..report.units import human_bytes
    from ..tflm import measure
    from ..tflm.inputs import tflm_input_shapes
    from ..tflm.stored import predict_head

    if args.arena_size is not None and args.arena_size <= 0:
        raise BadInput(f"--arena-size must be positive, got {args.arena_size}")
    check_align(args.align, 16)
    shapes = tflm_input_shapes(args.model, dict(args.input_shape))
    arena = measure(args.model, bisect=not args.no_bisect, arena=args.arena_size,
                    timeout=args.timeout)
    predicted, stored = predict_head(args.model, args.align)
    doc = {
        "model": args.model,
        "head_bytes": arena.head_bytes,
        "tail_bytes": arena.tail_bytes,
        "total_bytes": arena.total_bytes,
        "min_arena_bytes": arena.min_arena_bytes,
        "arena_size": arena.arena_size,
        "predicted_head_bytes": predicted,
        "stored_offline_plan": stored.to_json() if stored else None,
        "source": "measured in the tflite-micro Python interpreter (RecordingMicroAllocator)",
        **shapes,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    t = Table(title=f"TFLM arena of {args.model} (measured)")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    t.add_column("", justify="right")
    rows = [
        ("head (planned tensors, scratch)", arena.head_bytes),
        ("tail (persistent runtime data)", arena.tail_bytes),
        ("total", arena.total_bytes),
        ("minimum arena_size that runs", arena.min_arena_bytes),
        (_predicted_label(stored), predicted),
    ]
    for name, n in rows:
        t.add_row(name, "-" if n is None else f"{n:,}", human_bytes(n))
    c = console()
    c.print(t)
    if stored is not None:
        c.print(stored.describe(), soft_wrap=True)
    print_shape_notes(shapes["shape_notes"])
    return 0


def _predicted_label(stored) -> str:
    if stored is None:
        return "head predicted by infermem (tflm planner)"
    return "head predicted by infermem (with the file's offline plan)"

