"""How one fused group runs inside the plan, or why it cannot.

A group is a set of operators with one output (its sink's).  An epilogue —
an operator followed by a chain of element-wise ones, each reading only the
previous result and writing the same shape (Conv + bias + Relu, MatMul + bias,
Add + Relu) — runs in place: every operator of the chain writes into the
group's output buffer, as a runtime's kernel applies its epilogue to the
accumulator before storing it; it needs no scratch at all.  Any other group
(a diamond: LayerNorm's two branches, GELU's two uses of x) runs one
chunk at a time: the leading `chunk_axes` axes of the output are iterated one
index at a time (a row of a [batch, seq, hidden] tensor, a (head, query) row
of attention scores), and every operator of the group computes the part of
its output that chunk needs, reading a slice of each input from the arena
(or a weight) and writing its intermediates into the group's scratch.  So an
intermediate costs one chunk of bytes, never its whole tensor: that is the
memory fusion saves, and the scratch is what it still costs (a fusing runtime
keeps the same row in registers or on its stack; a reduction — LayerNorm's
mean, softmax's max and sum — or a MatMul row needs a whole row of it).

A group can run this way when every operator is row-local along the chunked
axes: element-wise operators (numpy broadcasting), reductions, Softmax and
LayerNormalization over later axes only, and MatMul/Gemm whose second operand
comes from outside the group (a row of the output needs the whole of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..graph import Graph, Operator
from ..planners.problem import align_up
from ..runtime.kernels.fused import Axes, chunk_shape
from .kinds import ELEMENTWISE

ROW_OPS = frozenset({"Softmax", "LogSoftmax", "LayerNormalization", "RMSNormalization",
                     "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
                     "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
                     "ReduceLogSumExp"})


@dataclass(frozen=True)
class Layout:
    """One group, ready to run: its operators (in order), its external inputs
    (first use first), the intermediates that get no arena bytes, the chunked
    output dims, where each intermediate's chunk lives in the scratch, and per
    operator the axis map of each input and of its output."""

    ops: tuple[int, ...]
    output: str
    inputs: tuple[str, ...]
    internal: tuple[str, ...]
    chunk_dims: tuple[int, ...]
    scratch: tuple[tuple[str, int], ...]  # (intermediate, offset in the scratch)
    scratch_bytes: int
    reads: tuple[tuple[Axes | None, ...], ...]
    writes: tuple[Axes, ...]
    inplace: bool = False  # an epilogue: every intermediate lives in the output's buffer

    @property
    def chunks(self) -> int:
        return math.prod(self.chunk_dims)


def layout(graph: Graph, ops: Sequence[int], alignment: int = 16) -> Layout | str:
    """The layout of the group `ops`: in place when it is an epilogue chain
    (no scratch at all), else chunked; or a one-line reason it has none."""
    g = graph
    ops = tuple(sorted(ops))
    members = [g.operators[i] for i in ops]
    why = _outputs_ok(g, members)
    if why:
        return why
    made = {op.outputs[0]: op for op in members}
    inside = set(ops)
    escaping = [t for t, op in made.items()
                if t in g.outputs or any(c not in inside for c in g.consumers.get(t, ()))]
    if len(escaping) != 1 or made[escaping[0]] is not members[-1]:
        return "the group must have one output, written by its last operator"
    inputs = tuple(dict.fromkeys(t for op in members for t in op.inputs if t and t not in made))
    if _is_epilogue(g, members):
        whole = [tuple(None for _ in g.tensors[op.outputs[0]].shape) for op in members]
        reads = tuple(tuple(tuple(None for _ in g.tensors[t].shape) if t else None
                            for t in op.inputs) for op in members)
        return Layout(ops, escaping[0], inputs, tuple(made)[:-1], (), (), 0, reads,
                      tuple(whole), inplace=True)
    why = _row_ops_ok(members)
    return why or _chunked(g, ops, members, made, escaping[0], inputs, alignment)


def _is_epilogue(g: Graph, members: Sequence[Operator]) -> bool:
    """A chain an anchor's kernel can finish in its own output buffer: after
    the first operator, each one element-wise, reading the previous output
    whole (no broadcast) and writing a tensor of the same shape and dtype —
    a runtime's bias/activation epilogue."""
    first = g.tensors[members[0].outputs[0]]
    for prev, op in zip(members, members[1:], strict=False):
        out = g.tensors[op.outputs[0]]
        inside = [t for t in op.inputs if t and g.producers.get(t) in {m.index for m in members}]
        if (op.type not in ELEMENTWISE or set(inside) != {prev.outputs[0]}
                or out.shape != first.shape or out.dtype != first.dtype):
            return False
    return True


def _chunked(g: Graph, ops: tuple[int, ...], members: Sequence[Operator], made: dict,
             out: str, inputs: tuple[str, ...], alignment: int) -> Layout | str:
    shape = g.tensors[out].shape
    c = min([len(shape) - 1, *(_row_limit(g, op, len(shape)) for op in members)])
    dims = tuple(shape[:max(c, 0)])
    if c < 1 or math.prod(dims) < 2:
        return "no leading axis to run it row by row"
    writes, reads = [], []
    for op in members:
        w = _axes(g.tensors[op.outputs[0]].shape, shape, c)
        if w is None:
            return f"{op.type} output does not follow the group's rows"
        writes.append(w)
        rs = []
        for k, t in enumerate(op.inputs):
            a = _input_axes(g, op, k, shape, c) if t else None
            if t and a is None:
                return f"{op.type} input {k} does not follow the group's rows"
            if t in made and a != writes[ops.index(made[t].index)]:
                return f"{op.type} needs all of {t!r}, made inside the group"
            rs.append(a)
        reads.append(tuple(rs))
    offsets, end = [], 0
    for t, w in zip(made, writes, strict=True):
        if t == out:
            continue
        offsets.append((t, end))
        cs = chunk_shape(g.tensors[t].shape, w)
        end += align_up(math.prod(cs) * np.dtype(g.tensors[t].dtype).itemsize, alignment)
    internal = tuple(t for t in made if t != out)
    return Layout(ops, out, inputs, internal, dims, tuple(offsets), end, tuple(reads),
                  tuple(writes))


def _outputs_ok(g: Graph, members: Sequence[Operator]) -> str:
    for op in members:
        if len([t for t in op.outputs if t]) != 1 or not op.outputs[0]:
            return f"{op.type} has more than one output"
        for t in (*op.inputs, *op.outputs):
            if t and g.tensors[t].dtype != g.tensors[g.root(t)].dtype:
                return "quantized (QDQ) views are not fused"
    return ""


def _row_ops_ok(members: Sequence[Operator]) -> str:
    for op in members:
        if op.type not in ELEMENTWISE and op.type not in ROW_OPS and op.type not in (
                "MatMul", "Gemm"):
            return f"{op.type} does not run row by row"
    return ""


def _row_limit(g: Graph, op: Operator, rank: int) -> int:
    """The most leading output axes `op` lets the group chunk over."""
    t = op.type
    xs = g.tensors[op.inputs[0]].shape if op.inputs and op.inputs[0] else ()
    off = rank - len(xs)
    if t in ("Softmax", "LogSoftmax"):
        opset = _opset(g)
        axis = int(op.attrs.get("axis", -1 if opset >= 13 else 1))
        return (axis % max(len(xs), 1)) + off
    if t in ("LayerNormalization", "RMSNormalization"):
        return (int(op.attrs.get("axis", -1)) % max(len(xs), 1)) + off
    if t.startswith("Reduce"):
        if not int(op.attrs.get("keepdims", 1)):
            return 0
        axes = _reduce_axes(g, op)
        return min(axes) + off if axes else 0
    if t == "Gemm":
        return 1 if not op.attrs.get("transA", 0) else 0
    if t == "MatMul":
        a, b = (g.tensors[x].shape for x in op.inputs[:2])
        return rank - 1 if len(a) >= 2 and len(b) >= 2 else 0
    return rank


def _reduce_axes(g: Graph, op: Operator) -> list[int]:
    rank = len(g.tensors[op.inputs[0]].shape)
    if len(op.inputs) > 1 and op.inputs[1]:
        data = g.tensors[g.root(op.inputs[1])].data
        if data is None:
            return []
        axes = [int(v) for v in np.asarray(data).reshape(-1)]
    else:
        axes = [int(v) for v in np.atleast_1d(op.attrs.get("axes", []))]
    if not axes:
        return [] if op.attrs.get("noop_with_empty_axes", 0) else list(range(rank))
    return sorted(a % rank for a in axes)


def _opset(g: Graph) -> int:
    v = (g.meta or {}).get("opset")
    if isinstance(v, Mapping):
        v = v.get("", v.get("ai.onnx"))
    return int(v) if isinstance(v, (int, np.integer)) else 10**6


def _axes(tshape: Sequence[int], shape: Sequence[int], c: int,
          whole: Sequence[int] = ()) -> Axes | None:
    """Right-aligned (numpy broadcasting) map of a tensor's axes onto the
    group output's chunked axes; `whole`: tensor axes read whole whatever
    their size.  None when a chunked axis neither matches nor broadcasts."""
    off = len(shape) - len(tshape)
    if off < 0:
        return None
    out: list[int | None] = []
    for j, d in enumerate(tshape):
        a = j + off
        if a >= c or d == 1 or j in whole or shape[a] == 1:
            out.append(None)
        elif d == shape[a]:
            out.append(a)
        else:
            return None
    return tuple(out)


def _input_axes(g: Graph, op: Operator, k: int, shape: Sequence[int], c: int) -> Axes | None:
    ts = g.tensors[op.inputs[k]].shape
    whole: tuple[int, ...] = ()
    if op.type == "MatMul" and k == 1:
        whole = (len(ts) - 2, len(ts) - 1)  # a row of the output needs all of B's matrix
    elif op.type == "Gemm" and k == 1:
        whole = tuple(range(len(ts)))
    elif op.type.startswith("Reduce") and k == 1:
        whole = tuple(range(len(ts)))  # the axes list
    return _axes(ts, shape, c, whole)
