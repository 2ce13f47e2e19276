"""QLinearConv and QLinearMatMul: integer operators with explicit requantization.

Same chunk orders as Conv and MatMul (they reuse those loops).  Arithmetic is
exact: inputs and weights minus their zero points are summed in float64
(exact for int8/uint8 sums), the bias added, then requantized like
onnxruntime does — times the float32 multiplier x_scale * w_scale / y_scale,
rounded half to even, plus the output zero point, saturated.
"""

from __future__ import annotations

import numpy as np

from .base import KernelIO
from .conv import Conv
from .matmul import MatMul
from .registry import register


def _requantize(acc: np.ndarray, mult: np.ndarray, zp: float, dtype: np.dtype) -> np.ndarray:
    y = np.rint(acc.astype(np.float32) * mult) + np.float32(zp)
    info = np.iinfo(dtype)
    return np.clip(y, info.min, info.max)


class _Quantized:
    """Constant scales and zero points of inputs (x, w, y) at the given slots."""

    def params(self, slots: tuple[int, ...]) -> list[np.ndarray]:
        vals = []
        for k in slots:
            if not self.has_input(k):
                vals.append(np.zeros((), np.float32))
                continue
            v = self.const(k)
            if v is None:
                raise self.fail(f"input {k} ({self.op.inputs[k]!r}) must be a constant")
            vals.append(np.asarray(v))
        return vals


@register("QLinearConv")
class QLinearConv(_Quantized, Conv):
    X, W, B = 0, 3, 8

    def compute_dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    def prepare(self) -> None:
        sx, zx, sw, zw, sy, zy = self.params((1, 2, 4, 5, 6, 7))
        m = self.y4[1]
        self.zx, self.zy = float(zx.reshape(-1)[0]), float(zy.reshape(-1)[0])
        per = (m, 1, 1, 1)
        zw = zw.astype(np.float64).reshape(per if zw.size > 1 else ())
        w = self.const(self.W)
        self.wf = None if w is None else w.astype(np.float64) - zw
        self.zw = zw
        mult = (sx.astype(np.float32).reshape(-1)[0] * sw.astype(np.float32).reshape(-1)
                / sy.astype(np.float32).reshape(-1)[0])
        self.mult = mult.astype(np.float32).reshape(-1, 1) if mult.size > 1 else mult[0]
        self.scratch_bytes += 16 * int(np.prod(self.in_shapes[self.W]))  # float64 weights

    def prep(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) - self.zx

    def weights(self, io: KernelIO) -> np.ndarray:
        if self.wf is not None:
            return self.wf
        return io.read(self.W).astype(np.float64) - self.zw

    def finish(self, y: np.ndarray, io: KernelIO, ch: slice) -> np.ndarray:
        if self.has_input(self.B):
            b = io.read(self.B, (ch,))
            y += b.reshape(b.shape + (1,) * (y.ndim - 1))
        mult = self.mult[ch].reshape((-1,) + (1,) * (y.ndim - 1)) if np.ndim(self.mult) else (
            self.mult)
        return _requantize(y, mult, self.zy, self.out_dtypes[0])


@register("QLinearMatMul")
class QLinearMatMul(_Quantized, MatMul):
    """MatMul's row order; B's scale and zero point may be per output column."""

    A, BM = 0, 3

    def prepare(self) -> None:
        sa, za, sb, zb, sy, zy = self.params((1, 2, 4, 5, 6, 7))
        self.za, self.zy = float(za.reshape(-1)[0]), float(zy.reshape(-1)[0])
        self.zb = zb.astype(np.float64)
        b = self.const(self.BM)
        self.bf = None if b is None else (b.astype(np.float64) - self.zb).reshape(self.b)
        self.mult = (sa.astype(np.float32).reshape(-1)[0] * sb.astype(np.float32)
                     / sy.astype(np.float32).reshape(-1)[0]).astype(np.float32)
        self.scratch_bytes += 16 * self.b[-2] * self.b[-1]  # float64 B

    def product(self, io: KernelIO, ia: tuple, ib: tuple, m: int) -> np.ndarray:
        row = io.read(self.A, (*ia, m), shape=self.a).astype(np.float64) - self.za
        if self.bf is not None:
            mat = self.bf[(*ib, slice(None), slice(None))]
        else:
            mat = io.read(self.BM, (*ib, slice(None), slice(None)), shape=self.b)
            mat = mat.astype(np.float64) - self.zb
        return _requantize(row @ mat, self.mult, self.zy, self.out_dtypes[0])


@register("MatMulInteger")
class MatMulInteger(MatMul):
    """int32 (A - a_zero_point) @ (B - b_zero_point), exact in float64; A's zero
    point may be per row, B's per column.  The zero points are read (whole) in
    every chunk: DynamicQuantizeLinear computes them at run time."""

    A, BM = 0, 1

    def prepare(self) -> None:
        self.scratch_bytes += 16 * self.b[-2] * self.b[-1]

    def zero_point(self, io: KernelIO, k: int) -> np.ndarray:
        return io.read(k).astype(np.float64) if self.has_input(k) else np.zeros(())

    def product(self, io: KernelIO, ia: tuple, ib: tuple, m: int) -> np.ndarray:
        za, zb = self.zero_point(io, 2).reshape(-1), self.zero_point(io, 3)
        row = io.read(self.A, (*ia, m), shape=self.a).astype(np.float64) - (
            za[m] if za.size > 1 else za[0])
        mat = io.read(self.BM, (*ib, slice(None), slice(None)), shape=self.b)
        return row @ (mat.astype(np.float64) - zb)


@register("ConvInteger")
class ConvInteger(Conv):
    """int32 convolution of (x - x_zero_point) with (w - w_zero_point), no bias;
    padding contributes the zero point, i.e. nothing.  `weights` reads both
    zero points (whole) in every chunk, before the input rows are used."""

    X, W, B = 0, 1, 99  # no bias input (a slot no operator has)

    def compute_dtype(self) -> np.dtype:
        return np.dtype(np.float64)

    def prepare(self) -> None:
        self.zx = 0.0
        self.scratch_bytes += 16 * int(np.prod(self.in_shapes[self.W]))

    def prep(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) - self.zx

    def weights(self, io: KernelIO) -> np.ndarray:
        zx = io.read(2).reshape(-1) if self.has_input(2) else np.zeros(1)
        zw = io.read(3).astype(np.float64) if self.has_input(3) else np.zeros(())
        self.zx = float(zx[0])
        zw = zw.reshape((-1, 1, 1, 1) if zw.size > 1 else ())
        return super().weights(io).astype(np.float64) - zw

    def finish(self, y: np.ndarray, io: KernelIO, ch: slice) -> np.ndarray:
        return y
