"""Diagonal memory optimisation: proven-safe overlaps of an operator's output
over an input whose lifetime ends at that operator.

`with_overlaps(graph, order, problem)` adds one `Overlap(output, input, k)`
per such pair to a planning problem, k from the kernel's read/write order:

* "analytic" (default): closed-form rules per operator type, written from
  the loop order of the kernel that will run it (`tflite_rules` for TFLM's
  reference kernels, `onnx_rules` for infermem's own executor);
* "traced": the kernel's reads and writes recorded while it runs on data: a
  reference implementation with TFLM's loop order (`trace`), or infermem's
  executor itself in tracing mode (`onnx_trace`).

Both reduce to `access.min_distance`.  With several methods the largest
proven k is used and the proof says which method gave it.  `empirical`
(TFLM itself, binary search) bounds the safe overlap from above; it is a
check, never a proof, and is not used here.  `explain` lists, per operator,
the overlap proven, the method, and (given a plan) the overlap used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..errors import BadInput
from ..graph import Graph, Operator
from ..planners.problem import Buffer, Overlap, Plan, Problem
from .access import Steps, combine, max_overlap, min_distance

METHODS = ("analytic", "traced")
# Proofs index every element of the tensors involved; beyond this the work
# (and the index arrays) would dwarf the plan, so no overlap is claimed.
MAX_PROOF_ELEMENTS = 1 << 24


@dataclass(frozen=True)
class Proof:
    """Why `output` may (or may not) overlap `input` by `max_bytes`."""

    op_index: int
    op_type: str
    output: str  # buffer names in the problem
    input: str
    output_bytes: int
    input_bytes: int
    distance: int | None  # D_min in bytes; None when no method has a rule
    max_bytes: int
    method: str  # the method that proved max_bytes, or "none"
    note: str = ""
    positions: tuple[int, ...] = ()  # where the input feeds the operator


MAX_INPUTS = 256  # operators with more inputs (Concat/Sum of thousands) get no overlap


def _analytic(graph: Graph, op: Operator, positions: list[int]) -> int | str:
    if graph.format == "tflite":
        from .tflite_rules import steps
    else:
        from .onnx_rules import steps
    parts: list[Steps] = []
    for pos in positions:
        s = steps(op, graph, pos)
        if isinstance(s, str):
            return s
        parts.append(s)
    return min_distance(combine(parts))


def _traced(graph: Graph, op: Operator, positions: list[int]) -> int | str:
    if graph.format != "tflite":
        from .onnx_trace import onnx_traced

        return onnx_traced(graph, op.index, op.inputs[positions[0]])
    from .trace import traced_distance

    return traced_distance(graph, op, positions)


_METHOD_FNS = {"analytic": _analytic, "traced": _traced}


def _buffer_finder(graph: Graph, problem: Problem):
    """tensor name -> the problem's buffer holding its bytes (or None): by file
    index where the problem has indices (TFLM's problem names tensors its own
    way), else by the name of the tensor that owns the bytes."""
    by_index = {b.index: b for b in problem.buffers if b.index is not None}
    by_name = problem.by_name

    def find(tensor: str) -> Buffer | None:
        root = graph.root(tensor)
        t = graph.tensors[root]
        if not t.is_arena:
            return None
        if t.index is not None and t.index in by_index:
            return by_index[t.index]
        return by_name.get(root)

    return find


def candidates(graph: Graph, order: Sequence[int], problem: Problem):
    """(op, output buffer, input buffer, input positions) for every operator
    output whose input's lifetime ends at that operator."""
    find = _buffer_finder(graph, problem)
    for i in order:
        op = graph.operators[i]
        outs = [t for t in op.outputs if t]
        if op.type == "FusedGroup":  # its second output is the group's scratch
            outs = outs[:1]
        if len(outs) != 1:
            continue
        out = find(outs[0])
        if out is None:
            continue
        # group positions by the buffer they read: two views of one buffer are one input
        seen: dict[str, tuple[Buffer, list[int]]] = {}
        for pos, t in enumerate(op.inputs):
            inp = find(t) if t else None
            if inp is not None:
                seen.setdefault(inp.name, (inp, []))[1].append(pos)
        for inp, positions in seen.values():
            if inp.name == out.name or inp.last != out.first:
                continue
            yield op, out, inp, positions


def _too_large(graph: Graph, op: Operator, positions: list[int]) -> str | None:
    """Why a pair is not analysed (bounded work), or None."""
    names = [*op.outputs, *(op.inputs[p] for p in positions)]
    n = max(math.prod(graph.tensors[t].shape) for t in names if t)
    if n > MAX_PROOF_ELEMENTS:
        return f"not analysed: {n:,} elements (limit {MAX_PROOF_ELEMENTS:,}); no overlap claimed"
    return None


def prove(
    graph: Graph,
    order: Sequence[int] | None,
    problem: Problem,
    methods: Sequence[str] = ("analytic",),
) -> list[Proof]:
    """One Proof per candidate pair, k the largest any listed method proves."""
    unknown = [m for m in methods if m not in _METHOD_FNS]
    if unknown:
        raise BadInput(f"unknown overlap method(s) {unknown}; known: {', '.join(METHODS)}")
    order = graph.file_order if order is None else tuple(order)
    proofs = []
    for op, out, inp, positions in candidates(graph, order, problem):
        best: tuple[int, int, str] | None = None
        notes = []
        big = _too_large(graph, op, positions)
        if big is None and len(op.inputs) > MAX_INPUTS:
            big = (f"not analysed: {len(op.inputs):,} inputs, more than {MAX_INPUTS} (each "
                   "input's rule walks the whole operator: quadratic); no overlap claimed")
        for m in methods if big is None else ():
            d = _METHOD_FNS[m](graph, op, positions)
            if isinstance(d, str):
                notes.append(f"{m}: {d}")
                continue
            k = max_overlap(d, out.size, problem.alignment)
            if best is None or k > best[1]:
                best = (d, k, m)
        if big is not None:
            notes.append(big)
        d, k, m = best if best else (None, 0, "none")
        proofs.append(
            Proof(op.index, op.type, out.name, inp.name, out.size, inp.size, d, k, m,
                  "; ".join(notes), tuple(positions))
        )  # fmt: skip
    return proofs


def with_overlaps(
    graph: Graph,
    order: Sequence[int] | None,
    problem: Problem,
    methods: Sequence[str] = ("analytic",),
) -> Problem:
    """`problem` plus an Overlap for every pair a method proves safe (k > 0)."""
    proofs = prove(graph, order, problem, methods)
    extra = tuple(Overlap(p.output, p.input, p.max_bytes) for p in proofs if p.max_bytes > 0)
    return replace(problem, overlaps=tuple(problem.overlaps) + extra)


def shared_bytes(problem: Problem, offsets: Mapping[str, int], a: str, b: str) -> int:
    """Bytes two buffers share in a placement."""
    by = problem.by_name
    lo = max(offsets[a], offsets[b])
    hi = min(offsets[a] + by[a].size, offsets[b] + by[b].size)
    return max(0, hi - lo)


def explain(
    graph: Graph,
    order: Sequence[int] | None,
    problem: Problem,
    plan: Plan | None = None,
    methods: Sequence[str] = ("analytic",),
) -> list[dict]:
    """Per candidate pair: operator, buffers, proven overlap, method, and (with a
    plan) the bytes the plan actually lets them share."""
    rows = []
    for p in prove(graph, order, problem, methods):
        row = {
            "op": p.op_index,
            "type": p.op_type,
            "output": p.output,
            "input": p.input,
            "positions": list(p.positions),
            "output_bytes": p.output_bytes,
            "input_bytes": p.input_bytes,
            "min_distance": p.distance,
            "max_overlap": p.max_bytes,
            "method": p.method,
            "note": p.note,
        }
        if plan is not None and p.output in plan.offsets and p.input in plan.offsets:
            row["used"] = shared_bytes(problem, plan.offsets, p.output, p.input)
        rows.append(row)
    return rows


__all__ = ["METHODS", "Proof", "explain", "prove", "shared_bytes", "with_overlaps"]
