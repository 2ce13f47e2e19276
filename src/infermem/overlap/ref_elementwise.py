"""Traced reference kernels for TFLM's elementwise, row-wise and copy kernels.

Elementwise kernels walk the output in row-major order (`for i: out[i] =
f(in1[b1(i)], in2[b2(i)])`, b the broadcast index of each input), so their
trace is one step per element.  Copies (RESHAPE, CONCATENATION,
RESIZE_NEAREST_NEIGHBOR) are memcpy calls: one step per call, writes and reads
of the whole chunk, `own` set because memcpy does not promise an order inside
a call.  MEAN zeroes its output (or accumulator) first, then reads, then
writes the result: three phases in the trace.  Integer arithmetic follows
TFLM's kernels (add.cc/PrepareAdd, mul_common.cc, hard_swish.h, reduce.h).
"""

from __future__ import annotations

import math

import numpy as np

from ..graph import Graph, Operator
from . import ref_quant as q
from .ref_window import grid
from .trace import Trace


def _t(graph: Graph, name: str):
    return graph.tensors[name]


def _act(op: Operator) -> str:
    return str(op.attrs.get("fused_activation_function", "NONE"))


def _bidx(x_shape, y_shape) -> np.ndarray:
    return np.broadcast_to(
        np.arange(math.prod(x_shape), dtype=np.int64).reshape(x_shape), y_shape
    ).ravel()


def _elementwise_trace(op: Operator, graph: Graph) -> Trace:
    y = _t(graph, op.outputs[0]).shape
    reads = {p: _bidx(_t(graph, n).shape, y) for p, n in enumerate(op.inputs) if n}
    data = {p: r for p, r in reads.items() if _t(graph, op.inputs[p]).data is None}
    return Trace(np.arange(math.prod(y), dtype=np.int64), data)


def _q(t) -> tuple[float, int]:
    return float(t.quant.scale[0]), int(t.quant.zero_point[0])


def _add_int(op, graph, a, b, sign: int) -> np.ndarray:
    """PrepareAdd + AddElementwise (8-bit: left_shift 20); SUB negates input 2."""
    (s1, z1), (s2, z2) = _q(_t(graph, op.inputs[0])), _q(_t(graph, op.inputs[1]))
    y = _t(graph, op.outputs[0])
    so, zo = _q(y)
    left = 20
    twice = 2 * max(float(np.float32(s1)), float(np.float32(s2)))
    m1, e1 = q.quantize_multiplier(s1 / twice)
    m2, e2 = q.quantize_multiplier(s2 / twice)
    mo, eo = q.quantize_multiplier(twice / ((1 << left) * so))
    v1 = q.mbqm_smaller_than_one((a.astype(np.int64) - z1) * (1 << left), m1, e1)
    v2 = q.mbqm_smaller_than_one((b.astype(np.int64) - z2) * (1 << left), m2, e2)
    out = q.mbqm_smaller_than_one(v1 + sign * v2, mo, eo) + zo
    lo, hi = q.activation_range_q(_act(op), so, zo, *q.int_limits(y.dtype))
    return np.clip(out, lo, hi)


def _binary(kind: str):
    def kernel(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
        y = _t(graph, op.outputs[0])
        a = np.broadcast_to(vals[0], y.shape).ravel()
        b = np.broadcast_to(vals[1], y.shape).ravel()
        if y.dtype == "float32":
            v = {"ADD": a + b, "SUB": a - b, "MUL": a * b}[kind]
            out = q.clamp_f(v.astype(np.float32), *q.activation_range_f(_act(op)))
        elif kind in ("ADD", "SUB"):
            out = _add_int(op, graph, a, b, 1 if kind == "ADD" else -1)
        else:
            (s1, z1), (s2, z2) = _q(_t(graph, op.inputs[0])), _q(_t(graph, op.inputs[1]))
            so, zo = _q(y)
            m, e = q.quantize_multiplier(s1 * s2 / so)
            prod = (a.astype(np.int64) - z1) * (b.astype(np.int64) - z2)
            lo, hi = q.activation_range_q(_act(op), so, zo, *q.int_limits(y.dtype))
            out = np.clip(q.mbqm(prod, m, e) + zo, lo, hi)
        return out.astype(y.dtype).reshape(y.shape), _elementwise_trace(op, graph)

    return kernel


def hard_swish(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """reference_ops::HardSwish (float and the int16 fixed-point int8 path)."""
    x, y = _t(graph, op.inputs[0]), _t(graph, op.outputs[0])
    v = vals[0].ravel()
    if y.dtype == "float32":
        f32 = np.float32
        out = v * np.minimum(f32(6), np.maximum(f32(0), v + f32(3))) / f32(6)
        return out.astype(np.float32).reshape(y.shape), _elementwise_trace(op, graph)
    (si, zi), (so, zo) = _q(x), _q(y)
    hires = np.float32(1.0 / 128.0) * np.float32(si)
    om, oe = q.quantize_multiplier(float(np.float32(hires / np.float32(so))))
    om16 = q.downscale_to_int16(om)
    rm, re = q.quantize_multiplier(float(np.float32(hires / np.float32(3.0 / 32768.0))))
    rm16 = q.downscale_to_int16(rm)
    iv = v.astype(np.int64) - zi
    hi_in = q.to_int16(iv * 128)
    pre_out = q.srdhm16(hi_in, om16)
    r = hi_in
    if re > 0:
        r = q.saturating_left_shift16(r, re - 1)
    r = q.srdhm16(r, rm16)
    if re > 0:
        r = q.saturating_left_shift16(r, 1)
    if re < 0:
        r = q.rdbpot(r, -re)
    r = q.to_int16((r + (1 << 15)) >> 1)
    pre = q.sdhm16(r, pre_out)
    o = q.to_int16(q.rdbpot(pre, -oe) + zo)
    lo, hi = q.int_limits(y.dtype)
    return np.clip(o, lo, hi).astype(y.dtype).reshape(y.shape), _elementwise_trace(op, graph)


def _unary_float(fn):
    def kernel(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
        y = _t(graph, op.outputs[0])
        if y.dtype != "float32" or vals[0].dtype != np.float32:
            raise TypeError(f"{op.type}: only the float32 kernel is reproduced")
        return fn(vals[0]).astype(np.float32).reshape(y.shape), _elementwise_trace(op, graph)

    return kernel


def _logistic(v):
    f = np.float32
    with np.errstate(over="ignore"):
        mid = f(1) / (f(1) + np.exp(-v))
    return np.where(v > f(16.619047164916992), f(1), np.where(v < f(-9), np.exp(v), mid))


def quantize(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """AffineQuantize (float -> integer): round(val / scale) + zero_point, clamped."""
    y = _t(graph, op.outputs[0])
    if vals[0].dtype != np.float32:
        raise TypeError("QUANTIZE: only float input is reproduced")
    s, z = _q(y)
    r = vals[0].ravel() / np.float32(s)
    r = np.sign(r) * np.floor(np.abs(r) + np.float32(0.5))
    out = np.clip(r.astype(np.int64) + z, *q.int_limits(y.dtype))
    return out.astype(y.dtype).reshape(y.shape), _elementwise_trace(op, graph)


def dequantize(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """Dequantize: float(scale * (val - zero_point)), scale a double."""
    y = _t(graph, op.outputs[0])
    s, z = _q(_t(graph, op.inputs[0]))
    out = (s * (vals[0].ravel().astype(np.float64) - z)).astype(np.float32)
    return out.reshape(y.shape), _elementwise_trace(op, graph)


def softmax(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """Float Softmax per row: max; exp((x - max) * beta) into the output and sum;
    divide the row in place.  Trace per row: read the row; read/write each c;
    write the row."""
    y = _t(graph, op.outputs[0])
    if y.dtype != "float32":
        raise TypeError("SOFTMAX: only the float32 kernel is reproduced")
    d = y.shape[-1]
    x = vals[0].reshape(-1, d)
    beta = np.float32(op.attrs.get("beta", 1.0))
    e = np.exp((x - x.max(1, keepdims=True)) * beta).astype(np.float32)
    out = (e / e.sum(1, dtype=np.float32, keepdims=True)).astype(np.float32)
    rows = x.shape[0]
    row = np.arange(rows * d, dtype=np.int64).reshape(rows, d)
    writes = -np.ones((rows, d + 2, d), np.int64)
    reads = writes.copy()
    reads[:, 0, :] = row
    reads[:, 1 : d + 1, 0] = row
    writes[:, 1 : d + 1, 0] = row
    writes[:, d + 1, :] = row
    return out.reshape(y.shape), Trace(writes.reshape(-1, d), {0: reads.reshape(-1, d)})


def pad(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """PadImpl: `*out++ = inside ? *in++ : pad_value` over the output."""
    y = _t(graph, op.outputs[0])
    pads = np.asarray(vals[1], dtype=np.int64).reshape(-1, 2)
    if len(vals) > 2 and vals[2] is not None:
        fill = vals[2].ravel()[0]
    else:
        fill = 0 if y.dtype == "float32" else _q(y)[1]
    idx = np.full(y.shape, -1, dtype=np.int64)
    inside = tuple(
        slice(int(lo), int(lo) + n) for (lo, _), n in zip(pads, vals[0].shape, strict=True)
    )
    idx[inside] = np.arange(vals[0].size, dtype=np.int64).reshape(vals[0].shape)
    idx = idx.ravel()
    out = np.where(idx >= 0, vals[0].ravel()[np.maximum(idx, 0)], fill).astype(y.dtype)
    return out.reshape(y.shape), Trace(np.arange(idx.size, dtype=np.int64), {0: idx})


def transpose(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    y = _t(graph, op.outputs[0])
    perm = tuple(int(p) for p in np.asarray(vals[1]).ravel())
    idx = np.transpose(np.arange(vals[0].size, dtype=np.int64).reshape(vals[0].shape), perm)
    idx = idx.ravel()
    return vals[0].ravel()[idx].reshape(y.shape), Trace(np.arange(idx.size), {0: idx})


def concatenation(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """for k in outer: for i in inputs: memcpy(out_ptr, in_i + k*chunk_i, chunk_i)."""
    y = _t(graph, op.outputs[0])
    axis = int(op.attrs.get("axis", 0)) % len(y.shape)
    outer, inner = math.prod(y.shape[:axis]), math.prod(y.shape[axis + 1 :])
    chunks = [v.shape[axis] * inner for v in vals]
    width, total = max(chunks), sum(chunks)
    n = len(vals)
    writes = -np.ones((outer, n, width), np.int64)
    reads = {p: -np.ones((outer, n, width), np.int64) for p in range(n)}
    k = np.arange(outer, dtype=np.int64)[:, None]
    start = 0
    for i, ch in enumerate(chunks):
        writes[:, i, :ch] = k * total + start + np.arange(ch)
        reads[i][:, i, :ch] = k * ch + np.arange(ch)
        start += ch
    out = np.concatenate([v.reshape(outer, -1) for v in vals], axis=1).astype(y.dtype)
    trace = Trace(writes.reshape(-1, width), {p: r.reshape(-1, width) for p, r in reads.items()},
                  own=True)  # fmt: skip
    return out.reshape(y.shape), trace


def reshape(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """memcpy(output, input, bytes) when the two addresses differ."""
    y = _t(graph, op.outputs[0])
    idx = np.arange(vals[0].size, dtype=np.int64)[None, :]
    return vals[0].reshape(y.shape).copy(), Trace(idx, {0: idx}, own=True)


def resize_nearest(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """Per output pixel, memcpy of the nearest input pixel's channels."""
    from .tflite_rules import nearest_source

    y = _t(graph, op.outputs[0])
    nb, h, w, c = vals[0].shape
    _, oh, ow, _ = y.shape
    ac, hp = bool(op.attrs.get("align_corners")), bool(op.attrs.get("half_pixel_centers"))
    sy, sx = nearest_source(oh, h, ac, hp), nearest_source(ow, w, ac, hp)
    b, oy, ox = grid(nb, oh, ow)
    src = (((b * h + sy[oy]) * w + sx[ox]) * c)[:, None] + np.arange(c)[None, :]
    dst = (np.arange(b.size, dtype=np.int64) * c)[:, None] + np.arange(c)[None, :]
    out = vals[0].ravel()[src].reshape(y.shape)
    return out, Trace(dst, {0: src}, own=True)


def _mean_values(op: Operator, graph: Graph, v: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sums in the input's row-major order; float divides, integer rescales as
    reduce.h's Mean / QuantizedMeanOrSum do."""
    x, y = _t(graph, op.inputs[0]), _t(graph, op.outputs[0])
    n = cols.shape[1]
    if y.dtype == "float32":
        total = np.zeros(cols.shape[0], np.float32)
        for r in range(n):
            total = total + v.ravel()[cols[:, r]]
        return (total / np.float32(n)).astype(np.float32)
    (si, zi), (so, zo) = _q(x), _q(y)
    s = v.ravel()[cols].astype(np.int64).sum(1)
    if si == so and zi == zo:
        out = np.where(s >= 0, s // n, -((-s) // n))
    else:
        m, e = q.quantize_multiplier(si / so)
        shift = min(n.bit_length() - 1, 32, 31 + e)
        m, e = int((m << shift) // n), e - shift
        out = q.mbqm(s - zi * n, m, e) + zo
    return np.clip(out, *q.int_limits(y.dtype)).astype(y.dtype)


def mean(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """MEAN: the float 4-D keep_dims axes {1, 2} kernel loops (batch, channel),
    sums that column and writes one element; every other path zeroes the
    output (or accumulator) first, reads everything, then writes the result."""
    x, y = _t(graph, op.inputs[0]), _t(graph, op.outputs[0])
    rank = len(x.shape)
    axes = sorted({int(a) % rank for a in np.asarray(vals[1]).ravel()})
    v = vals[0]
    src = np.arange(v.size, dtype=np.int64).reshape(x.shape)
    cols = np.moveaxis(src, axes, list(range(rank - len(axes), rank)))
    cols = cols.reshape(-1, math.prod(x.shape[d] for d in axes))
    out = _mean_values(op, graph, v, cols)
    special = (y.dtype == "float32" and rank == 4 and axes == [1, 2]
               and bool(op.attrs.get("keep_dims")))  # fmt: skip
    m = cols.shape[0]
    if special:
        return out.reshape(y.shape), Trace(np.arange(m, dtype=np.int64), {0: cols})
    width = max(m, v.size)
    writes = -np.ones((3, width), np.int64)
    reads = writes.copy()
    writes[0, :m] = writes[2, :m] = np.arange(m)
    reads[1, : v.size] = np.arange(v.size)
    return out.reshape(y.shape), Trace(writes, {0: reads})


KERNELS = {
    "ADD": _binary("ADD"),
    "SUB": _binary("SUB"),
    "MUL": _binary("MUL"),
    "HARD_SWISH": hard_swish,
    "RELU": _unary_float(lambda v: np.maximum(v, np.float32(0))),
    "RELU6": _unary_float(lambda v: np.minimum(np.maximum(v, np.float32(0)), np.float32(6))),
    "LOGISTIC": _unary_float(_logistic),
    "TANH": _unary_float(np.tanh),
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
    "SOFTMAX": softmax,
    "PAD": pad,
    "PADV2": pad,
    "TRANSPOSE": transpose,
    "CONCATENATION": concatenation,
    "RESHAPE": reshape,
    "MEAN": mean,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest,
}
