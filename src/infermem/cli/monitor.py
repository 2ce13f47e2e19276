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

from ..errors import BadInput, Failure
from ._common import add_budget_arg, add_force_arg, add_input_shape_arg, print_shape_notes

MODEL_SUFFIXES = (".onnx", ".tflite")
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
    m.add_argument("--runs", type=int, default=None, help="steady-state inferences (default 100)")
    m.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="runs after the first inference not counted as steady (default 5); "
        "for a command: iterations left out of the leak verdict",
    )
    add_input_shape_arg(m)
    add_budget_arg(m)
    m.add_argument(
        "--arena-size",
        type=int,
        default=None,
        help="TFLM arena bytes (default: infermem's plan + TFLM's tail, +10%% + 1 KiB)",
    )
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
    s.add_argument("--timeout", type=float, default=None, help="stop the run after S seconds")
    s.add_argument(
        "--min-effect",
        type=float,
        default=1024.0,
        help="smallest leak that counts, bytes/run (default 1024)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print everything as JSON on stdout")
    o.add_argument("-o", "--json-out", metavar="PATH", help="write the JSON to PATH")
    o.add_argument("--plot", metavar="PNG", help="memory over time, phases shaded")
    o.add_argument("--csv", metavar="PATH", help="the sampled timeline as CSV")
    add_force_arg(o)
    p.set_defaults(func=run)


def _is_model(target: list[str]) -> bool:
    return len(target) == 1 and target[0].lower().endswith(MODEL_SUFFIXES)


def _check(args: argparse.Namespace) -> list[str]:
    """Usage errors, before any work; returns the runtimes for a model."""
    if not args.target:
        raise BadInput("nothing to monitor: give a MODEL or `-- CMD ARGS`")
    if args.interval_ms < 1:
        raise BadInput(f"--interval-ms must be at least 1, got {args.interval_ms:g}")
    if args.uss_interval_ms and args.uss_interval_ms < 1:
        raise BadInput(f"--uss-interval-ms must be 0 or at least 1, got {args.uss_interval_ms:g}")
    if args.plot and not args.plot.lower().endswith(PLOT_SUFFIXES):
        raise BadInput(f"--plot {args.plot}: name an image ({', '.join(PLOT_SUFFIXES)})")
    _check_outputs(args)
    if not _is_model(args.target):
        used = [f for f in ("runtime", "runs", "arena_size", "python", "tracemalloc")
                if getattr(args, f)]  # fmt: skip
        if used or args.input_shape:
            names = ", ".join("--" + f.replace("_", "-") for f in used) or "--input-shape"
            raise BadInput(f"{names} apply to a model; {args.target[0]!r} is run as a command")
        return []
    if args.trace_allocations or args.warmup_s is not None:
        raise BadInput("--trace-allocations and --warmup-s apply to `-- CMD`; for a model "
                       "use --tracemalloc and --warmup")  # fmt: skip
    from ..sidebyside.compare import parse_runtimes

    if not os.path.isfile(args.target[0]):
        raise BadInput(f"no such model file: {args.target[0]}")
    return parse_runtimes(args.runtime, args.target[0])


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output through the shared guard: never an input (the model, or a
    file the command names), never a folder, never replaced without --force."""
    from pathlib import Path

    from ..outputs import check_output

    inputs = [a for a in args.target if os.path.isfile(a)]
    given = [(o, p) for o, p in (("--json-out", args.json_out), ("--plot", args.plot),
                                 ("--csv", args.csv)) if p]  # fmt: skip
    for k, (opt, path) in enumerate(given):
        check_output(path, inputs, force=args.force, what=opt)
        for other, prev in given[:k]:
            if Path(path).resolve() == Path(prev).resolve():
                raise BadInput(f"{opt} {path} is the same file as {other} {prev}")


def _common(args: argparse.Namespace) -> dict:
    return dict(
        interval_ms=args.interval_ms,
        uss_interval_ms=args.uss_interval_ms or None,
        timeout_s=args.timeout,
        min_effect=args.min_effect,
    )


def _monitor_models(args: argparse.Namespace, runtimes: list[str]):
    from ..sidebyside.compare import compare_runtimes

    return compare_runtimes(
        args.target[0],
        runtimes,
        input_shapes=dict(args.input_shape),
        baseline=not args.no_prediction,
        allocator=not args.no_prediction,
        arena_size=args.arena_size,
        runs=100 if args.runs is None else args.runs,
        warmup=5 if args.warmup is None else args.warmup,
        threads=args.threads,
        tracemalloc=args.tracemalloc,
        python=args.python,
        **_common(args),
    )


def _monitor_command(args: argparse.Namespace):
    from ..monitor.runner import monitor_command

    return monitor_command(
        args.target,
        leak_skip=args.warmup or 0,
        warmup_s=args.warmup_s,
        min_rate=args.min_rate,
        trace_allocations=args.trace_allocations,
        **_common(args),
    )


def _shapes(args: argparse.Namespace, runtimes: list[str]) -> dict:
    """For a .tflite model: the inputs whose dynamic dims the runtime will
    allocate at the stored shape (TFLM cannot resize: a different
    --input-shape is refused before the run)."""
    if not (runtimes and args.target[0].lower().endswith(".tflite")):
        return {}
    from ..frontends.tflite import shape_note
    from ..tflm.inputs import tflm_input_shapes

    given = dict(args.input_shape)
    if "tflm" in runtimes:
        return tflm_input_shapes(args.target[0], given)
    resolved = [r for r in tflm_input_shapes(args.target[0], {})["dynamic_dims_resolved"]
                if r["tensor"] not in given]  # fmt: skip
    note = shape_note(resolved)
    return {"shape_notes": [note] if note else [], "dynamic_dims_resolved": resolved}


def _save(doc: dict, results: dict, args: argparse.Namespace) -> list[str]:
    """Write the files asked for (already checked); returns their names."""
    from ..outputs import atomic_write, write_text

    saved = []
    if args.json_out:
        write_text(args.json_out, json.dumps(doc, indent=1) + "\n")
        saved.append(args.json_out)
    if args.plot:
        from ..monitor.plot import plot_runs

        with atomic_write(args.plot, "wb") as fh:
            plot_runs(results, fh, args.plot.rsplit(".", 1)[-1].lower())
        saved.append(args.plot)
    if args.csv:
        from ..monitor.timeline import timelines_csv

        write_text(args.csv, timelines_csv(results))
        saved.append(args.csv)
    return saved


def run(args: argparse.Namespace) -> int:
    from ..monitor.report import json_report, text_report

    runtimes = _check(args)
    shapes = _shapes(args, runtimes)
    if runtimes:
        from ..sidebyside import compare as cmp

        comp = _monitor_models(args, runtimes)
        results = {r.runtime: r.result for r in comp.ran()}
        doc = cmp.comparison_dict(comp, timeline=True)
        if len(comp.runs) == 1:
            one = comp.runs[0]
            if one.result is None:
                raise BadInput(f"{one.runtime} cannot run {args.target[0]}: {one.unavailable}")
            doc = {**doc["runs"][one.runtime], "comparison": doc["table"]}
            text = "\n".join([text_report(one.result), "", *cmp.prediction_lines(one),
                              "", *cmp.allocator_lines(one.allocator)]).rstrip()  # fmt: skip
        else:
            text = "\n".join([cmp.comparison_table(comp), ""]
                             + sum(([*cmp.prediction_lines(r), *cmp.allocator_lines(r.allocator)]
                                    for r in comp.ran()), []))  # fmt: skip
        errors = [r.result.error for r in comp.ran() if r.result.error is not None]
        if not results:
            raise BadInput("no runtime could run the model: " + "; ".join(
                f"{r.runtime}: {r.unavailable}" for r in comp.runs))  # fmt: skip
    else:
        result = _monitor_command(args)
        results, doc, text = {"": result}, json_report(result), text_report(result)
        errors = [result.error] if result.error is not None else []
    doc = {**doc, **shapes}
    saved = _save(doc, results, args)
    print(json.dumps(doc, indent=1) if args.json else text)
    if not args.json:
        print_shape_notes(shapes.get("shape_notes", ()))
    from ..outputs import written

    for path in saved:
        written(path)
    if not errors:
        return 0
    err = errors[0]
    note = f" (partial timeline saved: {', '.join(saved)})" if saved else ""
    raise (BadInput if err.kind == "bad_input" else Failure)(err.message + note)
