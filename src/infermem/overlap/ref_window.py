"""Traced reference kernels for TFLM's windowed ops: CONV_2D,
DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D, FULLY_CONNECTED.

Each kernel builds its loop nest as two index grids in TFLM's nesting order:
the steps (outer loops: batch, out_y, out_x, out_channel; one output element
each) and the taps (inner loops: filter_y, filter_x, in_channel).  Row t of
the read matrix is what step t reads, in tap order, -1 where TFLM skips a tap
outside the image.  Values are gathered through that matrix; float sums run
tap by tap in float32, as TFLM's `total += a * b` does, so they match TFLM
bit for bit; integer sums are exact in any order.
"""

from __future__ import annotations

import math

import numpy as np

from ..graph import Graph, Operator
from . import ref_quant as q
from .tflite_window import tflm_pad
from .trace import Trace


def grid(*dims: int) -> list[np.ndarray]:
    """Loop indices of a nest `for i0 in dims[0]: for i1 in dims[1]: ...`,
    flattened in execution order."""
    idx = np.indices(dims, dtype=np.int64).reshape(len(dims), -1)
    return list(idx)


def _act(op: Operator) -> str:
    return str(op.attrs.get("fused_activation_function", "NONE"))


def _geometry(op: Operator, graph: Graph, kh: int, kw: int):
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    a = op.attrs
    sh, sw = int(a.get("stride_h", 1)), int(a.get("stride_w", 1))
    dh, dw = int(a.get("dilation_h_factor", 1)), int(a.get("dilation_w_factor", 1))
    (_, h, w, _), (_, oh, ow, _) = x.shape, y.shape
    return sh, sw, dh, dw, tflm_pad(h, oh, kh, sh, dh), tflm_pad(w, ow, kw, sw, dw)


def _taps(oy, ox, fy, fx, sh, sw, dh, dw, ph, pw, h, w):
    """(in_y, in_x, inside) for every (step, tap)."""
    in_y = (oy * sh - ph)[:, None] + dh * fy[None, :]
    in_x = (ox * sw - pw)[:, None] + dw * fx[None, :]
    return in_y, in_x, (in_y >= 0) & (in_y < h) & (in_x >= 0) & (in_x < w)


def _accumulate_f32(xv: np.ndarray, wv: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """`total += x * w` tap by tap in float32, skipping taps outside the image."""
    total = np.zeros(xv.shape[0], dtype=np.float32)
    for r in range(xv.shape[1]):
        total = np.where(inside[:, r], total + xv[:, r] * wv[:, r], total)
    return total


def _finish(op, graph, acc, oc, bias, per_channel_scales):
    """Bias, requantisation or float activation, as the conv kernels end."""
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if y.dtype == "float32":
        b = np.float32(0) if bias is None else bias.astype(np.float32)[oc]
        return q.clamp_f(acc + b, *q.activation_range_f(_act(op)))
    if bias is not None:
        acc = acc + bias.astype(np.int64)[oc]
    mults = [
        q.quantize_multiplier(float(x.quant.scale[0]) * float(s) / float(y.quant.scale[0]))
        for s in per_channel_scales
    ]
    m = np.array([mm for mm, _ in mults], dtype=np.int64)
    s = np.array([ss for _, ss in mults], dtype=np.int64)
    out = q.mbqm(acc, m[oc], s[oc]) + y.quant.zero_point[0]
    lo, hi = q.activation_range_q(_act(op), y.quant.scale[0], y.quant.zero_point[0],
                                  *q.int_limits(y.dtype))  # fmt: skip
    return np.clip(out, lo, hi)


def _channel_scales(graph: Graph, name: str, n: int) -> list[float]:
    sc = graph.tensors[name].quant.scale
    return list(sc) if len(sc) == n else [sc[0]] * n


def _store(y, writes, values) -> np.ndarray:
    out = np.empty(math.prod(y.shape), dtype=np.dtype(y.dtype))
    out[writes] = values
    return out.reshape(y.shape)


def conv2d(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """reference_ops::Conv / reference_integer_ops::ConvPerChannel."""
    x, wt, bias = vals[0], vals[1], vals[2] if len(vals) > 2 else None
    X, Y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    nb, h, w, c = X.shape
    _, oh, ow, oc_n = Y.shape
    _, kh, kw, fic = wt.shape
    per_group = oc_n // (c // fic)
    sh, sw, dh, dw, ph, pw = _geometry(op, graph, kh, kw)
    b, oy, ox, oc = grid(nb, oh, ow, oc_n)  # steps
    fy, fx, ic = grid(kh, kw, fic)  # taps
    in_y, in_x, inside = _taps(oy, ox, fy, fx, sh, sw, dh, dw, ph, pw, h, w)
    ch = (oc // per_group * fic)[:, None] + ic[None, :]
    reads = np.where(inside, ((b[:, None] * h + in_y) * w + in_x) * c + ch, -1)
    taps = ((oc[:, None] * kh + fy[None, :]) * kw + fx[None, :]) * fic + ic[None, :]
    writes = ((b * oh + oy) * ow + ox) * oc_n + oc
    xv, wv = x.ravel()[np.maximum(reads, 0)], wt.ravel()[taps]
    if Y.dtype == "float32":
        acc = _accumulate_f32(xv, wv, inside)
    else:
        off = -int(X.quant.zero_point[0])
        acc = np.where(inside, (xv.astype(np.int64) + off) * wv.astype(np.int64), 0).sum(1)
    vals_out = _finish(op, graph, acc, oc, bias, _channel_scales(graph, op.inputs[1], oc_n)
                       if Y.dtype != "float32" else [])  # fmt: skip
    return _store(Y, writes, vals_out), Trace(writes, {0: reads})


def depthwise_conv2d(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """reference_ops::DepthwiseConv / reference_integer_ops::DepthwiseConvPerChannel:
    steps batch, out_y, out_x, in_channel, m; taps filter_y, filter_x."""
    x, wt, bias = vals[0], vals[1], vals[2] if len(vals) > 2 else None
    X, Y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    nb, h, w, c = X.shape
    _, oh, ow, oc_n = Y.shape
    _, kh, kw, _ = wt.shape
    dm = oc_n // c
    sh, sw, dh, dw, ph, pw = _geometry(op, graph, kh, kw)
    b, oy, ox, ic, m = grid(nb, oh, ow, c, dm)
    oc = ic * dm + m
    fy, fx = grid(kh, kw)
    in_y, in_x, inside = _taps(oy, ox, fy, fx, sh, sw, dh, dw, ph, pw, h, w)
    reads = np.where(inside, ((b[:, None] * h + in_y) * w + in_x) * c + ic[:, None], -1)
    taps = (fy[None, :] * kw + fx[None, :]) * oc_n + oc[:, None]
    writes = ((b * oh + oy) * ow + ox) * oc_n + oc
    xv, wv = x.ravel()[np.maximum(reads, 0)], wt.ravel()[taps]
    if Y.dtype == "float32":
        acc = _accumulate_f32(xv, wv, inside)
        scales: list[float] = []
    else:
        off = -int(X.quant.zero_point[0])
        acc = np.where(inside, (xv.astype(np.int64) + off) * wv.astype(np.int64), 0).sum(1)
        scales = _channel_scales(graph, op.inputs[1], oc_n)
    vals_out = _finish(op, graph, acc, oc, bias, scales)
    return _store(Y, writes, vals_out), Trace(writes, {0: reads})


def _pool(op: Operator, graph: Graph, vals, kind: str) -> tuple[np.ndarray, Trace]:
    """reference pooling: steps batch, out_y, out_x, channel; taps filter_y,
    filter_x clamped to the image."""
    x = vals[0]
    X, Y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    nb, h, w, c = X.shape
    _, oh, ow, _ = Y.shape
    kh, kw = int(op.attrs["filter_height"]), int(op.attrs["filter_width"])
    sh, sw, _, _, ph, pw = _geometry(op, graph, kh, kw)
    b, oy, ox, ch = grid(nb, oh, ow, c)
    fy, fx = grid(kh, kw)
    in_y, in_x, inside = _taps(oy, ox, fy, fx, sh, sw, 1, 1, ph, pw, h, w)
    reads = np.where(inside, ((b[:, None] * h + in_y) * w + in_x) * c + ch[:, None], -1)
    writes = ((b * oh + oy) * ow + ox) * c + ch
    xv = x.ravel()[np.maximum(reads, 0)]
    count = inside.sum(1)
    act = _act(op)
    if Y.dtype == "float32":
        if kind == "avg":
            total = _accumulate_f32(xv, np.ones_like(xv), inside)
            v = total / count.astype(np.float32)
        else:
            v = np.where(inside, xv, np.float32(q.F32_LOWEST)).max(1)
        return _store(Y, writes, q.clamp_f(v, *q.activation_range_f(act))), Trace(
            writes, {0: reads}
        )
    lo, hi = q.activation_range_q(act, Y.quant.scale[0], Y.quant.zero_point[0],
                                  *q.int_limits(Y.dtype))  # fmt: skip
    if kind == "avg":
        acc = np.where(inside, xv.astype(np.int64), 0).sum(1)
        half = count // 2
        num = np.where(acc > 0, acc + half, acc - half)
        v = np.where(num >= 0, num // count, -((-num) // count))
    else:
        v = np.where(inside, xv.astype(np.int64), q.int_limits(Y.dtype)[0]).max(1)
    return _store(Y, writes, np.clip(v, lo, hi)), Trace(writes, {0: reads})


def fully_connected(op: Operator, graph: Graph, vals) -> tuple[np.ndarray, Trace]:
    """reference FullyConnected: steps b, out_c; taps d (the input row)."""
    x, wt, bias = vals[0], vals[1], vals[2] if len(vals) > 2 else None
    X, Y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    oc_n, depth = wt.shape[-2], wt.shape[-1]
    nb = math.prod(Y.shape) // oc_n
    b, oc = grid(nb, oc_n)
    (d,) = grid(depth)
    reads = b[:, None] * depth + d[None, :]
    taps = oc[:, None] * depth + d[None, :]
    writes = b * oc_n + oc
    xv, wv = x.ravel()[reads], wt.ravel()[taps]
    inside = np.ones(reads.shape, dtype=bool)
    if Y.dtype == "float32":
        acc = _accumulate_f32(xv, wv, inside)
        b_ = np.float32(0) if bias is None else bias.astype(np.float32)[oc]
        v = q.clamp_f(acc + b_, *q.activation_range_f(_act(op)))
        return _store(Y, writes, v), Trace(writes, {0: reads})
    W = graph.tensors[op.inputs[1]]
    acc = ((xv.astype(np.int64) - int(X.quant.zero_point[0]))
           * (wv.astype(np.int64) - int(W.quant.zero_point[0]))).sum(1)  # fmt: skip
    if bias is not None:
        acc = acc + bias.astype(np.int64)[oc]
    if len(W.quant.scale) > 1:  # per-channel: as the conv kernels
        scales = [float(X.quant.scale[0]) * float(s) / float(Y.quant.scale[0])
                  for s in W.quant.scale]  # fmt: skip
    else:  # GetQuantizedConvolutionMultipler: the scale product in float
        prod = np.float32(X.quant.scale[0]) * np.float32(W.quant.scale[0])
        scales = [float(prod) / float(Y.quant.scale[0])] * oc_n
    mults = [q.quantize_multiplier(s) for s in scales]
    m = np.array([a for a, _ in mults], dtype=np.int64)[oc]
    s = np.array([b_ for _, b_ in mults], dtype=np.int64)[oc]
    out = q.mbqm(acc, m, s) + Y.quant.zero_point[0]
    lo, hi = q.activation_range_q(_act(op), Y.quant.scale[0], Y.quant.zero_point[0],
                                  *q.int_limits(Y.dtype))  # fmt: skip
    return _store(Y, writes, np.clip(out, lo, hi)), Trace(writes, {0: reads})


KERNELS = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": depthwise_conv2d,
    "AVERAGE_POOL_2D": lambda op, g, v: _pool(op, g, v, "avg"),
    "MAX_POOL_2D": lambda op, g, v: _pool(op, g, v, "max"),
    "FULLY_CONNECTED": fully_connected,
}
