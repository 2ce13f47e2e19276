"""`infermem report MODEL -o OUT.html`: one self-contained HTML page.

Thin: gathers with `report.gather`, renders with `report.html`, writes the
file through the output guard (`outputs`) and confirms it on stderr.
"""

from __future__ import annotations

import argparse
import json

from ._common import (
    add_device_arg,
    add_force_arg,
    add_fuse_arg,
    add_json_arg,
    add_model_args,
    add_no_measure_arg,
    add_output_arg,
    add_patch_args,
    add_strategy_arg,
    add_time_limit_arg,
    check_outputs,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML memory report for a model")
    add_model_args(p)
    add_output_arg(p, "the HTML page", metavar="OUT.html")
    add_json_arg(p)
    add_strategy_arg(p)
    add_time_limit_arg(p, 5.0)
    add_no_measure_arg(p)
    p.add_argument("--no-tflm", dest="measure", action="store_false", help=argparse.SUPPRESS)
    add_device_arg(p, "a spread of seven")
    p.add_argument("--runtimes", metavar="R", default=None,
                   help="also run the model in these runtimes (all, or a comma list, as "
                   "`monitor --runtime`) and add them side by side")
    add_fuse_arg(p)
    add_patch_args(p)
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import report
    from ..errors import BadInput
    from ..outputs import written

    if args.output is None and not args.json:
        raise BadInput("report needs -o OUT.html (the page), --json (the figures), or both")
    check_outputs([args.model], args.force, {"-o": args.output})
    r = report(args.model, args.output, strategy=args.strategy, time_limit=args.time_limit,
               alignment=args.align, measure=args.measure, devices=args.device,
               input_shapes=dict(args.input_shape), force=args.force, runtimes=args.runtimes,
               patch=args.patch, patch_until=args.patch_until,
               max_mac_overhead=args.max_mac_overhead, fuse=args.fuse)
    if args.output is not None:
        written(args.output)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        print_shape_notes(r.data.graph.meta.get("shape_notes", ()))
    return 0
