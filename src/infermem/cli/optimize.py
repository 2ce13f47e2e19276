"""`infermem optimize MODEL -o OUT`: write infermem's arena plan into a copy of a
.tflite model as TFLM offline-planned offsets, verified in TFLM first."""

from __future__ import annotations

import json

from ._common import (
    add_allow_constant_arg,
    add_dmo_arg,
    add_force_arg,
    add_inputs_arg,
    add_json_arg,
    add_model_args,
    add_output_arg,
    add_reorder_arg,
    add_runs_arg,
    add_seed_arg,
    add_strategy_arg,
    add_time_limit_arg,
    add_timeout_arg,
    check_align,
    check_outputs,
    console,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="write an arena plan into a copy of a .tflite model (TFLM OfflineMemoryAllocation)",
    )
    add_model_args(p, "a .tflite model (never modified)")
    add_output_arg(p, "the planned model", required=True, metavar="OUT.tflite")
    add_strategy_arg(p)
    add_time_limit_arg(p)
    p.add_argument("--preserve-inputs", action="store_true",
                   help="keep graph inputs intact after inference")  # fmt: skip
    add_reorder_arg(p)
    add_dmo_arg(p)
    p.add_argument("--patch", nargs="?", const="auto", metavar="GRID|auto",
                   help="run the first stage patch by patch (grid RxC or N; 'auto', the "
                        "default, tries 2x2..6x6 at every stage end and keeps the smallest "
                        "arena)")
    p.add_argument("--patch-until", type=int, metavar="OP",
                   help="with --patch: end the patched stage after operator OP")
    p.add_argument("--max-mac-overhead", type=float, default=25.0, metavar="PCT",
                   help="with --patch: the most halo recomputation allowed (default 25%%)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="write without running original and planned model in TFLM")  # fmt: skip
    add_runs_arg(p, 3)
    add_inputs_arg(p)
    add_seed_arg(p)
    add_allow_constant_arg(p)
    add_timeout_arg(p)
    add_json_arg(p)
    add_force_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import BadInput
    from ..outputs import written
    from ..report.units import human_bytes
    from ..tflm import optimize
    from ..tflm._model import read_model
    from ..tflm.inputs import load_inputs, tflm_input_shapes

    check_outputs([args.model, *filter(None, [args.inputs])], args.force, {"-o": args.output})
    if args.runs < 0:
        raise BadInput(f"--runs must be >= 0, got {args.runs}")
    if args.inputs and not args.verify:
        raise BadInput("--inputs are compared by verification; drop --no-verify")
    check_align(args.align, 16)
    _check_patch_args(args)
    shapes = tflm_input_shapes(args.model, dict(args.input_shape))
    if not args.json:
        print_shape_notes(shapes["shape_notes"])
    inputs = [load_inputs(read_model(args.model), args.inputs)] if args.inputs else []
    if args.verify and args.runs == 0 and not inputs:
        raise BadInput("verification needs --runs >= 1 or --inputs")
    kw = dict(
        strategy=args.strategy, preserve_inputs=args.preserve_inputs,
        verify_outputs=args.verify, runs=args.runs, inputs=inputs, time_limit=args.time_limit,
        seed=args.seed, timeout=args.timeout, reorder=args.reorder, dmo=args.dmo,
        force=args.force, alignment=args.align,
        allow_constant_outputs=args.allow_constant_outputs,
    )  # fmt: skip
    patched = None
    if args.patch is None:
        r = optimize(args.model, args.output, **kw)
    else:
        from ..rewrite.optimize import optimize_patched

        patched = optimize_patched(args.model, args.output, args.patch, args.patch_until,
                                   args.max_mac_overhead / 100, **kw)
        r = patched.optimize
    written(r.output)
    doc = {
        "model": args.model,
        "output": r.output,
        "strategy": r.strategy,
        "planned_arena_bytes": r.planned_arena_bytes,
        "tflm_arena_bytes": r.tflm_arena_bytes,
        "lower_bound_bytes": r.lower_bound_bytes,
        "head_before": r.head_before,
        "head_after": r.head_after,
        "verified": r.verified,
        "input_sets_compared": r.verification.input_sets if r.verification else 0,
        "constant_outputs": list(r.verification.constant_outputs) if r.verification else [],
        "input_sets_for_variation": r.verification.sets_for_variation if r.verification else 0,
        "preserve_inputs": args.preserve_inputs,
        "reordered": args.reorder,
        "dmo": args.dmo,
        "alignment": args.align,
        **shapes,
        **_patch_doc(r, patched),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    c = console()
    if patched:
        c.print(("patched: " if patched.patch else "patch not applied: ") + patched.reason)
    c.print(
        f"[bold]{args.model}[/bold] -> [bold]{r.output}[/bold]: planned arena head "
        f"{human_bytes(r.planned_arena_bytes)} ({r.planned_arena_bytes:,} B, strategy "
        f"{r.strategy}); TFLM's own plan {r.tflm_arena_bytes:,} B; lower bound "
        f"{r.lower_bound_bytes:,} B"
    )
    if r.verification:
        v = r.verification
        saved = v.head_before - v.head_after
        c.print(
            f"verified in TFLM: outputs bit-identical on {v.input_sets} input set(s)"
            + (f", constant output(s) {list(v.constant_outputs)} allowed; "
               if v.constant_outputs else "; ")
            +
            f"measured head {v.head_before:,} B -> {v.head_after:,} B "
            f"({saved:,} B saved, {saved / max(v.head_before, 1):.1%})"
        )
        if patched and patched.patch and v.seconds_before and v.seconds_after:
            c.print(f"one TFLM inference: {v.seconds_before * 1e3:.1f} ms -> "
                    f"{v.seconds_after * 1e3:.1f} ms (wall time, fastest of {v.input_sets})")
    else:
        c.print("[yellow]not verified[/yellow] (--no-verify): TFLM trusts these offsets blindly")
    return 0


def _check_patch_args(args) -> None:
    from ..errors import BadInput
    from ..rewrite import parse_grid

    if args.patch is None and (args.patch_until is not None or args.max_mac_overhead != 25.0):
        raise BadInput("--patch-until and --max-mac-overhead need --patch")
    if args.patch not in (None, "auto"):
        parse_grid(args.patch)
    if not 0 <= args.max_mac_overhead <= 10000:
        raise BadInput(f"--max-mac-overhead {args.max_mac_overhead:g}: give a percentage >= 0")


def _patch_doc(r, patched) -> dict:
    """The patch part of --json: what was rewritten and what it cost."""
    if patched is None:
        return {}
    p = patched.patch
    v = r.verification
    doc = {"patched": p is not None, "patch_reason": patched.reason}
    if p is not None:
        doc.update(patch_grid=list(p.grid), patch_stage_ops=[p.stage_ops[0], p.stage_ops[-1]],
                   patch_stage_output=p.stage_output, macs_before=p.macs_before,
                   macs_after=p.macs_after, ops_before=p.ops_before, ops_after=p.ops_after,
                   flash_before=p.flash_before, flash_after=p.flash_after)
    if v is not None:
        doc.update(inference_seconds_before=v.seconds_before,
                   inference_seconds_after=v.seconds_after)
    return doc
