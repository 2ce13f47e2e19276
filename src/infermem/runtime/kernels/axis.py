"""Operators along one axis: ArgMax/ArgMin, Hardmax, CumSum/CumProd, TopK,
LpNormalization.

Chunk order (all): for each index over the axes before `axis` (row-major),
read the input block X[lead] (everything from `axis` on), then write the
output block(s) at the same leading index.  The output block is never
larger than the input block except for TopK's two outputs together.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked, lead_chunks
from .registry import register


class AlongAxis(Blocked):
    order = "per index over the axes before `axis`: read X[lead], write the output block(s)"
    default_axis = 0

    def prepare(self) -> None:
        self.axis = self.axis_attr(default=self.default_axis)
        self.block_scratch(int(np.prod(self.in_shapes[0][self.axis:])), 4)
        self.setup_axis()

    def setup_axis(self) -> None:
        pass

    def chunks(self):
        n_out = sum(1 for _ in self.op.outputs)
        for writes, reads, lead in lead_chunks(self.in_shapes[0], self.axis,
                                               len(self.op.inputs), n_out,
                                               shared=range(1, len(self.op.inputs))):
            yield tuple(w if self.op.outputs[k] else None for k, w in enumerate(writes)), (
                reads[0], *[None] * (len(reads) - 1)), lead


@register("ArgMax", "ArgMin")
class ArgMax(AlongAxis):
    def compute(self, ctx, x, *rest):
        f = np.argmax if self.op.type == "ArgMax" else np.argmin
        if self.attrs.get("select_last_index", 0):
            r = x.shape[0] - 1 - f(x[::-1], axis=0)
        else:
            r = f(x, axis=0)
        return (np.expand_dims(r, 0) if self.attrs.get("keepdims", 1) else r,)


@register("Hardmax")
class Hardmax(AlongAxis):
    """Opset >= 13 along `axis` (default -1); older opsets over the input
    flattened at `axis` (default 1)."""

    def prepare(self) -> None:
        self.default_axis = -1 if self.opset >= 13 else 1
        super().prepare()

    def compute(self, ctx, x, *rest):
        flat = x.reshape(x.shape[0], -1) if self.opset >= 13 else x.reshape(-1, 1)
        i = np.argmax(flat, axis=0)
        y = np.zeros_like(flat)
        y[i, np.arange(flat.shape[1])] = 1
        return (y.reshape(x.shape),)


@register("CumSum", "CumProd")
class CumSum(AlongAxis):
    """The axis is input 1 (a constant); `exclusive` shifts by one, `reverse` runs backwards."""

    def prepare(self) -> None:
        axis = self.const_ints(1, "axis")
        if not axis:
            raise self.fail("the axis must be a constant (a weight)")
        self.attrs = {**self.attrs, "axis": axis[0]}
        super().prepare()

    def compute(self, ctx, x, *rest):
        f = np.cumsum if self.op.type == "CumSum" else np.cumprod
        rev = bool(self.attrs.get("reverse", 0))
        v = x[::-1] if rev else x
        y = f(v, axis=0, dtype=x.dtype)
        if self.attrs.get("exclusive", 0):
            ident = np.zeros_like(y[:1]) if self.op.type == "CumSum" else np.ones_like(y[:1])
            y = np.concatenate([ident, y[:-1]], axis=0)
        return (y[::-1] if rev else y,)


@register("TopK")
class TopK(AlongAxis):
    """K is input 1 (a constant).  Ties keep the lower index first."""

    default_axis = -1

    def setup_axis(self) -> None:
        k = self.const_ints(1, "K") if self.opset >= 10 else self.ints("k")
        if not k:
            raise self.fail("K must be a constant (a weight)")
        self.k = k[0]

    def compute(self, ctx, x, *rest):
        n = x.shape[0]
        if self.attrs.get("largest", 1):
            order = n - 1 - np.argsort(x[::-1], axis=0, kind="stable")[::-1]
        else:
            order = np.argsort(x, axis=0, kind="stable")
        idx = order[: self.k]
        return np.take_along_axis(x, idx, axis=0), idx


@register("LpNormalization")
class LpNormalization(AlongAxis):
    default_axis = -1

    def compute(self, ctx, x, *rest):
        p = int(self.attrs.get("p", 2))
        if p == 1:
            norm = np.sum(np.abs(x), axis=0, keepdims=True)
        else:
            norm = np.sqrt(np.sum(np.square(x), axis=0, keepdims=True))
        return (np.where(norm == 0, 0, x / norm),)
