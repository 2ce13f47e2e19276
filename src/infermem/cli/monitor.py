"""`infermem monitor`: measure the memory a real run uses, phase by phase.

    infermem monitor MODEL --runtime onnxruntime|litert|tflm [--runs N] [--warmup K]
    infermem monitor [OPTIONS] -- python my_app.py ARGS

A single argument ending in .onnx or .tflite is a model, run in a fresh child
process; anything else (put it after `--`) is a command, monitored the same
way, with phases and iterations where it uses `infermem.Monitor`.  Outputs
are written even when the run fails, then the error is reported.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import BadInput, Failure
from ._common import add_input_shape_arg, print_shape_notes

MODEL_SUFFIXES = (".onnx", ".tflite")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "monitor",
        help="memory of a real run over time: phases, peaks, leaks",
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
        choices=("onnxruntime", "litert", "tflm"),
        help="runtime for a model (default: onnxruntime for .onnx, tflm for .tflite)",
    )
    m.add_argument("--runs", type=int, default=None, help="steady-state inferences (default 100)")
    m.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="runs after the first inference not counted as steady (default 5); "
        "for a command: iterations left out of the leak verdict",
    )
    add_input_shape_arg(m)
    m.add_argument("--arena-size", type=int, default=None, help="TFLM arena bytes")
    m.add_argument("--threads", type=int, default=None, help="runtime intra-op threads")
    m.add_argument("--python", default=None, help="Python that runs the model (default: this)")
    s = p.add_argument_group("sampling")
    s.add_argument("--interval-ms", type=float, default=5.0, help="RSS period (>= 1, default 5)")
    s.add_argument(
        "--uss-interval-ms", type=float, default=250.0, help="USS period, 0 to skip (default 250)"
    )
    s.add_argument("--tracemalloc", action="store_true", help="trace Python allocations (model)")
    s.add_argument("--timeout", type=float, default=None, help="stop the run after S seconds")
    s.add_argument(
        "--min-effect",
        type=float,
        default=1024.0,
        help="smallest leak that counts, bytes/run (default 1024)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="everything as JSON ('-' for stdout)")
    o.add_argument("--plot", metavar="PNG", help="memory over time, phases shaded")
    o.add_argument("--csv", metavar="PATH", help="the sampled timeline as CSV")
    p.set_defaults(func=run)


def _is_model(target: list[str]) -> bool:
    return len(target) == 1 and target[0].lower().endswith(MODEL_SUFFIXES)


def _check(args: argparse.Namespace) -> None:
    if not args.target:
        raise BadInput("nothing to monitor: give a MODEL or `-- CMD ARGS`")
    if args.interval_ms < 1:
        raise BadInput(f"--interval-ms must be at least 1, got {args.interval_ms:g}")
    if args.uss_interval_ms and args.uss_interval_ms < 1:
        raise BadInput(f"--uss-interval-ms must be 0 or at least 1, got {args.uss_interval_ms:g}")
    if not _is_model(args.target):
        used = [f for f in ("runtime", "runs", "arena_size", "python") if getattr(args, f)]
        if used or args.input_shape:
            names = ", ".join("--" + f.replace("_", "-") for f in used) or "--input-shape"
            raise BadInput(f"{names} apply to a model; {args.target[0]!r} is run as a command")


def _monitor(args: argparse.Namespace):
    from ..monitor.runner import monitor_command, monitor_model

    common = dict(
        interval_ms=args.interval_ms,
        uss_interval_ms=args.uss_interval_ms or None,
        timeout_s=args.timeout,
        min_effect=args.min_effect,
    )
    if _is_model(args.target):
        model = args.target[0]
        runtime = args.runtime or ("onnxruntime" if model.lower().endswith(".onnx") else "tflm")
        return monitor_model(
            model,
            runtime,
            runs=100 if args.runs is None else args.runs,
            warmup=5 if args.warmup is None else args.warmup,
            input_shapes=dict(args.input_shape),
            arena_size=args.arena_size,
            threads=args.threads,
            tracemalloc=args.tracemalloc,
            python=args.python,
            **common,
        )
    return monitor_command(args.target, leak_skip=args.warmup or 0, **common)


def _shapes(args: argparse.Namespace) -> dict:
    """For a .tflite model: the inputs whose dynamic dims the runtime will
    allocate at the stored shape (TFLM cannot resize: a different
    --input-shape is refused before the run)."""
    if not (_is_model(args.target) and args.target[0].lower().endswith(".tflite")):
        return {}
    from ..frontends.tflite import shape_note
    from ..tflm.inputs import tflm_input_shapes

    given = dict(args.input_shape)
    if args.runtime in (None, "tflm"):
        return tflm_input_shapes(args.target[0], given)
    resolved = [r for r in tflm_input_shapes(args.target[0], {})["dynamic_dims_resolved"]
                if r["tensor"] not in given]
    note = shape_note(resolved)
    return {"shape_notes": [note] if note else [], "dynamic_dims_resolved": resolved}


def _save(result, args: argparse.Namespace, shapes: dict) -> list[str]:
    from ..monitor.report import json_report

    saved = []
    if args.json:
        text = json.dumps({**json_report(result), **shapes}, indent=1)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            saved.append(args.json)
    if args.plot:
        from ..monitor.plot import plot_timeline

        plot_timeline(result, args.plot)
        saved.append(args.plot)
    if args.csv:
        result.timeline.to_csv(args.csv)
        saved.append(args.csv)
    return saved


def run(args: argparse.Namespace) -> int:
    from ..monitor.report import text_report

    _check(args)
    shapes = _shapes(args)
    result = _monitor(args)
    saved = _save(result, args, shapes)
    if args.json != "-":
        print(text_report(result))
        print_shape_notes(shapes.get("shape_notes", ()))
    if result.error is None:
        if saved:
            print(f"saved: {', '.join(saved)}", file=sys.stderr)
        return 0
    note = f" (partial timeline saved: {', '.join(saved)})" if saved else ""
    err = BadInput if result.error.kind == "bad_input" else Failure
    raise err(result.error.message + note)
