"""Plan a `.tflite` model with infermem and hand the plan to TFLM.

The pipeline: TFLM's own planning problem (`problem.build`, scratch buffers
included) -> infermem's planner -> where TFLM will put the scratch buffers
around the fixed tensors (TFLM always plans those online: its greedy planner,
replayed by the `tflm` strategy with the tensors fixed) -> the whole layout
validated once more -> offsets written as `OfflineMemoryAllocation` into a
temporary copy -> original and copy run in TFLM and compared -> only then the
copy is moved to the destination.  If outputs differ nothing is written.

With `rewritten` (the bytes of a rewrite of `src`, e.g. `rewrite.patch_tflite`),
those are planned instead and verified against `src` itself, so a rewritten
graph is proven bit-identical to the original in TFLM too.

If the planned layout would not beat TFLM's own plan (it never should, but a
scratch buffer placed by TFLM could in principle land above the plan), TFLM's
own plan is written instead, so the result is never worse than the original.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import BadInput, Failure
from ..outputs import atomic_path, check_output
from ..planners import Plan, Problem, plan, validate
from ._model import read_model
from .measure import check_memory
from .offline import write_offline_plan
from .problem import TflmProblem, build
from .verify import VerifyResult, verify


@dataclass(frozen=True)
class OptimizeResult:
    output: str | None  # None when nothing was written
    strategy: str  # the strategy whose offsets were written
    planned_arena_bytes: int  # head TFLM will use with the plan (scratch placed by TFLM)
    tflm_arena_bytes: int  # head of TFLM's own plan for the same problem
    lower_bound_bytes: int
    head_before: int | None  # measured (None without verification)
    head_after: int | None
    verified: bool
    verification: VerifyResult | None
    offsets: dict[int, int]  # tensor index -> offset


def place_with_tflm(tp: TflmProblem, tensor_offsets: dict[str, int]) -> Plan:
    """Fix the tensors at `tensor_offsets` and let TFLM's greedy planner (the
    `tflm` strategy) place what TFLM places online: the scratch buffers."""
    bufs = tuple(
        replace(b, offset=tensor_offsets[b.name]) if b.name in tp.tensor_buffers else b
        for b in tp.problem.buffers
    )
    return plan(Problem(bufs, tp.problem.alignment, tp.problem.overlaps), "tflm")


def plan_offsets(
    src,
    strategy: str = "best",
    preserve_inputs: bool = False,
    time_limit: float = 10.0,
    dmo: bool = False,
    alignment: int = 16,
    graph=None,
) -> tuple[TflmProblem, Plan, Plan, Plan]:
    """(problem, chosen plan, layout TFLM will realise, TFLM's own plan) of a
    .tflite path or a `TflmModel`.  With `dmo` the problem carries the
    proven-safe output/input overlaps (proven on `graph`, loaded from the path
    when not given); buffers are sized and placed at `alignment` (a multiple
    of TFLM's 16 bytes)."""
    if alignment < 16 or alignment % 16:
        raise BadInput(f"TFLM aligns arena buffers at 16 bytes; alignment {alignment} must be "
                       "a multiple of 16")
    tp = build(src, alignment=alignment, preserve_inputs=preserve_inputs)
    # lifetimes as TFLM sees them
    runtime = build(tp.model, alignment=alignment) if preserve_inputs else tp
    own = plan(runtime.problem, "tflm")
    if dmo:
        from .dmo import add_overlaps

        tp = add_overlaps(tp, graph)
        ov = tp.problem.overlaps
        runtime = replace(runtime, problem=replace(runtime.problem, overlaps=ov))
    chosen = plan(tp.problem, strategy, time_limit=time_limit)
    realised = place_with_tflm(runtime, _tensors(tp, chosen))
    if realised.arena_bytes > chosen.arena_bytes and not preserve_inputs:
        fallback = place_with_tflm(runtime, _tensors(tp, own))
        if fallback.arena_bytes < realised.arena_bytes:
            chosen, realised = own, fallback
    try:
        validate(tp.problem, realised.offsets)
    except Failure as e:
        raise Failure(
            f"TFLM would place a scratch buffer where the plan needs a tensor "
            f"(preserve-inputs cannot be honoured with this plan): {e}"
        ) from None
    return tp, chosen, realised, own


def _write_best_order(src: Path, dst: Path, time_limit: float) -> bool:
    """Write `src` with subgraph 0's operators in the order with the lowest
    live-set peak; False (nothing to do) when the file's own order is best."""
    from ..frontends import load
    from ..schedule import best_order, write_order_tflite

    graph = load(src)
    if len(graph.operators) != len(build(src).model.main.ops):
        raise BadInput(f"{src}: the graph's operators do not map one to one onto the file's")
    order = tuple(best_order(graph, time_limit=time_limit).order)
    if order == tuple(range(len(order))):
        return False
    write_order_tflite(src, dst, order)
    return True


def _tensors(tp: TflmProblem, p: Plan) -> dict[str, int]:
    return {n: o for n, o in p.offsets.items() if n in tp.tensor_buffers}


def optimize(
    src: str | Path,
    dst: str | Path,
    strategy: str = "best",
    preserve_inputs: bool = False,
    verify_outputs: bool = True,
    runs: int = 3,
    inputs: Sequence[Sequence[np.ndarray]] = (),
    time_limit: float = 10.0,
    seed: int = 0,
    timeout: float = 120.0,
    reorder: bool = False,
    dmo: bool = False,
    force: bool = False,
    alignment: int = 16,
    allow_constant_outputs: bool = False,
    rewritten: bytes | None = None,
) -> OptimizeResult:
    """Write `src` with an offline plan to `dst`; with `verify_outputs`, only after
    TFLM ran both on the same inputs with bit-identical outputs (else Failure,
    nothing written).  With `reorder`, the operators are first rewritten in the
    order with the lowest live-set peak (TFLM runs them in file order).  With
    `dmo`, outputs may overlap inputs where the overlap is proven safe.  `dst`
    follows the output rules of `outputs.check_output` (`force` to replace).
    `rewritten` is planned in place of `src` (outputs still compared with `src`)."""
    src, dst = Path(src), Path(dst)
    check_output(dst, [src], force=force)
    if runs < 0:
        raise BadInput(f"runs must be >= 0, got {runs}")
    if verify_outputs:  # the TFLM runs that prove the plan, checked before any planning
        check_memory(read_model(src), runs + len(inputs))
    with atomic_path(dst) as tmp, tempfile.TemporaryDirectory(prefix="infermem-opt-") as work:
        base = src
        if rewritten is not None:
            base = Path(work, "rewritten.tflite")
            base.write_bytes(rewritten)
        ordered = Path(work, "ordered.tflite")
        base = ordered if reorder and _write_best_order(base, ordered, time_limit) else base
        tp, chosen, realised, own = plan_offsets(base, strategy, preserve_inputs, time_limit, dmo,
                                                  alignment)
        if base != src:
            own = plan(build(src, alignment=alignment).problem, "tflm")  # of the file as given
        offsets = {tp.tensor_buffers[n]: o for n, o in _tensors(tp, realised).items()}
        write_offline_plan(base, tmp, offsets, force=True)  # tmp: our own temporary file
        result = None
        if verify_outputs:
            result = verify(src, tmp, runs=runs, seed=seed, inputs=inputs, timeout=timeout,
                            allow_constant_outputs=allow_constant_outputs)
            if result.first_difference is None and not result.verified:
                raise Failure(f"{src}: {result.constant_message()}; nothing written")
            if not result.verified:
                raise Failure(
                    f"{src}: the planned model's outputs differ from the original's "
                    f"in TFLM ({result.first_difference}); nothing written"
                )
    return OptimizeResult(
        str(dst),
        chosen.strategy,
        realised.arena_bytes,
        own.arena_bytes,
        chosen.lower_bound_bytes,
        result.head_before if result else None,
        result.head_after if result else None,
        bool(result and result.verified),
        result,
        offsets,
    )
