"""QuantizeLinear and DequantizeLinear where they really move bytes.

In a QDQ model most Q/DQ operators move nothing: their float side is a view
of their integer side (qview.py).  These kernels run the others: a float
graph input quantized on entry, a dequantized graph output, single-node test
cases.  Elementwise chunk order (flat output runs, see elementwise.py), with
the scale and zero point broadcast along `axis` when they are per-axis.
"""

from __future__ import annotations

import numpy as np

from ..qview import axis_shape, dequantize, quantize
from .blocked import Blocked
from .elementwise import Elementwise
from .registry import register


@register("QuantizeLinear", "DequantizeLinear")
class QDQ(Elementwise):
    def setup(self) -> None:
        if self.attrs.get("block_size", 0):
            raise self.fail("blocked quantization (block_size) is not supported")
        kinds = {self.in_dtypes[0].kind, self.out_dtypes[0].kind}
        if not kinds <= set("iuf") or "f" not in kinds or len(kinds) != 2:
            raise self.fail(f"{self.in_dtypes[0]} -> {self.out_dtypes[0]} is not supported")
        if self.op.type == "DequantizeLinear" and self.in_dtypes[0] == np.int32 and (
                self.has_input(2)):
            zp = self.const(2)
            if zp is None or np.any(zp):
                raise self.fail("int32 DequantizeLinear needs a zero zero_point")
        super().setup()

    def broadcast_shape(self, k: int) -> tuple[int, ...] | None:
        shape = self.in_shapes[k]
        if k == 0 or shape is None:
            return shape
        rank = len(self.in_shapes[0])
        n = int(np.prod(shape))
        axis = int(self.attrs.get("axis", 1))
        axis = axis + rank if axis < 0 else axis
        if n > 1 and len(shape) > 1:
            raise self.fail(f"scale/zero point of shape {shape} are not per-tensor or per-axis")
        return axis_shape(n, axis, rank) if n > 1 else ()

    def fn(self, x: np.ndarray, scale: np.ndarray, zp: np.ndarray | None = None) -> np.ndarray:
        zero = 0 if zp is None else zp
        if self.op.type == "QuantizeLinear":
            return quantize(x, scale, zero, self.out_dtypes[0])
        return dequantize(x, scale, zero, self.out_dtypes[0])


@register("DynamicQuantizeLinear")
class DynamicQuantizeLinear(Blocked):
    """uint8 with a scale and zero point from the input's own range (which
    must include 0).  One chunk: the range needs every element before the
    first one can be quantized."""

    order = "one chunk: read the input whole, write y, y_scale and y_zero_point"

    def prepare(self) -> None:
        self.block_scratch(int(np.prod(self.in_shapes[0])), 2)

    def chunks(self):
        yield tuple(() if o else None for o in self.op.outputs), ((),), None

    def compute(self, ctx, x):
        lo, hi = min(0.0, float(np.min(x, initial=0))), max(0.0, float(np.max(x, initial=0)))
        scale = np.float32((hi - lo) / 255)
        zp = np.clip(np.rint(-lo / scale), 0, 255) if scale else np.float32(0)
        y = np.clip(np.rint(x / scale) + zp, 0, 255) if scale else np.full(x.shape, zp)
        return y, scale, zp
