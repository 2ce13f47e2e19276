"""Reductions (ReduceMean & co., global pools) and Softmax.

Chunk order (all): for each index over the axes before the first reduced axis
(row-major) — for a global pool that is every (n, c); for Softmax every index
before `axis` — read the contiguous input block X[lead], then write the
output block Y[lead] (reduced, or for Softmax the same shape).  Flat order on
both sides, output blocks never larger than input blocks, so an output may
start at or below its input.
"""

from __future__ import annotations

import numpy as np

from .base import Kernel, KernelIO, leading
from .registry import register


def _logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


REDUCE = {
    "ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min,
    "ReduceProd": np.prod, "GlobalAveragePool": np.mean, "GlobalMaxPool": np.max,
    "ReduceL1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "ReduceL2": lambda x, axis, keepdims: np.sqrt(np.sum(np.square(x), axis=axis,
                                                         keepdims=keepdims)),
    "ReduceSumSquare": lambda x, axis, keepdims: np.sum(np.square(x), axis=axis,
                                                        keepdims=keepdims),
    "ReduceLogSum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "ReduceLogSumExp": _logsumexp,
}


@register(*REDUCE)
class Reduce(Kernel):
    order = "per index over the axes before the first reduced axis: read block, write block"

    def setup(self) -> None:
        xs = self.in_shapes[0]
        rank = len(xs)
        self.keep = bool(self.attrs.get("keepdims", 1))
        if self.op.type.startswith("Global"):
            axes, self.keep = list(range(2, rank)), True
        elif self.has_input(1):
            a = self.const(1)
            if a is None:
                raise self.fail("axes must be a constant (a weight)")
            axes = [int(v) for v in np.asarray(a).reshape(-1)]
        else:
            axes = self.ints("axes") or []
        if not axes:
            noop = bool(self.attrs.get("noop_with_empty_axes", 0))
            axes = [] if noop else list(range(rank))
        self.axes = sorted({a + rank if a < 0 else a for a in axes})
        self.first = self.axes[0] if self.axes else 0
        block = int(np.prod(xs[self.first :]))
        self.scratch_bytes = 16 * block + self.qdq_scratch([block], block)

    def run(self, io: KernelIO) -> None:
        local = tuple(a - self.first for a in self.axes)
        fn = REDUCE[self.op.type]
        kw = {}
        if self.op.type in ("ReduceMax", "ReduceMin"):  # the identity, for empty reductions
            kw["initial"] = _extreme(self.in_dtypes[0], self.op.type == "ReduceMin")
        for lead in leading(self.in_shapes[0], self.first):
            x = io.read(0, lead)
            with np.errstate(all="ignore"):  # log(0) of an empty or zero reduction is -inf
                y = fn(x, axis=local, keepdims=self.keep, **kw) if local else x
            io.write(0, lead, y)
            io.end_chunk()


def _extreme(d: np.dtype, high: bool):
    """The largest (or smallest) value of dtype `d`."""
    if d.kind == "b":
        return high
    if d.kind == "f":
        return np.inf if high else -np.inf
    return np.iinfo(d).max if high else np.iinfo(d).min


@register("Softmax", "LogSoftmax")
class Softmax(Kernel):
    """Opset >= 13: along `axis` (default -1).  Older opsets: over the input
    flattened to 2-D at `axis` (default 1), i.e. over all axes from `axis` on."""

    order = "per index over the axes before `axis`: read the block from `axis` on, write it"

    def setup(self) -> None:
        rank = len(self.in_shapes[0])
        new = self.opset >= 13
        axis = int(self.attrs.get("axis", -1 if new else 1))
        self.axis = axis + rank if axis < 0 else axis
        if not 0 <= self.axis < max(rank, 1):
            raise self.fail(f"axis {axis} is out of range for rank {rank}")
        self.local = (0,) if new else tuple(range(rank - self.axis))
        block = int(np.prod(self.in_shapes[0][self.axis :]))
        self.scratch_bytes = 16 * block + self.qdq_scratch([block], block)

    def run(self, io: KernelIO) -> None:
        log = self.op.type == "LogSoftmax"
        for lead in leading(self.in_shapes[0], self.axis):
            x = io.read(0, lead)
            with np.errstate(invalid="ignore"):  # a row of -inf (fully masked) gives NaN
                z = x - np.max(x, axis=self.local, keepdims=True)
            e = np.exp(z)
            s = np.sum(e, axis=self.local, keepdims=True)
            io.write(0, lead, z - np.log(s) if log else e / s)
            io.end_chunk()
