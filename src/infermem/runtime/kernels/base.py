"""The kernel contract: one small class per operator, streaming in chunks.

A kernel is bound to one operator at prepare time (shapes, attributes, weights
known) and declares `scratch_bytes`: the most memory its run allocates outside
the arena at once.  At run time it touches tensors only through `KernelIO`:

    x = io.read(0, idx)       # a view of input 0 (arena or weight)
    io.write(0, idx, value)   # copy `value` into output 0's view
    io.end_chunk()

Within one chunk every read comes before the first write, and a chunk's
result is computed in full before it is written (numpy guarantees the same
for a copy whose source overlaps its destination).  So a plan that overlaps
an output with an input is safe exactly when no chunk writes bytes that a
later chunk still reads — the condition the DMO rules and the tracer check.
Each kernel's docstring states its chunk order; `order` says it in one line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from ...errors import BadInput
from ...graph import Graph, Operator, Role
from ..qview import QView

CHUNK_ELEMS = 1 << 12  # elementwise chunks: at most this many output elements
KERNEL_OVERHEAD = 16384  # an operator's Python objects (kernel, views, index tuples) and
# what CPython's free lists keep of them once freed (tracemalloc still counts those)
Index = tuple[Any, ...]


class KernelIO:
    """A kernel's only door to its tensors; records accesses when tracing."""

    __slots__ = ("ins", "outs", "rec")

    def __init__(self, ins: Sequence[np.ndarray | None], outs: Sequence[np.ndarray | None],
                 rec=None) -> None:
        self.ins, self.outs, self.rec = ins, outs, rec

    def read(self, k: int, idx: Index = (), shape: Sequence[int] | None = None) -> np.ndarray:
        """Input `k` (reshaped to `shape` first, a view) indexed by `idx`."""
        a = self.ins[k]
        if isinstance(a, QView):
            ints = a.ints_at(idx, shape)
            if self.rec is not None:
                self.rec.read(k, ints)
            return a.load(ints, idx, shape)
        if shape is not None:
            a = a.reshape(shape)
        if idx != ():
            a = a[(*idx, Ellipsis)]  # a 0-d view, never a scalar copy, for a full index
        if self.rec is not None:
            self.rec.read(k, a)
        return a

    def write(self, k: int, idx: Index, value: Any, shape: Sequence[int] | None = None) -> None:
        """Copy `value` into output `k` (reshaped to `shape` first) at `idx`."""
        out = self.outs[k]
        if isinstance(out, QView):
            dst = out.ints_at(idx, shape)
            value = out.store(value, idx, shape)
        else:
            out = out.reshape(shape) if shape is not None else out
            dst = out if idx == () else out[(*idx, Ellipsis)]
        if self.rec is not None:
            self.rec.write(k, dst)
        np.copyto(dst, value, casting="unsafe")

    def end_chunk(self) -> None:
        if self.rec is not None:
            self.rec.end_chunk()


class Kernel:
    """Base class: binds an operator to the shapes and dtypes of its tensors."""

    op_types: ClassVar[tuple[str, ...]] = ()
    order: ClassVar[str] = ""

    def __init__(self, op: Operator, graph: Graph) -> None:
        self.op = op
        self.attrs = op.attrs
        self.opset = _opset(graph)
        self.graph = graph
        ts = graph.tensors
        self.in_shapes = tuple(ts[t].shape if t else None for t in op.inputs)
        self.in_dtypes = tuple(np.dtype(ts[t].dtype) if t else None for t in op.inputs)
        self.out_shapes = tuple(ts[t].shape if t else None for t in op.outputs)
        self.out_dtypes = tuple(np.dtype(ts[t].dtype) if t else None for t in op.outputs)
        self.q_in = tuple(_dequantized(graph, t) for t in op.inputs)
        self.q_out = tuple(_dequantized(graph, t) for t in op.outputs)
        self.scratch_bytes = 0
        self.setup()
        self.scratch_bytes += KERNEL_OVERHEAD + sum(
            _dequantized_weight_bytes(graph, t) for t in op.inputs)

    def setup(self) -> None:
        """Check attributes and shapes, precompute, set `scratch_bytes`."""

    def run(self, io: KernelIO) -> None:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------
    def fail(self, why: str) -> BadInput:
        return BadInput(f"operator {self.op.index} ({self.op.type} {self.op.name!r}): {why}")

    def has_input(self, k: int) -> bool:
        return k < len(self.op.inputs) and bool(self.op.inputs[k])

    def const(self, k: int) -> np.ndarray | None:
        """Input `k`'s value if it is a weight (known before the run), else None."""
        return _const(self.graph, self.op.inputs[k]) if k < len(self.op.inputs) else None

    def const_ints(self, k: int, what: str) -> list[int] | None:
        """Input `k` as a list of ints (None if absent); it must be a weight."""
        if not self.has_input(k):
            return None
        v = self.const(k)
        if v is None:
            raise self.fail(f"{what} must be a constant (a weight)")
        return [int(x) for x in np.asarray(v).reshape(-1)]

    def qdq_scratch(self, in_elems: Sequence[int], out_elems: int) -> int:
        """Extra scratch for QDQ views: a dequantized input chunk costs its float
        copy (and an int-to-float conversion), a quantized output chunk one
        float temporary and the integers."""
        extra = sum(8 * n for n, q in zip(in_elems, self.q_in, strict=False) if q)
        return extra + (8 * out_elems if any(self.q_out) else 0)

    def ints(self, name: str, default: Sequence[int] | None = None) -> list[int] | None:
        v = self.attrs.get(name, default)
        return None if v is None else [int(x) for x in np.atleast_1d(v)]


def _opset(graph: Graph) -> int:
    """The default-domain opset the model declares (newest semantics if unknown)."""
    meta = graph.meta or {}
    v = meta.get("opset")
    if isinstance(v, dict):
        v = v.get("", v.get("ai.onnx"))
    return int(v) if isinstance(v, (int, np.integer)) else 10**6


def _dequantized(graph: Graph, name: str) -> bool:
    """Is `name` a float view of integer arena bytes (a QDQ dequantized view)?"""
    if not name:
        return False
    root = graph.tensors[graph.root(name)]
    return root.is_arena and root.dtype != graph.tensors[name].dtype


def _dequantized_weight_bytes(graph: Graph, name: str) -> int:
    """Bytes of the float copy of a QDQ weight, which exists while its reader runs."""
    if not name:
        return 0
    t, root = graph.tensors[name], graph.tensors[graph.root(name)]
    return t.nbytes if root.role is Role.WEIGHT and root.dtype != t.dtype else 0


def _const(graph: Graph, name: str) -> np.ndarray | None:
    if not name:
        return None
    root = graph.tensors[graph.root(name)]
    if root.role is not Role.WEIGHT or root.data is None or root.dtype != graph.tensors[name].dtype:
        return None
    return np.asarray(root.data).reshape(graph.tensors[name].shape)


# -- chunk helpers ---------------------------------------------------------------------------
def flat_blocks(shape: Sequence[int], limit: int = CHUNK_ELEMS) -> Iterator[Index]:
    """Index tuples cutting an array of `shape` into contiguous runs in flat
    (row-major) order: leading axes are iterated one index at a time, the next
    axis in slices, the trailing axes taken whole; each run has at most `limit`
    elements unless one trailing block alone is bigger."""
    shape = tuple(shape)
    if any(d == 0 for d in shape):
        return
    k, inner = len(shape), 1
    while k > 0 and inner * shape[k - 1] <= limit:
        k -= 1
        inner *= shape[k]
    if k == 0:
        yield ()
        return
    step = max(1, limit // inner)
    n = shape[k - 1]
    for lead in indices(shape[: k - 1]):
        for j in range(0, n, step):
            yield (*lead, slice(j, min(j + step, n)))


def broadcast_index(idx: Index, in_shape: Sequence[int], out_rank: int) -> Index:
    """The index into a (numpy-broadcast) input that matches output index `idx`."""
    off = out_rank - len(in_shape)
    res: list[Any] = []
    for d, ix in enumerate(idx):
        di = d - off
        if di < 0:
            continue
        if in_shape[di] == 1:
            res.append(0 if isinstance(ix, (int, np.integer)) else slice(0, 1))
        else:
            res.append(ix)
    return tuple(res)


def block_elems(shape: Sequence[int], limit: int = CHUNK_ELEMS) -> int:
    """The largest number of elements one `flat_blocks` chunk can have."""
    shape = tuple(shape)
    k, inner = len(shape), 1
    while k > 0 and inner * shape[k - 1] <= limit:
        k -= 1
        inner *= shape[k]
    if k == 0:
        return math.prod(shape)
    return inner * min(shape[k - 1], max(1, limit // inner))


def leading(shape: Sequence[int], axis: int) -> Iterator[tuple[int, ...]]:
    """Index tuples over the axes before `axis`, in row-major order."""
    return indices(shape[:axis])


def indices(dims: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every index tuple of `dims` in row-major order, made one at a time
    (itertools.product would first build every range as a tuple of ints)."""
    dims = tuple(int(d) for d in dims)
    if any(d == 0 for d in dims):
        return
    idx = [0] * len(dims)
    while True:
        yield tuple(idx)
        for a in range(len(dims) - 1, -1, -1):
            idx[a] += 1
            if idx[a] < dims[a]:
                break
            idx[a] = 0
        else:
            return
