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
    add_patch_args,
    add_reorder_arg,
    add_runs_arg,
    add_seed_arg,
    add_strategy_arg,
    add_time_limit_arg,
    add_timeout_arg,
    check_outputs,
    console,
    print_shape_notes,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="write an arena plan into a copy of a .tflite model (TFLM OfflineMemoryAllocation); "
             "with --patch, a .tflite or .onnx rewritten to run its first stage patch by patch",
    )
    add_model_args(p, "a .tflite model, or an .onnx with --patch (never modified)")
    add_output_arg(p, "the planned (or patched) model", required=True, metavar="OUT")
    add_strategy_arg(p)
    add_time_limit_arg(p)
    p.add_argument("--preserve-inputs", action="store_true",
                   help="keep graph inputs intact after inference")  # fmt: skip
    add_reorder_arg(p)
    add_dmo_arg(p)
    add_patch_args(p)
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
    from ..api import optimize
    from ..outputs import written
    from ..report.units import human_bytes

    check_outputs([args.model, *filter(None, [args.inputs])], args.force, {"-o": args.output})
    rep = optimize(
        args.model, args.output, strategy=args.strategy, time_limit=args.time_limit,
        preserve_inputs=args.preserve_inputs, reorder=args.reorder, dmo=args.dmo,
        verify_outputs=args.verify, runs=args.runs, inputs=args.inputs, seed=args.seed,
        timeout=args.timeout, force=args.force, alignment=args.align,
        input_shapes=dict(args.input_shape), allow_constant_outputs=args.allow_constant_outputs,
        patch=args.patch, patch_until=args.patch_until, max_mac_overhead=args.max_mac_overhead,
    )  # fmt: skip
    if args.json:
        written(rep.result.output)
        print(json.dumps(rep.to_json(), indent=2))
        return 0
    if not hasattr(rep, "patched"):
        return _print_onnx(rep.result)
    r, patched = rep.result, rep.patched
    written(r.output)
    print_shape_notes(rep.shapes["shape_notes"])
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


def _print_onnx(r) -> int:
    """The ONNX --patch result: what was rewritten, the arenas, the two checks."""
    from ..outputs import written

    written(r.output)
    c = console()
    if r.patch is None:
        c.print(f"patch not applied: {r.reason}; {r.output} is the model unchanged")
        return 0
    c.print(f"patched: {r.reason}")
    saved = r.arena_before - r.arena_after
    c.print(f"[bold]{r.model}[/bold] -> [bold]{r.output}[/bold]: planned arena "
            f"{r.arena_before:,} B -> {r.arena_after:,} B ({saved:,} B saved, "
            f"{r.arena_before / max(r.arena_after, 1):.2f}x smaller; strategy {r.strategy})")
    k = r.check
    if k is None:
        c.print("[yellow]not verified[/yellow] (--no-verify)")
        return 0
    same = ("bit-identical" if k.bit_identical else
            f"within float tolerance (max difference {k.max_error:.3g}, allowed {k.allowed:.3g})")
    c.print(f"checked in onnxruntime: outputs {same} on {k.input_sets} input set(s); one "
            f"inference {k.seconds_before * 1e3:.1f} ms -> {k.seconds_after * 1e3:.1f} ms")
    c.print(f"infermem verify of the rewrite: {r.verify.summary()}")
    return 0
