"""`infermem profile MODEL`: the static memory profile."""

from __future__ import annotations

import json

from ._common import (
    add_force_arg,
    add_fuse_arg,
    add_json_arg,
    add_model_args,
    add_patch_args,
    add_plot_arg,
    add_time_limit_arg,
    add_whatif_args,
    check_outputs,
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
    add_fuse_arg(p)
    add_patch_args(p)
    add_whatif_args(p)
    add_sweep_arg(p)
    add_plot_arg(p, "with --sweep: arena, KV cache, weights and total against the length")
    add_force_arg(p)
    add_time_limit_arg(p, 5.0)
    p.set_defaults(func=run)


def add_sweep_arg(p) -> None:
    p.add_argument("--sweep", metavar="DIM=A..B",
                   help="plan at each length of a symbolic dim ('seq' for the model's "
                        "sequence dim): A..B doubles, A..B:STEP steps, A,B,C lists; prints "
                        "arena, KV cache, weights and total per length (other dims by --dim)")


def run(args) -> int:
    from ..api import profile
    from ..errors import BadInput
    from ..report.json_rows import dumps_rows

    if args.sweep is not None:
        return _sweep(args)
    if args.plot is not None:
        raise BadInput("--plot draws the --sweep figures: give --sweep DIM=A..B too")
    if args.patch is not None:
        return _patched(args)
    from ..api.patching import check_patch

    check_patch(None, args.patch_until, args.max_mac_overhead)
    r = profile(args.model, input_shapes=dict(args.input_shape), alignment=args.align,
                weights_dtype=args.weights_dtype, activations_dtype=args.activations_dtype,
                prune=args.prune, sparsity=args.sparsity, fuse=args.fuse)
    if args.json:
        print(dumps_rows(r.to_json()))
        return 0
    from ..report.profile_table import render_profile  # rich: only for the table
    from ..report.sparsity_table import render_sparsity

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
    if r.fusion is not None:
        out.print(r.fusion.describe(), highlight=False)
    return 0


def _sweep(args) -> int:
    """`profile --sweep seq=128..4096`: the plan at each length."""
    from ..api import sweep_lengths
    from ..errors import BadInput
    from ..outputs import written
    from ..report.layout_plot import check_plot_path
    from ..report.seq_table import render_sweep
    from ..seqlen import parse_sweep

    if args.patch is not None or args.sparsity or args.weights_dtype or args.activations_dtype \
            or args.prune:
        raise BadInput("--sweep plans the model as stored at each length: drop --patch, "
                       "--sparsity and the what-ifs")
    check_outputs([args.model], args.force, {"--plot": args.plot})
    if args.plot is not None:
        check_plot_path(args.plot)
    name, lengths = parse_sweep(args.sweep)
    r = sweep_lengths(args.model, name, lengths, dims=dict(args.dim),
              input_shapes=dict(args.input_shape), time_limit=args.time_limit,
              alignment=args.align, fuse=args.fuse)
    if args.plot:
        r.plot(args.plot)
        written(args.plot)
    if args.json:
        print(json.dumps(r.to_json(), indent=2))
    else:
        render_sweep(r, console())
    return 0


def _patched(args) -> int:
    """`profile --patch`: the profile of the model as it is, then where the
    rewrite moves the peak (the stage's live-set peak against the rest's)."""
    from ..api import profile_patched
    from ..errors import BadInput
    from ..report.json_rows import dumps_rows
    from ..report.profile_table import render_profile

    if args.sparsity or args.weights_dtype or args.activations_dtype or args.prune:
        raise BadInput("--patch profiles the file as stored: drop --sparsity and the what-ifs")
    r = profile_patched(args.model, patch=args.patch, patch_until=args.patch_until,
                        max_mac_overhead=args.max_mac_overhead, alignment=args.align,
                        input_shapes=dict(args.input_shape))
    if args.json:
        print(dumps_rows(r.to_json()))
        return 0
    out = console()
    render_profile(r.before.profile, out)
    if r.after is None:
        out.print(f"patch not applied: {r.choice.reason}", highlight=False)
        return 0
    b, a = r.stage_before, r.stage_after
    last = r.choice.result.stage_ops[-1]
    out.print(f"patched (what-if, no file written): {r.choice.reason}", highlight=False)
    out.print(f"  stage (operators 0..{last}): {b.stage_ops} -> {a.stage_ops} operators, "
              f"live-set peak {b.stage_peak:,} B -> {a.stage_peak:,} B", highlight=False)
    out.print(f"  rest of the graph: live-set peak {b.rest_peak:,} B (unchanged: "
              f"{a.rest_peak:,} B)", highlight=False)
    out.print(f"  model peak {r.before.profile.peak_bytes:,} B -> "
              f"{r.after.profile.peak_bytes:,} B", highlight=False)
    return 0
