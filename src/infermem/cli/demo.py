"""`infermem demo`: the main job on the bundled example model, start to finish."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

DEMO_STRATEGIES = ("linear", "tflm", "best-fit", "breadth", "conflicts", "best")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="profile and plan the bundled example model")
    p.add_argument("--format", choices=("tflite", "onnx"), default="tflite",
                   help="which bundled twin to use (default: the int8 .tflite)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..examples import example_path
    from ..frontends import load
    from ..planners import plan
    from ..planning import build_problem
    from ..profile import profile
    from ..report.profile_table import render_profile
    from ..report.units import human_bytes

    console = Console()
    path = example_path(args.format)
    console.print(f"[bold]infermem demo[/bold] on the bundled example {path.name}\n")
    graph = load(path)
    render_profile(profile(graph), console)
    problem = build_problem(graph, graph.file_order)
    table = Table(title="arena plans (every plan validated)")
    for col in ("strategy", "arena", "bytes", "vs lower bound", "time"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name in DEMO_STRATEGIES:
        p = plan(problem, name)
        table.add_row(name, human_bytes(p.arena_bytes), f"{p.arena_bytes:,}",
                      f"{p.gap:+.1%}", f"{p.seconds * 1000:.1f} ms")
    console.print(table)
    return 0
