"""`infermem report MODEL -o OUT.html`: one self-contained HTML page.

Thin: gathers with `report.gather`, renders with `report.html`, writes the
file through the output guard (`outputs`) and confirms it on stderr.
"""

from __future__ import annotations

from pathlib import Path

from ._common import add_force_arg, add_model_args, check_outputs, print_shape_notes


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML memory report for a model")
    add_model_args(p)
    p.add_argument("-o", "--output", type=Path, metavar="OUT.html", required=True,
                   help="the page to write (never the model file)")
    p.add_argument("--strategy", default="best", help="infermem's planner strategy (default: best)")
    p.add_argument("--time-limit", type=float, default=5.0, metavar="S",
                   help="time limit per plan / order search, seconds (default 5)")
    p.add_argument("--no-tflm", dest="tflm", action="store_false",
                   help="for .tflite: do not run TFLite Micro to measure its arena")
    p.add_argument("--device", action="append", default=[], metavar="NAME",
                   help="a target for the fit table (repeatable; default: a spread of seven)")
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import BadInput
    from ..outputs import write_text, written
    from ..report.gather import gather
    from ..report.html import render

    model = Path(args.model)
    check_outputs([model], args.force, {"-o": args.output})
    data = gather(model, args.strategy, args.time_limit, args.align, args.tflm, args.device,
                  dict(args.input_shape))
    print_shape_notes(data.graph.meta.get("shape_notes", ()))
    page = render(data)
    try:
        write_text(args.output, page)
    except OSError as e:
        raise BadInput(f"cannot write {args.output}: {e.strerror}") from None
    written(args.output)
    return 0
