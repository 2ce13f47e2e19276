"""Method 1 for ONNX: DMO rules for the kernels of infermem's own arena executor.

The executor (runtime/kernels/) runs every operator as a sequence of chunks;
within a chunk all reads precede all writes (KernelIO enforces it when
tracing).  Each kernel documents its chunk order; the rules below enumerate
exactly those chunks, as index tuples into the operator's input and output
arrays, and take per chunk the highest output element written and the lowest
input element read (`access.Steps`, reads before writes: not `own`).  They
use the kernel's bound geometry (pads, strides, broadcast shapes) but never
run it.  The chunk orders (NCHW):

* elementwise, Cast, Clip, BatchNormalization, QuantizeLinear /
  DequantizeLinear, and Reshape-like copies that are not views: the output in
  flat runs (`flat_blocks`), each after reading the same run of a same-shaped
  input (broadcast inputs: their broadcast block).  In place.
* Conv, QLinearConv: depthwise per (n, input channel) plane - in place for an
  output plane no larger than the input plane; otherwise per (n, output row),
  after reading the input rows its windows touch *in all channels*, then
  writing that row in all output channels: the last channel's row lands
  (M-1)*OH*OW elements in, so only about one output channel plane may overlap.
* MaxPool, AveragePool: per (n, channel) plane; LRN: per plane after its
  channel window.
* Gemm: per output row after reading A's row (column with transA); MatMul:
  per (batch, row).
* Reduce*, Global*Pool, Softmax, LogSoftmax: per index over the leading axes,
  read the block, write its result.
* Concat: per leading index, per input, per flat run: read, write in place.
* Transpose (DepthToSpace, SpaceToDepth: a transpose of views): flat output
  runs, each after reading its (strided) source.
* Pad, Slice, Tile, Gather with constant indices, CenterCropPad, Compress
  (axismap.py): per leading output index, read the source block, write it.
* Every `Blocked` kernel (Resize, ConvTranspose, the normalizations, Split,
  the gathers and scatters, ArgMax, TopK, CumSum, Trilu, OneHot, Einsum,
  LSTM/GRU/RNN, ...): the list its `chunks()` spells out, which is the list
  its `run` walks.  Kernels whose reads depend on data list the whole block
  the data could come from, so the rule holds for every input.

Any other operator: no rule, 0.  `trace.onnx_traced` checks these against the
executor's recorded byte ranges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..graph import Graph, Operator, dtype_size
from .access import Steps, combine, element_steps

Chunk = tuple[tuple | None, tuple | None]  # (write index on the output, read index on input)


def _width(graph: Graph, name: str) -> int:
    """Bytes per element in the arena (a QDQ float view is stored as its integers)."""
    return dtype_size(graph.tensors[graph.root(name)].dtype)


def _chunks_elementwise(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import broadcast_index, flat_blocks

    shape = k.out_shapes[0]
    bs = k.bshapes[pos] if hasattr(k, "bshapes") else k.in_shapes[pos]
    for idx in flat_blocks(shape):
        yield idx, (None if bs is None else broadcast_index(idx, bs, len(shape)))


def _chunks_copy(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import flat_blocks

    for idx in flat_blocks(k.out_shapes[0]):
        yield idx, idx if pos == 0 else None


def _chunks_conv(k, pos: int) -> Iterator[Chunk]:
    every = slice(None)
    n_, c, _, _ = k.x4
    read = pos == k.X
    # the weights (and ConvInteger's zero points) are read whole in every chunk,
    # the bias for the chunk's channels
    other = () if pos != k.B else None
    if k.depthwise:
        for n in range(n_):
            for ci in range(c):
                ch = slice(ci * k.mult, (ci + 1) * k.mult)
                r = (n, ci) if read else (ch,) if pos == k.B else other
                yield (n, ch), r
        return
    h = k.h
    for n in range(n_):
        for oh in range(h.out):
            k0, k1 = h.taps(oh)
            r = (every,) if pos == k.B else other
            if read:
                r = None
                if k1 > k0:
                    r0 = oh * h.stride - h.pad_begin + k0 * h.dilation
                    r = (n, every, slice(r0, r0 + (k1 - k0 - 1) * h.dilation + 1, h.dilation),
                         every)
            yield (n, every, oh, every), r


def _chunks_pool(k, pos: int) -> Iterator[Chunk]:
    for n in range(k.x4[0]):
        for ci in range(k.x4[1]):
            yield (n, ci), (n, ci)


def _chunks_lrn(k, pos: int) -> Iterator[Chunk]:
    xs = k.in_shapes[0]
    for n in range(xs[0]):
        for c in range(xs[1]):
            yield (n, c), (n, slice(max(0, c - k.lo), min(xs[1], c + k.hi + 1)))


def _chunks_gemm(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import broadcast_index

    every = slice(None)
    for m in range(k.m):
        if pos == 0:
            r = (every, m) if k.ta else (m,)
        elif pos == 1:
            r = ()
        else:
            r = broadcast_index((m, every), k.in_shapes[2], 2)
        yield (m,), r


def _chunks_matmul(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import broadcast_index, indices

    rank = len(k.batch)
    for bi in indices(k.batch):
        ia = broadcast_index(bi, k.a[:-2], rank)
        ib = broadcast_index(bi, k.b[:-2], rank)
        for m in range(k.a[-2]):
            if pos == k.A:
                r = (*ia, m)
            elif pos == k.BM:
                r = (*ib, slice(None), slice(None))
            else:  # MatMulInteger's zero points: whole, every chunk
                r = ()
            yield (*bi, m), r


def _chunks_lead(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import leading

    axis = k.first if hasattr(k, "first") else k.axis
    for lead in leading(k.in_shapes[0], axis):
        yield lead, lead


def _chunks_concat(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import flat_blocks, leading

    for lead in leading(k.out_shapes[0], k.axis):
        off = 0
        for i, s in enumerate(k.in_shapes):
            if s is None:
                continue
            for idx in flat_blocks(s[k.axis :]):
                first = idx[0] if idx else slice(None)
                if isinstance(first, slice):
                    start = first.start or 0
                    stop = s[k.axis] if first.stop is None else first.stop
                    first = slice(off + start, off + stop)
                else:
                    first = off + first
                yield (*lead, first, *idx[1:]), ((*lead, *idx) if i == pos else None)
            off += s[k.axis]


def _chunks_transpose(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import flat_blocks

    rank = len(k.perm)
    for idx in flat_blocks(k.y_view):
        src: list = [slice(None)] * rank
        for d, ix in enumerate(idx):
            src[k.perm[d]] = ix
        yield idx, tuple(src)


def _chunks_axismap(k, pos: int) -> Iterator[Chunk]:
    from ..runtime.kernels.base import leading

    for n, lead in enumerate(leading(k.y_view, k.k)):
        src = [k.source(i, a) for a, i in enumerate(lead)]
        if pos:  # Pad's constant value: read once, before the first write
            yield lead, (() if n == 0 and pos == 2 else None)
        else:
            yield lead, (None if any(j is None for j in src) else tuple(src))


def _chunks_blocked(k, pos: int) -> Iterator[Chunk]:
    for writes, reads, _ in k.chunks():
        yield writes[0], reads[pos] if pos < len(reads) else None


# One chunk is one Python step; a kernel cut into more is not analysed (bounded work).
MAX_CHUNKS = 1 << 17

def _chunks_fused(k, pos: int) -> Iterator[Chunk]:
    """A chunked FusedGroup: per chunk, the slice of input `pos` its
    operators read (all of it when they read it differently), then the chunk
    of the group's output its last operator writes."""
    from ..runtime.kernels.base import indices
    from ..runtime.kernels.fused import chunk_index

    lay, name = k.lay, k.op.inputs[pos]
    maps = [lay.reads[j][q] for j, op in enumerate(k.members)
            for q, t in enumerate(op.inputs) if t == name]
    same = all(m == maps[0] for m in maps)
    read_map = maps[0] if same else tuple(None for _ in maps[0])  # differing reads: all of it
    for idx in indices(lay.chunk_dims):
        yield chunk_index(lay.writes[-1], idx), chunk_index(read_map, idx)


def _fused_steps(k, graph: Graph, pos: int) -> Steps | str:
    """An epilogue FusedGroup (in place): the first operator's own chunks,
    when only it reads input `pos` (the chain after it reads the output)."""
    name = k.op.inputs[pos]
    first, rest = k.members[0], k.members[1:]
    if any(name in op.inputs for op in rest):
        return "read again by the epilogue after the first operator"
    parts = [steps(k.chunk_graph.operators[0], k.chunk_graph, q)
             for q, t in enumerate(first.inputs) if t == name]
    bad = next((p for p in parts if isinstance(p, str)), None)
    return bad if bad is not None else combine(parts)


CHUNKS = {
    "Elementwise": _chunks_elementwise,
    "Copy": _chunks_copy,
    "Conv": _chunks_conv,
    "Pool": _chunks_pool,
    "LRN": _chunks_lrn,
    "Gemm": _chunks_gemm,
    "MatMul": _chunks_matmul,
    "Reduce": _chunks_lead,
    "Softmax": _chunks_lead,
    "Concat": _chunks_concat,
    "Transpose": _chunks_transpose,
    "AxisMap": _chunks_axismap,
    "Blocked": _chunks_blocked,
    "FusedGroup": _chunks_fused,
}


def _family(kernel) -> str | None:
    for cls in type(kernel).__mro__:
        if cls.__name__ in CHUNKS:
            return cls.__name__
    return None


def _input_shape(k, family: str, pos: int) -> tuple[int, ...]:
    """The shape the kernel indexes input `pos` with."""
    if family == "Conv" and pos == k.X:
        return k.x4
    if family == "Pool":
        return k.x4
    if family == "MatMul" and pos in (k.A, k.BM):
        return k.a if pos == k.A else k.b
    if family == "Elementwise" and getattr(k, "bshapes", None) and k.bshapes[pos] is not None:
        return k.bshapes[pos]
    if family == "Copy":
        return k.out_shapes[0]
    if family in ("Transpose", "AxisMap") and pos == 0:
        return k.x_view
    if family == "Blocked" and k.x_views[pos] is not None:
        return k.x_views[pos]
    return k.in_shapes[pos]


def _output_shape(k, family: str) -> tuple[int, ...]:
    if family in ("Conv", "Pool"):
        return k.y4
    if family == "MatMul":
        return k.y
    if family in ("Transpose", "AxisMap"):
        return k.y_view
    if family == "Blocked":
        return k.y_views[0]
    return k.out_shapes[0]


class FlatIds:
    """The flat (row-major) element numbers of an array of `shape`, asked only
    for the lowest and highest an index selects.  Ints, slices and one index
    array are answered from the strides, without allocating: a 4 GiB tensor
    used to cost a 4 GiB int64 `arange` here.  Anything else (several index
    arrays, masks) falls back to indexing a real `arange`, checked against the
    memory budget first."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.strides = [math.prod(self.shape[d + 1 :]) for d in range(len(self.shape))]
        self._ids: np.ndarray | None = None

    def extent(self, idx) -> tuple[int, int] | None:
        """(lowest, highest) flat number `idx` selects; None if it selects nothing."""
        idx = idx if isinstance(idx, tuple) else (idx,)
        try:
            return self._strided(idx)
        except _Materialise:
            sel = self._materialised()[idx]
            return (int(sel.min()), int(sel.max())) if sel.size else None

    def _strided(self, idx: tuple) -> tuple[int, int] | None:
        arrays = sum(isinstance(x, (np.ndarray, list)) for x in idx)
        if len(idx) > len(self.shape) or arrays > 1:
            raise _Materialise
        lo = hi = 0
        for d, n in enumerate(self.shape):
            a, b = self._axis(idx[d] if d < len(idx) else slice(None), n)
            if a is None:
                return None
            lo, hi = lo + a * self.strides[d], hi + b * self.strides[d]
        return lo, hi

    @staticmethod
    def _axis(x, n: int) -> tuple[int | None, int | None]:
        if isinstance(x, slice):
            r = range(*x.indices(n))
            return (min(r[0], r[-1]), max(r[0], r[-1])) if r else (None, None)
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            i = int(x) + (n if int(x) < 0 else 0)
            if not 0 <= i < n:
                raise _Materialise  # let numpy say what is wrong
            return i, i
        arr = np.asarray(x)
        if arr.dtype.kind not in "iu" or (arr.size and not (-n <= arr.min() and arr.max() < n)):
            raise _Materialise
        if not arr.size:
            return None, None
        arr = np.where(arr < 0, arr + n, arr)
        return int(arr.min()), int(arr.max())

    def _materialised(self) -> np.ndarray:
        if self._ids is None:
            from ..budget import check

            check(8 * math.prod(self.shape), f"the DMO rule's index map of shape {self.shape}")
            self._ids = np.arange(math.prod(self.shape), dtype=np.int64).reshape(self.shape)
        return self._ids


class _Materialise(Exception):
    """An index the strides cannot answer."""


def steps(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """The executor kernel's chunks for input `pos` of `op`, or why there are none."""
    from ..runtime.kernels import kernel_for

    try:
        k = kernel_for(op, graph)
    except Exception as e:  # an unsupported operator or shape: no rule
        return f"no executor kernel: {e}"
    if k is None:
        return "moves no bytes (a view)"
    if not op.outputs or not op.outputs[0]:
        return "the rule covers the operator's first output only"
    family = _family(k)
    if family is None:
        return f"no rule for the executor's {type(k).__name__} kernel"
    if family == "FusedGroup" and k.lay.inplace:
        return _fused_steps(k, graph, pos)
    in_shape, out_shape = _input_shape(k, family, pos), _output_shape(k, family)
    out_ids, in_ids = FlatIds(out_shape), FlatIds(in_shape)
    write, first = [], []
    for w_idx, r_idx in CHUNKS[family](k, pos):
        if len(write) >= MAX_CHUNKS:
            return f"not analysed: more than {MAX_CHUNKS:,} chunks (bounded work)"
        w = out_ids.extent(w_idx) if w_idx is not None else None
        r = in_ids.extent(r_idx) if r_idx is not None else None
        write.append(w[1] + 1 if w else 0)
        first.append(r[0] if r else -1)
    return element_steps(
        np.array(write, dtype=np.int64), np.array(first, dtype=np.int64),
        _width(graph, op.outputs[0]), _width(graph, op.inputs[pos]),
    )  # fmt: skip
