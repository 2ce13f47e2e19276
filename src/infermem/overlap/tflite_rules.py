"""Method 1 for `.tflite`: analytic DMO rules for the kernels TFLM runs.

One rule per operator type, written from the loop order of TFLM's reference
kernels (tensorflow/lite/kernels/internal/reference/*.h, called by
tensorflow/lite/micro/kernels/*.cc; the `tflite-micro` Python interpreter runs
these, not CMSIS-NN).  A rule maps (operator, graph, input position) to the
kernel's `Steps` - at each step of its loop nest, the highest output byte
written and the lowest input byte read - or to a string saying why there is no
proven rule (then the overlap is 0).  `access.min_distance` turns steps into
the safe distance.  The windowed kernels live in `tflite_window`; this module
holds the elementwise, row-wise and copy kernels and the registry.

Derivations (t is the step, w the bytes per element):

* Elementwise unary (RELU family, LOGISTIC, TANH, HARD_SWISH, QUANTIZE,
  DEQUANTIZE, ...): `for i: out[i] = f(in[i])`.  first(t) = t, write_end =
  t+1, so D_min = max_t (t+1)(w_out - w_in): 0 when the width does not grow
  (fully in place), size_out - size_in when it does (DEQUANTIZE int8->float:
  the output's end may reach the input's end).
* Elementwise binary (ADD, SUB, MUL, ...): TFLM runs either the flat loop or
  BroadcastXxx6DSlow, which walks the output in row-major order and reads
  each input at its broadcast index.  An input of the output's shape is read
  at t (in place, as above); a broadcast input is read at its broadcast index
  (numpy broadcasting of its element numbers), so it is re-read and gets
  little or no overlap.
* SOFTMAX: per row r of depth d: a pass reading the row (max, sum of
  exponentials), then `out[r, c] = f(in[r, c])`, then (float) a pass that
  rescales the row in the output.  Modelled as: read row, then per c read/write
  c, then write the row.
* PAD: `*out++ = inside ? *in++ : pad` over the output in row-major order.
* TRANSPOSE: the output in row-major order, each element read from its
  permuted input index.
* CONCATENATION: for each outer index, for each input i, one memcpy of the
  input's slice into the output (memcpy: its own reads count as later).
* RESIZE_NEAREST_NEIGHBOR: per output pixel, one memcpy of the nearest input
  pixel's channels (TFLM's GetNearestNeighbor, in float as TFLM computes it).
* RESHAPE, SQUEEZE, EXPAND_DIMS: one memcpy of the whole tensor unless the two
  share the same address: any partial overlap is an overlapping memcpy, so
  the rule yields 0.
* MEAN: TFLM's general path (and every integer path) zeroes the output, or
  uses it as the accumulator, before reading: a write-only first step, hence
  0.  The float special case (4-D, keep_dims, axes {1, 2}) loops over
  (batch, channel), sums that channel's column and writes one element.
* TRANSPOSE_CONV: float accumulates into the zero-filled output (write before
  read: 0); the integer kernels go through a scratch accumulator: no rule, 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..graph import Graph, Operator, dtype_size
from .access import NO_READ, Steps, element_steps
from .tflite_window import conv2d, depthwise_conv2d, fully_connected, pool2d

Rule = Callable[[Operator, Graph, int], "Steps | str"]


def _io(op: Operator, graph: Graph, pos: int):
    x, y = graph.tensors[op.inputs[pos]], graph.tensors[op.outputs[0]]
    return x, y, dtype_size(x.dtype), dtype_size(y.dtype)


def _seq(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.int64)


def unary(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """`for i: out[i] = f(in[i])` (one data input)."""
    if pos != 0:
        return "only the data input (0) is read elementwise"
    x, y, wi, wo = _io(op, graph, pos)
    n = math.prod(y.shape)
    if math.prod(x.shape) != n:
        return "input and output differ in element count"
    return element_steps(_seq(n), np.arange(n, dtype=np.int64), wo, wi)


def binary(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """Row-major walk of the output, input `pos` read at its broadcast index."""
    x, y, wi, wo = _io(op, graph, pos)
    n = math.prod(y.shape)
    try:
        idx = np.broadcast_to(
            np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape), y.shape
        )
    except ValueError:
        return f"input shape {x.shape} does not broadcast to the output {y.shape}"
    return element_steps(_seq(n), idx.ravel(), wo, wi)


def softmax(op: Operator, graph: Graph, pos: int) -> Steps | str:
    x, y, wi, wo = _io(op, graph, pos)
    d = y.shape[-1] if y.shape else 1
    rows = math.prod(y.shape) // max(d, 1)
    r = np.arange(rows, dtype=np.int64)[:, None]
    c = np.arange(d, dtype=np.int64)[None, :]
    write = np.concatenate([np.zeros((rows, 1), np.int64), r * d + c + 1, (r + 1) * d], axis=1)
    first = np.concatenate([r * d, r * d + c, np.full((rows, 1), NO_READ, np.int64)], axis=1)
    return element_steps(write.ravel(), first.ravel(), wo, wi)


def pad(op: Operator, graph: Graph, pos: int) -> Steps | str:
    if pos != 0:
        return "only the data input (0) is copied"
    x, y, wi, wo = _io(op, graph, pos)
    pads = graph.tensors[op.inputs[1]].data
    if pads is None:
        return "paddings are not constant"
    pads = np.asarray(pads, dtype=np.int64).reshape(-1, 2)
    idx = np.full(y.shape, -1, dtype=np.int64)
    inside = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(pads, x.shape, strict=True))
    idx[inside] = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape)
    return element_steps(_seq(idx.size), idx.ravel(), wo, wi)


def transpose(op: Operator, graph: Graph, pos: int) -> Steps | str:
    if pos != 0:
        return "only the data input (0) is copied"
    x, y, wi, wo = _io(op, graph, pos)
    perm = graph.tensors[op.inputs[1]].data
    if perm is None:
        return "the permutation is not constant"
    src = np.arange(math.prod(x.shape), dtype=np.int64).reshape(x.shape)
    idx = np.transpose(src, tuple(int(p) for p in np.asarray(perm).ravel()))
    return element_steps(_seq(idx.size), idx.ravel(), wo, wi)


def concatenation(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """for k in outer: for i in inputs: memcpy(out + ..., in_i + k*chunk_i, chunk_i)."""
    y = graph.tensors[op.outputs[0]]
    axis = int(op.attrs.get("axis", 0)) % len(y.shape)
    outer, inner = math.prod(y.shape[:axis]), math.prod(y.shape[axis + 1 :])
    chunks = np.array([graph.tensors[t].shape[axis] * inner for t in op.inputs], np.int64)
    ends = np.cumsum(chunks)
    total = int(ends[-1])
    k = np.arange(outer, dtype=np.int64)[:, None]
    write = k * total + ends[None, :]
    first = np.where(np.arange(len(chunks))[None, :] == pos, k * chunks[pos], -1)
    x = graph.tensors[op.inputs[pos]]
    return element_steps(
        write.ravel(), first.ravel(), dtype_size(y.dtype), dtype_size(x.dtype), own=True
    )


def write_then_read(n_out: int, wo: int, wi: int) -> Steps:
    """A kernel that writes its whole output (zero fill) before reading its input."""
    return element_steps(np.array([n_out, 0]), np.array([-1, 0]), wo, wi)


def copy_whole(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """RESHAPE & co: one memcpy of the whole tensor (when the addresses differ)."""
    if pos != 0:
        return "only the data input (0) is copied"
    x, y, wi, wo = _io(op, graph, pos)
    return element_steps(np.array([math.prod(y.shape)]), np.array([0]), wo, wi, own=True)


def nearest_source(out_len: int, in_len: int, align_corners: bool, half_pixel: bool):
    """TFLM's GetNearestNeighbor for every output coordinate, in float32 as TFLM
    computes it (TfLiteRound is half away from zero; the values are >= 0)."""
    f32 = np.float32
    if align_corners and out_len > 1:
        scale = f32(in_len - 1) / f32(out_len - 1)
    else:
        scale = f32(in_len) / f32(out_len)
    v = (np.arange(out_len).astype(f32) + f32(0.5 if half_pixel else 0.0)) * scale
    r = np.floor(v)
    if align_corners:
        r = r + (v - r >= f32(0.5))
    out = np.minimum(r.astype(np.int64), in_len - 1)
    return np.maximum(out, 0) if half_pixel else out


def resize_nearest(op: Operator, graph: Graph, pos: int) -> Steps | str:
    if pos != 0:
        return "only the data input (0) is copied"
    x, y, wi, wo = _io(op, graph, pos)
    b, h, w, c = x.shape
    _, oh, ow, _ = y.shape
    ac, hp = bool(op.attrs.get("align_corners")), bool(op.attrs.get("half_pixel_centers"))
    sy, sx = nearest_source(oh, h, ac, hp), nearest_source(ow, w, ac, hp)
    bb = np.arange(b, dtype=np.int64)[:, None, None]
    first = ((bb * h + sy[None, :, None]) * w + sx[None, None, :]) * c
    write = (np.arange(first.size, dtype=np.int64) + 1) * c
    return element_steps(write, first.ravel(), wo, wi, own=True)


def mean(op: Operator, graph: Graph, pos: int) -> Steps | str:
    if pos != 0:
        return "only the data input (0) is reduced"
    x, y, wi, wo = _io(op, graph, pos)
    axes = graph.tensors[op.inputs[1]].data
    special = (
        x.dtype == "float32"
        and len(x.shape) == 4
        and bool(op.attrs.get("keep_dims"))
        and axes is not None
        and sorted(int(a) % 4 for a in np.asarray(axes).ravel()) == [1, 2]
        and np.asarray(axes).size == 2
    )
    if not special:  # the output is zeroed (or is the accumulator) before any read
        return write_then_read(math.prod(y.shape), wo, wi)
    b, h, w, c = x.shape
    first = (np.arange(b, dtype=np.int64)[:, None] * h * w * c + np.arange(c)[None, :]).ravel()
    return element_steps(_seq(b * c), first, wo, wi)


def transpose_conv(op: Operator, graph: Graph, pos: int) -> Steps | str:
    y = graph.tensors[op.outputs[0]]
    if y.dtype != "float32":
        return "integer TRANSPOSE_CONV accumulates through a scratch buffer: no proven rule"
    return write_then_read(math.prod(y.shape), 4, 4)


UNARY = (
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH",
    "HARD_SWISH", "QUANTIZE", "DEQUANTIZE", "ABS", "NEG", "ELU", "FLOOR", "CEIL",
)  # fmt: skip
BINARY = ("ADD", "SUB", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE")

RULES: dict[str, Rule] = {
    "CONV_2D": conv2d,
    "DEPTHWISE_CONV_2D": depthwise_conv2d,
    "AVERAGE_POOL_2D": pool2d,
    "MAX_POOL_2D": pool2d,
    "FULLY_CONNECTED": fully_connected,
    "SOFTMAX": softmax,
    "PAD": pad,
    "PADV2": pad,
    "TRANSPOSE": transpose,
    "CONCATENATION": concatenation,
    "RESHAPE": copy_whole,
    "SQUEEZE": copy_whole,
    "EXPAND_DIMS": copy_whole,
    "MEAN": mean,
    "RESIZE_NEAREST_NEIGHBOR": resize_nearest,
    "TRANSPOSE_CONV": transpose_conv,
    **{t: unary for t in UNARY},
    **{t: binary for t in BINARY},
}


def steps(op: Operator, graph: Graph, pos: int) -> Steps | str:
    """The analytic steps of `op` for its input at `pos`, or why there are none."""
    rule = RULES.get(op.type)
    if rule is None:
        return f"no proven rule for {op.type}"
    try:
        return rule(op, graph, pos)
    except (KeyError, ValueError, TypeError, IndexError, ArithmeticError) as e:
        return f"{op.type} rule does not apply: {e}"
