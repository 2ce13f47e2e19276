"""Elementwise operators: unary, binary and n-ary with numpy broadcasting.

Chunk order (all kernels here): the output in flat row-major order, cut by
`flat_blocks` into contiguous runs of at most CHUNK_ELEMS elements (leading
axes one index at a time, the next axis in slices, trailing axes whole).
Chunk j reads, from every input, exactly the elements that output run j
depends on (for an input of the output's shape: the same flat run; for a
broadcast input: its broadcast sub-block) and then writes output run j.
So an output may share bytes with a same-shaped input whenever it starts at
or below it: in place is safe.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .base import Kernel, KernelIO, block_elems, broadcast_index, flat_blocks
from .registry import register


class Elementwise(Kernel):
    order = "flat: contiguous output runs in row-major order, each after reading its inputs"

    def setup(self) -> None:
        shape = self.out_shapes[0]
        self.bshapes = [self.broadcast_shape(k) for k in range(len(self.op.inputs))]
        n = block_elems(shape)
        width = max(d.itemsize for d in (*self.in_dtypes, *self.out_dtypes) if d)
        self.scratch_bytes = 4 * n * width + self.qdq_scratch([n] * len(self.bshapes), n)

    def broadcast_shape(self, k: int) -> tuple[int, ...] | None:
        """The shape input `k` is broadcast at (its own shape by default)."""
        return self.in_shapes[k]

    def fn(self, *args: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def run(self, io: KernelIO) -> None:
        shape = self.out_shapes[0]
        rank = len(shape)
        live = [k for k, s in enumerate(self.bshapes) if s is not None]
        for idx in flat_blocks(shape):
            args: list[np.ndarray | None] = [None] * len(self.bshapes)
            for k in live:
                bs = self.bshapes[k]
                args[k] = io.read(k, broadcast_index(idx, bs, rank), shape=bs)
            with np.errstate(all="ignore"):
                value = self.fn(*args)
            io.write(0, idx, value)
            io.end_chunk()


def _plain(f: Callable) -> Callable:
    """A numpy ufunc as a UNARY entry (no attributes)."""
    return lambda k, x: f(x)


UNARY: dict[str, Callable] = {
    "Relu": lambda k, x: np.maximum(x, x.dtype.type(0)),
    "LeakyRelu": lambda k, x: np.where(x >= 0, x, x * x.dtype.type(k.attrs.get("alpha", 0.01))),
    "Sigmoid": lambda k, x: 1 / (1 + np.exp(-x)),
    "HardSigmoid": lambda k, x: np.clip(
        x * x.dtype.type(k.attrs.get("alpha", 0.2)) + x.dtype.type(k.attrs.get("beta", 0.5)),
        0, 1),
    "HardSwish": lambda k, x: x * np.clip(x / x.dtype.type(6) + x.dtype.type(0.5), 0, 1),
    "Tanh": lambda k, x: np.tanh(x),
    "Abs": lambda k, x: np.abs(x),
    "Neg": lambda k, x: np.negative(x),
    "Exp": lambda k, x: np.exp(x),
    "Log": lambda k, x: np.log(x),
    "Sqrt": lambda k, x: np.sqrt(x),
    "Reciprocal": lambda k, x: 1 / x,
    "Floor": lambda k, x: np.floor(x),
    "Ceil": lambda k, x: np.ceil(x),
    "Round": lambda k, x: np.rint(x),
    "Sign": lambda k, x: np.sign(x),
    "Elu": lambda k, x: np.where(x > 0, x, x.dtype.type(k.attrs.get("alpha", 1.0)) * np.expm1(x)),
    "Selu": lambda k, x: x.dtype.type(k.attrs.get("gamma", 1.05070102214813232421875)) * np.where(
        x > 0, x, x.dtype.type(k.attrs.get("alpha", 1.67326319217681884765625)) * np.expm1(x)),
    "Softplus": lambda k, x: np.logaddexp(x, x.dtype.type(0)),
    "Softsign": lambda k, x: x / (1 + np.abs(x)),
    "Identity": lambda k, x: x,
    "Erf": lambda k, x: _erf(x),
    "Gelu": lambda k, x: _gelu(x, k.attrs.get("approximate", "none")),
    "Celu": lambda k, x: _celu(x, x.dtype.type(k.attrs.get("alpha", 1.0))),
    "ThresholdedRelu": lambda k, x: np.where(x > x.dtype.type(k.attrs.get("alpha", 1.0)), x, 0),
    "Mish": lambda k, x: x * np.tanh(np.logaddexp(x, x.dtype.type(0))),
    "Swish": lambda k, x: x / (1 + np.exp(-x * x.dtype.type(k.attrs.get("alpha", 1.0)))),
    "Shrink": lambda k, x: _shrink(x, k.attrs.get("lambd", 0.5), k.attrs.get("bias", 0.0)),
    "IsNaN": lambda k, x: np.isnan(x),
    "IsInf": lambda k, x: (np.isposinf(x) & bool(k.attrs.get("detect_positive", 1)))
    | (np.isneginf(x) & bool(k.attrs.get("detect_negative", 1))),
    "Not": lambda k, x: np.logical_not(x),
    "BitwiseNot": lambda k, x: np.invert(x),
    **{op: _plain(f) for op, f in {
        "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos,
        "Atan": np.arctan, "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh,
        "Acosh": np.arccosh, "Atanh": np.arctanh}.items()},
}


def _erf(x: np.ndarray) -> np.ndarray:
    """numpy has no erf; math.erf per element (exact to double precision)."""
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(x.dtype)


def _gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + np.tanh(x.dtype.type(c) * (x + x.dtype.type(0.044715) * x ** 3)))
    return 0.5 * x * (1 + _erf(x / x.dtype.type(math.sqrt(2))))


def _celu(x: np.ndarray, alpha) -> np.ndarray:
    return np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha))


def _shrink(x: np.ndarray, lambd: float, bias: float) -> np.ndarray:
    lo, b = x.dtype.type(lambd), x.dtype.type(bias)
    return np.where(x < -lo, x + b, np.where(x > lo, x - b, x.dtype.type(0)))


@register(*UNARY)
class Unary(Elementwise):
    """One input, same-shape output; see the module docstring for the chunk order."""

    def fn(self, x: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        return UNARY[self.op.type](self, x)


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ONNX integer Div truncates toward zero (C semantics), numpy floors."""
    q = np.floor_divide(a, b)
    fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + fix.astype(q.dtype)


BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": lambda a, b: _int_div(a, b) if a.dtype.kind in "iu" else np.divide(a, b),
    "Pow": lambda a, b: np.power(a, b.astype(a.dtype) if a.dtype.kind == "f" else b),
    "PRelu": lambda x, s: np.where(x < 0, x * s, x),
    "Equal": np.equal,
    "Greater": np.greater,
    "Less": np.less,
    "GreaterOrEqual": np.greater_equal,
    "LessOrEqual": np.less_equal,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Xor": np.logical_xor,
    "BitwiseAnd": np.bitwise_and,
    "BitwiseOr": np.bitwise_or,
    "BitwiseXor": np.bitwise_xor,
}


@register(*BINARY)
class Binary(Elementwise):
    """Two inputs with numpy broadcasting; chunk order as in the module docstring."""

    def fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return BINARY[self.op.type](a, b)


@register("Mod")
class Mod(Elementwise):
    """fmod=1: the sign of the dividend (C fmod); fmod=0: of the divisor (integers)."""

    def setup(self) -> None:
        self.fmod = bool(self.attrs.get("fmod", 0))
        if not self.fmod and self.in_dtypes[0].kind == "f":
            raise self.fail("Mod of floats needs fmod=1")
        super().setup()

    def fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.fmod(a, b) if self.fmod else np.mod(a, b)


@register("BitShift")
class BitShift(Elementwise):
    def fn(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        left = self.attrs.get("direction") == "LEFT"
        return np.left_shift(a, b.astype(a.dtype)) if left else np.right_shift(
            a, b.astype(a.dtype))


@register("Where")
class Where(Elementwise):
    def fn(self, c: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(c, x, y)


@register("Expand")
class Expand(Elementwise):
    """Input 1 (the shape) is not read at run time: the output shape is known."""

    def broadcast_shape(self, k: int) -> tuple[int, ...] | None:
        return self.in_shapes[0] if k == 0 else None

    def fn(self, x: np.ndarray, *rest) -> np.ndarray:
        return x  # the write broadcasts it over the output run


@register("Sum", "Max", "Min", "Mean")
class Variadic(Elementwise):
    """N inputs with broadcasting, folded left to right (ONNX order)."""

    def fn(self, *args: np.ndarray) -> np.ndarray:
        f = {"Sum": np.add, "Mean": np.add, "Max": np.maximum, "Min": np.minimum}[self.op.type]
        acc = args[0]
        for a in args[1:]:
            acc = f(acc, a)
        if self.op.type == "Mean":
            acc = acc / acc.dtype.type(len(args)) if acc.dtype.kind == "f" else acc // len(args)
        return acc


@register("Clip")
class Clip(Elementwise):
    """min/max come from inputs 1, 2 (opset >= 11) or attributes (older)."""

    def fn(self, x: np.ndarray, lo: np.ndarray | None = None,
           hi: np.ndarray | None = None) -> np.ndarray:
        if lo is None and "min" in self.attrs:
            lo = x.dtype.type(self.attrs["min"])
        if hi is None and "max" in self.attrs:
            hi = x.dtype.type(self.attrs["max"])
        y = x if lo is None else np.maximum(x, lo)
        return y if hi is None else np.minimum(y, hi)


@register("Cast", "CastLike")
class Cast(Elementwise):
    """Casts to the output tensor's dtype (the frontend resolved `to`; CastLike's
    second input only names the type and is not read).  bfloat16 and the 8-bit
    floats are ml_dtypes types; casting to an 8-bit float saturates to its
    largest finite value unless saturate=0.  Packed 4- and 2-bit types are
    refused (their arena layout is not one element per byte)."""

    def setup(self) -> None:
        src, dst = self.in_dtypes[0], self.out_dtypes[0]
        if not (_castable(src) and _castable(dst)):
            raise self.fail(f"Cast from {src} to {dst} is not supported")
        self.limit = None
        if dst.name.startswith("float8") and self.attrs.get("saturate", 1):
            import ml_dtypes

            self.limit = float(ml_dtypes.finfo(dst).max)
        super().setup()

    def broadcast_shape(self, k: int) -> tuple[int, ...] | None:
        return self.in_shapes[k] if k == 0 else None

    def fn(self, x: np.ndarray, *rest) -> np.ndarray:
        if self.limit is not None:
            x = np.clip(x.astype(np.float32), -self.limit, self.limit)
        return x.astype(self.out_dtypes[0])


def _castable(d: np.dtype) -> bool:
    return d.kind in "biuf" or d.name == "bfloat16" or (
        d.name.startswith("float8") and "e8m0" not in d.name)  # e8m0: its own rounding


@register("BitCast")
class BitCast(Elementwise):
    """The same bytes read as another type of the same width."""

    def setup(self) -> None:
        if self.in_dtypes[0].itemsize != self.out_dtypes[0].itemsize or "O" in (
                self.in_dtypes[0].kind, self.out_dtypes[0].kind):
            raise self.fail(f"BitCast from {self.in_dtypes[0]} to {self.out_dtypes[0]} "
                            "changes the width")
        super().setup()

    def fn(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x).view(self.out_dtypes[0]).reshape(x.shape)


@register("BatchNormalization")
class BatchNormalization(Elementwise):
    """Inference form: y = (x - mean) / sqrt(var + eps) * scale + B, parameters
    per channel (axis 1), broadcast per chunk like any other input."""

    def setup(self) -> None:
        if self.attrs.get("training_mode", 0) or any(self.op.outputs[1:]):
            raise self.fail("training-mode BatchNormalization is not supported")
        super().setup()

    def broadcast_shape(self, k: int) -> tuple[int, ...] | None:
        shape = self.in_shapes[k]
        if k == 0 or shape is None:
            return shape
        rank = len(self.in_shapes[0])
        return (1, *shape, *[1] * (rank - 1 - len(shape)))

    def fn(self, x, scale, b, mean, var) -> np.ndarray:
        eps = x.dtype.type(self.attrs.get("epsilon", 1e-5))
        return (x - mean) / np.sqrt(var + eps) * scale + b
