"""`infermem profile MODEL`: the static memory profile."""

from __future__ import annotations

from ._common import (
    add_json_arg,
    add_model_args,
    add_whatif_args,
    console,
    print_shape_notes,
)


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
    from ..api import profile
    from ..report.json_rows import dumps_rows
    from ..report.profile_table import render_profile
    from ..report.sparsity_table import render_sparsity

    r = profile(args.model, input_shapes=dict(args.input_shape), alignment=args.align,
                weights_dtype=args.weights_dtype, activations_dtype=args.activations_dtype,
                prune=args.prune, sparsity=args.sparsity)
    if args.json:
        print(dumps_rows(r.to_json()))
        return 0
    print_shape_notes(r.graph.meta.get("shape_notes", ()))
    out = console()
    render_profile(r.profile, out)
    if r.sparsity is not None:
        pruned = r.whatif.prune if r.whatif else None
        render_sparsity(r.sparsity, out, f"{r.graph.name}: weight sparsity"
                        + (f" after pruning {pruned:.0%}" if pruned is not None else ""))
    if r.stored_offline_plan is not None:
        out.print(r.stored_offline_plan.describe(), soft_wrap=True, highlight=False)
    if r.whatif is not None:
        out.print(f"[yellow]{r.whatif.describe()}[/yellow]")
    return 0
