"""`infermem demo`: the main job on the bundled example model, start to finish.

Profile the bundled int8 MobileNet v1, plan its arena with every fast
strategy, measure what TensorFlow Lite Micro really uses, then write an
offline plan with diagonal memory optimisation into a copy of the model (in a
temporary folder, or `-o`), run both in TFLM and require identical outputs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.table import Table

from ._common import add_force_arg, add_output_arg, check_outputs, console

DEMO_STRATEGIES = ("linear", "tflm", "best-fit", "breadth", "conflicts", "best")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="profile, plan, shrink and verify the bundled example model")
    add_output_arg(p, "the optimized .tflite (default: a temporary folder, removed)",
                   metavar="OUT.tflite")
    p.add_argument("--out", dest="output", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true",
                   help="skip the TFLM runs (profile and plans only)")
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..examples import example_path
    from ..frontends import load
    from ..planners import plan
    from ..planning import build_problem
    from ..profile import profile
    from ..report.profile_table import render_profile
    from ..report.units import human_bytes

    out = console()
    path = example_path("tflite")
    if not args.quick:
        check_outputs([path], args.force, {"-o": args.output})
    out.print(f"[bold]infermem demo[/bold] on the bundled example {path.name}\n")
    graph = load(path)
    render_profile(profile(graph), out)
    problem = build_problem(graph, graph.file_order)
    table = Table(title="arena plans, computed (every plan validated)")
    for col in ("strategy", "arena", "bytes", "vs lower bound", "time"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name in DEMO_STRATEGIES:
        p = plan(problem, name)
        table.add_row(name, human_bytes(p.arena_bytes), f"{p.arena_bytes:,}",
                      f"{p.gap:+.1%}", f"{p.seconds * 1000:.1f} ms")
    out.print(table)
    if args.quick:
        return 0
    return _shrink_and_verify(path, args.output, args.force, out)


def _shrink_and_verify(path: Path, out: Path | None, force: bool, console) -> int:
    from ..outputs import written
    from ..tflm import optimize

    with tempfile.TemporaryDirectory(prefix="infermem-demo-") as tmp:
        dst = out or Path(tmp) / f"{path.stem}_dmo.tflite"
        r = optimize(path, dst, strategy="best", dmo=True, runs=3, force=force)
        if out:
            written(out)
        table = Table(title="in TensorFlow Lite Micro, measured (bit-identical outputs required)")
        for col in ("model", "arena head", "bytes"):
            table.add_column(col, justify="left" if col == "model" else "right")
        table.add_row("original (TFLM's own planner)", f"{r.head_before / 1024:,.1f} KiB",
                      f"{r.head_before:,}")
        table.add_row("infermem best plan + DMO", f"{r.head_after / 1024:,.1f} KiB",
                      f"{r.head_after:,}")
        console.print(table)
        saving = 1 - r.head_after / r.head_before
        console.print(
            f"[bold green]{saving:.1%} less RAM[/bold green] for the tensor arena; outputs "
            f"identical on {r.verification.input_sets} seeded inputs; the plan is in the "
            f"model's OfflineMemoryAllocation metadata"
            + (f": {dst}" if out else " (written to a temporary folder; keep it with -o)")
        )
    return 0
