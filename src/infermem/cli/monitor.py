"""`infermem monitor`: measure the memory a real run uses, phase by phase.

    infermem monitor MODEL [--runtime onnxruntime|litert|tflm|all|A,B] [--runs N]
    infermem monitor [OPTIONS] -- python my_app.py ARGS

A single argument ending in .onnx or .tflite is a model, run in a fresh child
process (one per runtime with --runtime all or a comma list, shown side by
side), beside infermem's prediction for it; anything else (put it after `--`)
is a command, monitored the same way, with phases and iterations where it
uses `infermem.Monitor`, and a leak verdict over time where it does not.
Output files are written even when the run fails, then the error is reported.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..errors import BadInput, Failure
from ._common import (
    add_arena_size_arg,
    add_budget_arg,
    add_force_arg,
    add_input_shape_arg,
    add_json_arg,
    add_output_arg,
    add_plot_arg,
    add_runs_arg,
    add_timeout_arg,
    print_shape_notes,
)

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "monitor",
        help="memory of a real run over time: phases, peaks, leaks, runtimes side by side",
        description=__doc__.split("\n\n")[1],
        epilog=__doc__.split("\n\n")[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "target",
        nargs="*",
        metavar="MODEL | -- CMD ARGS",
        help="a .onnx/.tflite model, or a command after --",
    )
    m = p.add_argument_group("model runs")
    m.add_argument(
        "--runtime",
        help="onnxruntime, litert, tflm, a comma list, or all (default: onnxruntime for "
        ".onnx, tflm for .tflite)",
    )
    add_runs_arg(m, None, "steady-state inferences (default 100)")
    m.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="runs after the first inference not counted as steady (default 5); "
        "for a command: iterations left out of the leak verdict",
    )
    add_input_shape_arg(m)
    add_budget_arg(m)
    add_arena_size_arg(m, "infermem's plan + TFLM's tail, +10%% + 1 KiB")
    m.add_argument("--threads", type=int, default=None, help="runtime intra-op threads")
    m.add_argument("--python", default=None, help="Python that runs the model (default: this)")
    m.add_argument(
        "--no-prediction",
        action="store_true",
        help="skip the static prediction, the runtime baseline and onnxruntime's allocator profile",
    )
    c = p.add_argument_group("commands")
    c.add_argument(
        "--warmup-s",
        type=float,
        default=None,
        help="seconds left out of the leak verdict over time (default: the first third)",
    )
    c.add_argument(
        "--min-rate",
        type=float,
        default=4096.0,
        help="smallest growth over time that counts as a leak, bytes/s (default 4096)",
    )
    c.add_argument(
        "--trace-allocations",
        action="store_true",
        help="Python programs: where the growth was allocated (tracemalloc, file:line)",
    )
    s = p.add_argument_group("sampling")
    s.add_argument("--interval-ms", type=float, default=5.0, help="RSS period (>= 1, default 5)")
    s.add_argument(
        "--uss-interval-ms", type=float, default=250.0, help="USS period, 0 to skip (default 250)"
    )
    s.add_argument("--tracemalloc", action="store_true", help="trace Python allocations (model)")
    add_timeout_arg(s, None, "the run")
    s.add_argument(
        "--min-effect",
        type=float,
        default=1024.0,
        help="smallest leak that counts, bytes/run (default 1024)",
    )
    o = p.add_argument_group("output")
    add_json_arg(o)
    add_output_arg(o, "the JSON", metavar="PATH")
    o.add_argument("--json-out", dest="output", type=Path, help=argparse.SUPPRESS)
    add_plot_arg(o, "memory over time, phases shaded,")
    o.add_argument("--csv", metavar="PATH", help="the sampled timeline as CSV")
    add_force_arg(o)
    p.set_defaults(func=run)


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output through the shared guard: never an input (the model, or a
    file the command names), never a folder, never replaced without --force."""
    from pathlib import Path

    from ..outputs import check_output

    if args.plot and not str(args.plot).lower().endswith(PLOT_SUFFIXES):
        raise BadInput(f"--plot {args.plot}: name an image ({', '.join(PLOT_SUFFIXES)})")
    inputs = [a for a in args.target if os.path.isfile(a)]
    given = [(o, p) for o, p in (("-o", args.output), ("--plot", args.plot),
                                 ("--csv", args.csv)) if p]  # fmt: skip
    for k, (opt, path) in enumerate(given):
        check_output(path, inputs, force=args.force, what=opt)
        for other, prev in given[:k]:
            if Path(path).resolve() == Path(prev).resolve():
                raise BadInput(f"{opt} {path} is the same file as {other} {prev}")


def _save(doc: dict, results: dict, args: argparse.Namespace) -> list[str]:
    """Write the files asked for (already checked); returns their names."""
    from ..outputs import atomic_write, write_text

    saved = []
    if args.output:
        write_text(args.output, json.dumps(doc, indent=1) + "\n")
        saved.append(str(args.output))
    if args.plot:
        from ..monitor.plot import plot_runs

        with atomic_write(args.plot, "wb") as fh:
            plot_runs(results, fh, str(args.plot).rsplit(".", 1)[-1].lower())
        saved.append(str(args.plot))
    if args.csv:
        from ..monitor.timeline import timelines_csv

        write_text(args.csv, timelines_csv(results))
        saved.append(args.csv)
    return saved


def run(args: argparse.Namespace) -> int:
    from ..api.monitoring import is_model, monitor
    from ..outputs import written

    if not args.target:
        raise BadInput("nothing to monitor: give a MODEL or `-- CMD ARGS`")
    _check_outputs(args)
    target = args.target[0] if is_model(args.target) else args.target
    r = monitor(
        target, runtime=args.runtime, runs=args.runs, warmup=args.warmup,
        input_shapes=dict(args.input_shape), arena_size=args.arena_size, threads=args.threads,
        python=args.python, tracemalloc=args.tracemalloc, prediction=not args.no_prediction,
        warmup_s=args.warmup_s, min_rate=args.min_rate,
        trace_allocations=args.trace_allocations, interval_ms=args.interval_ms,
        uss_interval_ms=args.uss_interval_ms, timeout_s=args.timeout,
        min_effect=args.min_effect,
    )  # fmt: skip
    doc = r.to_json()
    saved = _save(doc, dict(r.results), args)
    print(json.dumps(doc, indent=1) if args.json else r.text)
    if not args.json:
        print_shape_notes(doc.get("shape_notes", ()))
    for path in saved:
        written(path)
    if not r.errors:
        return 0
    err = r.errors[0]
    note = f" (partial timeline saved: {', '.join(saved)})" if saved else ""
    raise (BadInput if err.kind == "bad_input" else Failure)(err.message + note)
