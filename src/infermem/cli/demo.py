"""`infermem demo`: the main job on the bundled example model, start to finish.

Profile the bundled int8 MobileNet v1, plan its arena with every fast
strategy, measure what TensorFlow Lite Micro really uses, then write an
offline plan with diagonal memory optimisation into a copy of the model (in a
temporary folder, or `-o`), run both in TFLM and require identical outputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import add_force_arg, add_json_arg, add_output_arg, console


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="profile, plan, shrink and verify the bundled example model")
    add_output_arg(p, "the optimized .tflite (default: a temporary folder, removed)",
                   metavar="OUT.tflite")
    p.add_argument("--out", dest="output", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true",
                   help="skip the TFLM runs (profile and plans only)")
    add_json_arg(p)
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..api import demo
    from ..outputs import written
    from ..report.profile_table import render_profile
    from ..report.units import human_bytes

    r = demo(args.output, quick=args.quick, force=args.force)
    if r.output:
        written(r.output)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
        return 0
    from rich.table import Table  # rich loads in ~0.2 s: not on every command's start

    out = console()
    out.print(f"[bold]infermem demo[/bold] on the bundled example {Path(r.model).name}\n")
    render_profile(r.profile.profile, out)
    table = Table(title="arena plans, computed (every plan validated)")
    for col in ("strategy", "arena", "bytes", "vs lower bound", "time"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for p in r.plans:
        table.add_row(p.strategy, human_bytes(p.arena_bytes), f"{p.arena_bytes:,}",
                      f"{p.gap:+.1%}", f"{p.seconds * 1000:.1f} ms")
    out.print(table)
    if r.optimized is not None:
        _shrunk(r, out)
    return 0


def _shrunk(r, out) -> None:
    from rich.table import Table

    o = r.optimized
    table = Table(title="in TensorFlow Lite Micro, measured (bit-identical outputs required)")
    for col in ("model", "arena head", "bytes"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_row("original (TFLM's own planner)", f"{o.head_before / 1024:,.1f} KiB",
                  f"{o.head_before:,}")
    table.add_row("infermem best plan + DMO", f"{o.head_after / 1024:,.1f} KiB",
                  f"{o.head_after:,}")
    out.print(table)
    saving = 1 - o.head_after / o.head_before
    out.print(
        f"[bold green]{saving:.1%} less RAM[/bold green] for the tensor arena; outputs "
        f"identical on {o.verification.input_sets} seeded inputs; the plan is in the "
        f"model's OfflineMemoryAllocation metadata"
        + (f": {r.output}" if r.output else " (written to a temporary folder; keep it with -o)")
    )
