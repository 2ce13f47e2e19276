"""`infermem profile MODEL`: the static memory profile."""

from __future__ import annotations

from ._common import (
    add_json_arg,
    add_model_args,
    console,
    load_graph,
    shape_json,
)
from ._whatif import add_whatif_args, whatif_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("profile",
                       help="static memory profile: live arena per operator, peak, weights")
    add_model_args(p)
    add_json_arg(p)
    p.add_argument("--sparsity", action="store_true",
                   help="per weight tensor: zero fraction, bytes dense / CSR / bitmask")
    add_whatif_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..profile import profile, to_json
    from ..report.json_rows import dumps_rows
    from ..report.profile_table import render_profile
    from ..report.sparsity_table import render_sparsity, sparsity_json
    from ..tflm.stored import stored_plan_of
    from ..whatif import apply, sparsity

    what = whatif_from_args(args)
    graph = apply(load_graph(args), what)
    prof = profile(graph, alignment=args.align)
    rows = sparsity(graph) if args.sparsity or what.prune is not None else None
    stored = stored_plan_of(graph)
    if args.json:
        doc = {**to_json(graph, prof), **shape_json(graph.meta)}
        if what.active:
            doc["whatif"] = {"weights_dtype": what.weights, "activations_dtype": what.activations,
                             "prune": what.prune, "note": what.describe()}
        if rows is not None:
            doc["sparsity"] = sparsity_json(rows)
        doc["stored_offline_plan"] = stored.to_json() if stored else None
        print(dumps_rows(doc))
        return 0
    out = console()
    render_profile(prof, out)
    if rows is not None:
        render_sparsity(rows, out, f"{graph.name}: weight sparsity"
                        + (f" after pruning {what.prune:.0%}" if what.prune is not None else ""))
    if stored is not None:
        out.print(stored.describe(), soft_wrap=True, highlight=False)
    if what.active:
        out.print(f"[yellow]{what.describe()}[/yellow]")
    return 0
