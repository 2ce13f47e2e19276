"""`infermem quantize MODEL.onnx -o OUT.onnx`: real int8 quantization, measured."""

from __future__ import annotations

import json

from ._common import (
    add_budget_arg,
    add_force_arg,
    add_input_shape_arg,
    add_json_arg,
    add_output_arg,
    add_seed_arg,
    check_outputs,
    console,
)


def add_parser(sub) -> None:
    p = sub.add_parser("quantize", help="int8-quantize an ONNX model with onnxruntime; report "
                                        "weights, arena and output error before/after")
    p.add_argument("model", help="float ONNX model (.onnx); never modified")
    add_output_arg(p, "the quantized model", required=True, metavar="OUT.onnx")
    p.add_argument("--calibration", default="16", metavar="DIR|N",
                   help="folder of .npy/.npz samples, or N seeded random inputs (default 16)")
    p.add_argument("--weights-only", action="store_true",
                   help="dynamic quantization: int8 weights, activations quantized at run time")
    p.add_argument("--per-tensor", action="store_true",
                   help="one scale per weight tensor instead of per output channel")
    add_seed_arg(p)
    add_input_shape_arg(p)
    add_budget_arg(p)
    add_json_arg(p)
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import quantize
    from ..outputs import written
    from ..report.quantize_table import render_quantize

    check_outputs([args.model], args.force, {"-o": args.output})
    r = quantize(args.model, args.output, calibration=args.calibration,
                 weights_only=args.weights_only, per_channel=not args.per_tensor, seed=args.seed,
                 input_shapes=dict(args.input_shape), force=args.force)
    written(r.result.output)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        render_quantize(r.result, console())
    return 0
