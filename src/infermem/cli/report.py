"""`infermem report MODEL -o OUT.html`: one self-contained HTML page.

Thin: gathers with `report.gather`, renders with `report.html`, writes the
file through the output guard (`outputs`) and confirms it on stderr.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (
    add_device_arg,
    add_force_arg,
    add_model_args,
    add_no_measure_arg,
    add_output_arg,
    add_strategy_arg,
    add_time_limit_arg,
    check_outputs,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML memory report for a model")
    add_model_args(p)
    add_output_arg(p, "the HTML page", required=True, metavar="OUT.html")
    add_strategy_arg(p)
    add_time_limit_arg(p, 5.0)
    add_no_measure_arg(p)
    p.add_argument("--no-tflm", dest="measure", action="store_false", help=argparse.SUPPRESS)
    add_device_arg(p, "a spread of seven")
    p.add_argument("--runtimes", metavar="R", default=None,
                   help="also run the model in these runtimes (all, or a comma list, as "
                   "`monitor --runtime`) and add them side by side")
    add_force_arg(p)
    p.set_defaults(func=run)


def _runtimes(args) -> dict | None:
    """`--runtimes`: the side-by-side document (`sidebyside.comparison_dict`)."""
    if not args.runtimes:
        return None
    from ..sidebyside.compare import compare_runtimes, comparison_dict, parse_runtimes

    model = str(args.model)
    names = parse_runtimes(args.runtimes, model)
    return comparison_dict(compare_runtimes(model, names, input_shapes=dict(args.input_shape),
                                            runs=20, warmup=2))


def run(args) -> int:
    from ..errors import BadInput
    from ..outputs import write_text, written
    from ..report.gather import gather
    from ..report.html import render

    model = Path(args.model)
    check_outputs([model], args.force, {"-o": args.output})
    data = gather(model, args.strategy, args.time_limit, args.align, args.measure, args.device,
                  dict(args.input_shape))
    print_shape_notes(data.graph.meta.get("shape_notes", ()))
    page = render(data, runtimes=_runtimes(args))
    try:
        write_text(args.output, page)
    except OSError as e:
        raise BadInput(f"cannot write {args.output}: {e.strerror}") from None
    written(args.output)
    return 0
