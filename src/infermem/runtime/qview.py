"""QDQ models run as deployed: float tensors that are views of integer bytes.

The ONNX frontend makes the float output of a DequantizeLinear, and the float
output of an operator whose only reader is a QuantizeLinear, aliases of the
integer tensor (see frontends/onnx_qdq.py): a fused integer kernel never
writes the float tensor.  The executor honours that: such a tensor is a
`QView` over its integer root's arena bytes.  A kernel reading it gets the
dequantized chunk (computed on the fly, chunk-sized scratch); a kernel writing
it stores the quantized chunk.  The DQ and Q operators themselves then move
no bytes.  Rounding is ONNX's: round half to even, then saturate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadInput
from ..graph import Quant, Tensor


def quantize(x: np.ndarray, scale: Any, zero_point: Any, dtype: np.dtype) -> np.ndarray:
    """saturate(round_half_even(x / scale) + zero_point) as `dtype` (one float
    temporary and the result)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise BadInput(f"quantizing to {dtype} is not supported (int/uint only)")
    q = np.divide(np.asarray(x, dtype=np.float32), np.asarray(scale, dtype=np.float32),
                  dtype=np.float32)
    np.rint(q, out=q)
    q += np.asarray(zero_point, dtype=np.float32)
    info = np.iinfo(dtype)
    np.clip(q, info.min, info.max, out=q)
    return q.astype(dtype)


def dequantize(q: np.ndarray, scale: Any, zero_point: Any, dtype: Any = np.float32) -> np.ndarray:
    """(q - zero_point) * scale, in `dtype` (the scale's float type); one float
    array, computed in place."""
    x = np.array(q, dtype=np.float32)
    x -= np.asarray(zero_point, dtype=np.float32)
    x *= np.asarray(scale, dtype=np.float32)
    return x.astype(dtype, copy=False)


def axis_shape(n: int, axis: int | None, rank: int) -> tuple[int, ...]:
    """The shape that broadcasts `n` per-axis parameters along `axis` of a tensor of `rank`."""
    if axis is None or n == 1:
        return ()
    shape = [1] * rank
    shape[axis] = n
    return tuple(shape)


def quant_arrays(q: Quant, rank: int) -> tuple[np.ndarray, np.ndarray]:
    shape = axis_shape(len(q.scale), q.axis, rank)
    scale = np.asarray(q.scale, dtype=np.float32).reshape(shape)
    zp = np.asarray(q.zero_point, dtype=np.float32).reshape(shape)
    return scale, zp


@dataclass(frozen=True)
class QView:
    """Float tensor `shape`/`dtype` stored as integers in `ints` (an arena view
    already reshaped to `shape`) with the root's affine parameters."""

    ints: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    dtype: np.dtype
    per_axis: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return self.ints.shape

    @property
    def size(self) -> int:
        return self.ints.size

    def _params(self, idx: Any, shape: Sequence[int] | None) -> tuple[Any, Any]:
        if not self.per_axis:
            return self.scale, self.zero_point
        if shape is not None and tuple(shape) != self.shape:
            raise BadInput("a per-axis quantized activation cannot be read reshaped")
        s = np.broadcast_to(self.scale, self.shape)
        z = np.broadcast_to(self.zero_point, self.shape)
        return (s[idx], z[idx]) if idx != () else (s, z)

    def ints_at(self, idx: Any, shape: Sequence[int] | None) -> np.ndarray:
        a = self.ints.reshape(shape) if shape is not None else self.ints
        if idx == ():
            return a
        return a[(*idx, Ellipsis)] if isinstance(idx, tuple) else a[idx]  # a view, never a copy

    def load(self, ints: np.ndarray, idx: Any, shape: Sequence[int] | None) -> np.ndarray:
        s, z = self._params(idx, shape)
        return dequantize(ints, s, z, self.dtype)

    def store(self, value: Any, idx: Any, shape: Sequence[int] | None) -> np.ndarray:
        s, z = self._params(idx, shape)
        return quantize(value, s, z, self.ints.dtype)


def qview(t: Tensor, root: Tensor, ints: np.ndarray) -> QView:
    """The QView of float tensor `t` whose bytes are integer tensor `root`."""
    if root.quant is None:
        raise BadInput(f"tensor {t.name!r} is a dequantized view of {root.name!r}, which has "
                       "no constant scale and zero point")
    scale, zp = quant_arrays(root.quant, len(t.shape))
    if scale.ndim and len(t.shape) != len(root.shape):
        raise BadInput(f"per-axis quantized {root.name!r} is viewed with another rank as "
                       f"{t.name!r}")
    return QView(ints.reshape(t.shape), scale, zp, np.dtype(t.dtype), bool(scale.ndim))
