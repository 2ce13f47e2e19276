"""Analytic DMO rules for TFLM's windowed kernels: CONV_2D, DEPTHWISE_CONV_2D,
AVERAGE_POOL_2D, MAX_POOL_2D, and the dense FULLY_CONNECTED.

All four reference kernels (tensorflow/lite/kernels/internal/reference/conv.h,
depthwiseconv_float.h, pooling.h, fully_connected.h and their integer_ops/
twins, which TFLM's micro/kernels/*.cc call for float32, int8 and int16 alike)
share one loop nest:

    for batch, out_y, out_x, out_channel:          # output in NHWC order
        acc = 0
        for filter_y, filter_x, (in_channel):      # skip taps outside the image
            acc += input[batch, in_y, in_x, c] * ...
        output[batch, out_y, out_x, out_channel] = f(acc)

(the depthwise kernel spells the channel loop `for in_channel, for m` with
out_channel = in_channel * depth_multiplier + m, which is the same order).
So output element t = ((b*OH + oy)*OW + ox)*OC + oc is written at step t,
after all of its reads, and the lowest input element it reads is its window's
top-left valid tap at its lowest channel:

    in_y0 = oy*stride_h - pad_top + dilation_h * ceil(max(0, pad_top - oy*stride_h) / dilation_h)
    first(t) = ((b*H + in_y0)*W + in_x0)*C + c0(oc)

with c0 = 0 for a dense convolution (every output channel reads all input
channels), g*C/groups for a grouped one, oc // depth_multiplier for a
depthwise convolution and oc for pooling.  Padding is TFLM's
`ComputePaddingWithOffset`: pad_top = max((OH-1)*stride + (K-1)*dilation + 1 - H, 0) // 2,
the same formula for SAME and VALID.  The safe distance (access.py) is then

    D_min = max_t  w_out*(t+1) - w_in * min_{t' > t} first(t')

The consequences the issue expects fall out of it: a stride-1 3x3 SAME
convolution needs about one input row (W*C*w_in) plus one pixel of margin; a
1x1 convolution that expands channels needs D = size_out - size_in +
(C_in - 1)*w_in, i.e. the input sits at the top of the output region; a
stride-2 convolution that shrinks the image overlaps almost fully.

FULLY_CONNECTED reads the whole input row b (accum_depth elements starting at
b*depth) for every output element (b, oc): first(t) = b*depth.  With one
batch the row is re-read until the last output, so only one output element's
worth of overlap is safe.
"""

from __future__ import annotations

import math

import numpy as np

from ..graph import Graph, Operator, dtype_size
from .access import NO_READ, Steps, element_steps


def tflm_pad(in_len: int, out_len: int, k: int, stride: int, dilation: int) -> int:
    """TFLM's ComputePaddingWithOffset: the padding before the first row/column."""
    effective = (k - 1) * dilation + 1
    return max((out_len - 1) * stride + effective - in_len, 0) // 2


def window_first(out_len: int, in_len: int, k: int, stride: int, dilation: int, pad: int):
    """(lowest valid input coordinate, reads-anything) per output coordinate."""
    origin = np.arange(out_len, dtype=np.int64) * stride - pad
    f0 = np.where(origin >= 0, 0, (-origin + dilation - 1) // dilation)
    first = origin + dilation * f0
    return first, (f0 < k) & (first < in_len)


def _nhwc(shape: tuple[int, ...], what: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise ValueError(f"{what} must be 4-D NHWC, got shape {shape}")
    return shape  # type: ignore[return-value]


def _window_steps(graph: Graph, op: Operator, kh: int, kw: int, channel_lo: np.ndarray) -> Steps:
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    b, h, w, c = _nhwc(x.shape, "input")
    ob, oh, ow, oc = _nhwc(y.shape, "output")
    a = op.attrs
    sh, sw = int(a.get("stride_h", 1)), int(a.get("stride_w", 1))
    dh, dw = int(a.get("dilation_h_factor", 1)), int(a.get("dilation_w_factor", 1))
    ph, pw = tflm_pad(h, oh, kh, sh, dh), tflm_pad(w, ow, kw, sw, dw)
    iy, oky = window_first(oh, h, kh, sh, dh, ph)
    ix, okx = window_first(ow, w, kw, sw, dw, pw)
    batch = np.arange(ob, dtype=np.int64)[:, None, None]
    pixel = ((batch * h + iy[None, :, None]) * w + ix[None, None, :]) * c
    ok = np.broadcast_to(oky[None, :, None] & okx[None, None, :], pixel.shape)
    first = pixel[..., None] + channel_lo[None, None, None, :]
    first = np.where(ok[..., None], first, NO_READ).ravel()
    n = first.size
    return element_steps(
        np.arange(1, n + 1, dtype=np.int64), first, dtype_size(y.dtype), dtype_size(x.dtype)
    )


def conv2d(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """CONV_2D (reference_ops::Conv, reference_integer_ops::ConvPerChannel)."""
    if pos != 0:
        return "only the data input (0) is an activation"
    wt = graph.tensors[op.inputs[1]]
    oc, kh, kw, fid = wt.shape
    c = graph.tensors[op.inputs[0]].shape[3]
    groups = c // fid
    per_group = oc // groups
    lo = (np.arange(oc, dtype=np.int64) // per_group) * fid
    return _window_steps(graph, op, kh, kw, lo)


def depthwise_conv2d(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """DEPTHWISE_CONV_2D (reference_ops::DepthwiseConv, DepthwiseConvPerChannel)."""
    if pos != 0:
        return "only the data input (0) is an activation"
    _, kh, kw, oc = graph.tensors[op.inputs[1]].shape
    dm = int(op.attrs.get("depth_multiplier", 0)) or max(
        1, oc // graph.tensors[op.inputs[0]].shape[3]
    )
    lo = np.arange(oc, dtype=np.int64) // dm
    return _window_steps(graph, op, kh, kw, lo)


def pool2d(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """AVERAGE_POOL_2D, MAX_POOL_2D (reference_ops / reference_integer_ops pooling):
    window clamped to the image (filter_x_start = max(0, -origin)), one channel."""
    if pos != 0:
        return "pooling has one input"
    a = op.attrs
    kh, kw = int(a["filter_height"]), int(a["filter_width"])
    oc = graph.tensors[op.outputs[0]].shape[3]
    return _window_steps(graph, op, kh, kw, np.arange(oc, dtype=np.int64))


def fully_connected(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """FULLY_CONNECTED (reference_ops::FullyConnected, reference_integer_ops::
    FullyConnected): for b, for out_c: read input[b*depth .. +depth), write out[b, out_c]."""
    if pos != 0:
        return "only the data input (0) is an activation"
    x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    depth = graph.tensors[op.inputs[1]].shape[-1]
    oc = y.shape[-1]
    batches = math.prod(y.shape) // oc
    if batches * depth != math.prod(x.shape):
        return f"input of {math.prod(x.shape)} elements is not {batches} rows of {depth}"
    first = np.repeat(np.arange(batches, dtype=np.int64) * depth, oc)
    n = first.size
    return element_steps(
        np.arange(1, n + 1, dtype=np.int64), first, dtype_size(y.dtype), dtype_size(x.dtype)
    )
