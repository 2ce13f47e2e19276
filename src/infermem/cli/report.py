"""`infermem report MODEL -o OUT.html`: one self-contained HTML page.

Thin: gathers with `report.gather`, renders with `report.html`, writes the
file (never over the model) and prints its path.
"""

from __future__ import annotations

from pathlib import Path

from ._common import add_model_args


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
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import BadInput
    from ..report.gather import gather
    from ..report.html import render

    model = Path(args.model)
    out = args.output
    if out.exists() and model.exists() and out.samefile(model):
        raise BadInput(f"refusing to overwrite the model file {model} with the report")
    if out.exists() and out.is_dir():
        raise BadInput(f"{out} is a directory; give a file name for the report")
    if not out.resolve().parent.is_dir():
        raise BadInput(f"the folder of {out} does not exist")
    data = gather(model, args.strategy, args.time_limit, args.align, args.tflm, args.device,
                  dict(args.input_shape))
    page = render(data)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot write {out}: {e.strerror}") from None
    print(out)
    return 0
