"""Gathers, scatters and Split: index-driven data movement.

Chunk orders (Blocked kernels: `chunks()` is the list):

* Gather with runtime indices: data viewed as (P, N, Q) (P the axes before
  `axis`, Q after), output as (P, K, Q) with K the number of indices.  Per
  p = 0..P-1: read all indices and the whole block data[p] (which rows the
  indices pick is data, so the whole block the pick may come from is read),
  write output[p].  With constant indices Gather is an axis map (axismap.py).
* GatherElements, ScatterElements: per index over the axes before `axis`:
  read the data block there (whole, for the same reason), the indices (and
  updates) block, write the output block.
* GatherND, ScatterND: one chunk: read everything, write the output.
* Split: per output i, per index over the axes before `axis`: read that
  output's slab of the input, write it.
"""

from __future__ import annotations

import numpy as np

from .axismap import GatherConst
from .base import Kernel, _const, leading
from .blocked import Blocked
from .registry import register


@register("Gather")
class Gather(Blocked):
    order = "per index p over the axes before `axis`: read all indices and data[p], write out[p]"

    @staticmethod
    def pick(op, graph) -> type[Kernel]:
        """Constant indices make Gather an axis map; runtime indices need this kernel."""
        known = len(op.inputs) > 1 and _const(graph, op.inputs[1]) is not None
        return GatherConst if known else Gather

    def prepare(self) -> None:
        xs = self.in_shapes[0]
        self.axis = self.axis_attr()
        p, n = int(np.prod(xs[: self.axis])), xs[self.axis]
        q = int(np.prod(xs[self.axis + 1:]))
        k = int(np.prod(self.in_shapes[1]))
        self.x_views = [(p, n, q), (k,)]
        self.y_views = [(p, k, q)]
        if p * k * q != int(np.prod(self.out_shapes[0])):
            raise self.fail(f"gathering {k} of {xs} does not give {self.out_shapes[0]}")
        self.block_scratch(k * q + n * q, 3)

    def chunks(self):
        for p in range(self.x_views[0][0]):
            yield ((p,),), ((p,), ()), None

    def compute(self, ctx, data, idx):
        n = data.shape[0]
        i = np.where(idx < 0, idx + n, idx).astype(np.intp)
        if i.size and (i.min() < 0 or i.max() >= n):
            raise self.fail(f"index out of range [{-n}, {n})")
        return (data[i],)


class _AlongAxis(Blocked):
    """Shared geometry of GatherElements and ScatterElements."""

    order = "per index over the axes before `axis`: read the data, index (update) blocks, write"

    def prepare(self) -> None:
        self.axis = self.axis_attr()
        ds, ix = self.in_shapes[0], self.in_shapes[1]
        if len(ix) != len(ds):
            raise self.fail(f"indices {ix} do not fit data {ds}")
        self.block_scratch(int(np.prod(ds[self.axis:])) + int(np.prod(ix[self.axis:])), 4)

    def norm(self, idx: np.ndarray, n: int) -> np.ndarray:
        i = np.where(idx < 0, idx + n, idx).astype(np.intp)
        if i.size and (i.min() < 0 or i.max() >= n):
            raise self.fail(f"index out of range [{-n}, {n})")
        return i


@register("GatherElements")
class GatherElements(_AlongAxis):
    def chunks(self):
        for lead in leading(self.out_shapes[0], self.axis):
            yield (lead,), (lead, lead), None

    def compute(self, ctx, data, idx):
        crop = (slice(None),) + tuple(slice(0, d) for d in idx.shape[1:])
        block = data[crop]
        return (np.take_along_axis(block, self.norm(idx, data.shape[0]), axis=0),)


REDUCTIONS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


@register("ScatterElements")
class ScatterElements(_AlongAxis):
    def prepare(self) -> None:
        super().prepare()
        self.reduction = self.attrs.get("reduction", "none")
        if self.reduction not in ("none", *REDUCTIONS):
            raise self.fail(f"reduction {self.reduction!r} is not supported")

    def chunks(self):
        ix = self.in_shapes[1]
        for lead in leading(self.in_shapes[0], self.axis):
            inside = all(i < d for i, d in zip(lead, ix, strict=False))
            yield (lead,), (lead, lead if inside else None, lead if inside else None), None

    def compute(self, ctx, data, idx, upd):
        out = np.array(data)
        if idx is None:
            return (out,)
        i = self.norm(idx, data.shape[0])
        grid = list(np.indices(i.shape, sparse=True))
        grid[0] = i
        where = tuple(grid)
        if self.reduction == "none":
            out[where] = upd
        else:
            REDUCTIONS[self.reduction].at(out, where, upd)
        return (out,)


@register("GatherND", "ScatterND")
class IndexND(Blocked):
    order = "one chunk: read every input whole, write the output"

    def prepare(self) -> None:
        self.batch = int(self.attrs.get("batch_dims", 0))
        self.reduction = self.attrs.get("reduction", "none")
        if self.batch and self.op.type == "GatherND" and self.batch != 0:
            raise self.fail("GatherND with batch_dims is not supported")
        if self.reduction not in ("none", *REDUCTIONS):
            raise self.fail(f"reduction {self.reduction!r} is not supported")
        self.block_scratch(sum(int(np.prod(s)) for s in self.in_shapes if s is not None), 2)

    def chunks(self):
        yield ((),), self.reads_all(), None

    def compute(self, ctx, data, idx, upd=None):
        k = idx.shape[-1]
        dims = np.array(data.shape[:k])
        i = np.where(idx < 0, idx + dims, idx).reshape(-1, k).astype(np.intp)
        if i.size and ((i < 0).any() or (i >= dims).any()):
            raise self.fail("index out of range")
        where = tuple(i.T)
        if self.op.type == "GatherND":
            return (data[where].reshape(self.out_shapes[0]),)
        out = np.array(data)
        u = upd.reshape(-1, *data.shape[k:])
        if self.reduction == "none":
            out[where] = u
        else:
            REDUCTIONS[self.reduction].at(out, where, u)
        return (out,)


@register("Split")
class Split(Blocked):
    order = "per output i, per index before `axis`: read that output's input slab, write it"

    def prepare(self) -> None:
        xs = self.in_shapes[0]
        self.axis = self.axis_attr()
        sizes = [s[self.axis] if s is not None else None for s in self.out_shapes]
        if None in sizes or sum(sizes) != xs[self.axis]:
            raise self.fail(f"outputs {self.out_shapes} do not split {xs} on axis {self.axis}")
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.block_scratch(int(np.prod(xs[self.axis:])), 1)

    def chunks(self):
        n = len(self.out_shapes)
        rest = tuple(None for _ in self.op.inputs[1:])
        for i in range(n):
            if not self.op.outputs[i]:
                continue
            sl = slice(self.offsets[i], self.offsets[i + 1])
            for lead in leading(self.in_shapes[0], self.axis):
                writes = tuple(lead if j == i else None for j in range(n))
                yield writes, ((*lead, sl), *rest), None

    def compute(self, ctx, x, *rest):
        return (x,) * len(self.out_shapes)
