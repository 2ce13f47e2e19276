"""`infermem profile MODEL`: the static memory profile."""

from __future__ import annotations

import json

from rich.console import Console

from ._common import add_model_args, load_graph


def add_parser(sub) -> None:
    p = sub.add_parser("profile", help="static memory profile: live arena per operator, peak, weights")
    add_model_args(p)
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..profile import profile, to_json
    from ..report.profile_table import render_profile

    graph = load_graph(args)
    prof = profile(graph, alignment=args.align)
    if args.json:
        print(json.dumps(to_json(graph, prof), indent=2))
    else:
        render_profile(prof, Console())
    return 0
