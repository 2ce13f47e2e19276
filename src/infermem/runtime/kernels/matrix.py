"""Matrix-shaped operators: Trilu, EyeLike, OneHot, Einsum, Det.

Chunk orders:

* Trilu, EyeLike: per (batch index, row i): read row i (Trilu), write row i.
* OneHot: indices viewed as (P, Q) around `axis`, output as (P, depth, Q);
  per p: read indices[p] and the values, write output[p].
* Einsum, Det: one chunk: read every input whole, write the output.
* Shape, Size: one chunk that reads nothing (the shape is known) and writes.
"""

from __future__ import annotations

import numpy as np

from .base import indices
from .blocked import Blocked
from .registry import register


@register("Trilu")
class Trilu(Blocked):
    order = "per (batch index, row): read the row, write it masked"

    def prepare(self) -> None:
        xs = self.in_shapes[0]
        if len(xs) < 2:
            raise self.fail(f"needs a matrix, got shape {xs}")
        k = self.const_ints(1, "k")
        self.k = k[0] if k else 0
        self.upper = bool(self.attrs.get("upper", 1))
        b = int(np.prod(xs[:-2]))
        self.x_views = [(b, xs[-2], xs[-1]), None]
        self.y_views = [(b, xs[-2], xs[-1])]
        self.block_scratch(xs[-1], 2)

    def chunks(self):
        b, rows, _ = self.y_views[0]
        for i in indices((b, rows)):
            yield (i,), (i, None), i[1]

    def compute(self, row_no, x, *rest):
        j = np.arange(x.shape[-1])
        keep = j >= row_no + self.k if self.upper else j <= row_no + self.k
        return (np.where(keep, x, np.zeros_like(x)),)


@register("EyeLike")
class EyeLike(Blocked):
    order = "per row: write it (the input's values are never read)"

    def prepare(self) -> None:
        if len(self.out_shapes[0]) != 2:
            raise self.fail("EyeLike needs a 2-D input")
        self.k = int(self.attrs.get("k", 0))

    def chunks(self):
        for i in range(self.out_shapes[0][0]):
            yield ((i,),), (None,), i

    def compute(self, row_no, *rest):
        return ((np.arange(self.out_shapes[0][1]) == row_no + self.k).astype(self.out_dtypes[0]),)


@register("OneHot")
class OneHot(Blocked):
    order = "per index p before `axis`: read indices[p] and the values, write output[p]"

    def prepare(self) -> None:
        xs = self.in_shapes[0]
        rank = len(xs) + 1
        self.axis = self.axis_attr(default=-1, rank=rank)
        depth = self.const(1)
        if depth is None:
            raise self.fail("depth must be a constant (a weight)")
        self.depth = int(np.asarray(depth).reshape(-1)[0])
        p, q = int(np.prod(xs[: self.axis])), int(np.prod(xs[self.axis:]))
        self.x_views = [(p, q), self.in_shapes[1], (2,)]
        self.y_views = [(p, self.depth, q)]
        self.block_scratch(self.depth * q, 3)

    def chunks(self):
        for p in range(self.x_views[0][0]):
            yield ((p,),), ((p,), None, ()), None

    def compute(self, ctx, ind, _depth, values):
        i = ind.astype(np.int64)
        i = np.where(i < 0, i + self.depth, i)
        hot = np.arange(self.depth)[:, None] == i[None, :]
        return (np.where(hot, values[1], values[0]),)


@register("Einsum")
class Einsum(Blocked):
    order = "one chunk: read every input whole, write the output"

    def prepare(self) -> None:
        self.eq = str(self.attrs.get("equation", "")).replace(" ", "")
        if not self.eq:
            raise self.fail("Einsum needs an equation")
        total = sum(int(np.prod(s)) for s in (*self.in_shapes, *self.out_shapes) if s)
        self.block_scratch(total, 2)

    def chunks(self):
        yield ((),), self.reads_all(), None

    def compute(self, ctx, *args):
        args = [a.astype(np.float32) if a.dtype.kind == "V" else a for a in args]  # bfloat16
        try:
            return (np.einsum(self.eq, *args),)
        except ValueError as e:
            raise self.fail(f"equation {self.eq!r}: {e}") from None


@register("Det")
class Det(Blocked):
    order = "one chunk: read the input whole, write the output"

    def prepare(self) -> None:
        self.block_scratch(int(np.prod(self.in_shapes[0])), 2)

    def chunks(self):
        yield ((),), self.reads_all(), None

    def compute(self, ctx, x):
        return (np.linalg.det(x),)


@register("Shape", "Size")
class Shape(Blocked):
    """The input's shape (Shape, `start`/`end` slicing it) or element count (Size),
    known when the graph is bound: the input's bytes are never read."""

    order = "one chunk: write the shape (nothing is read)"

    def prepare(self) -> None:
        xs = tuple(self.in_shapes[0])
        if self.op.type == "Size":
            self.value = np.int64(np.prod(xs))
        else:
            end = self.attrs.get("end")
            self.value = np.array(xs[int(self.attrs.get("start", 0)):
                                     None if end is None else int(end)], np.int64)

    def chunks(self):
        yield ((),), (None,), None

    def compute(self, ctx, x):
        return (self.value,)
