"""The patchable stage of a `.tflite` model: which operators can run per patch.

A stage is the file's operators 0..end (TFLM runs them in file order), every
one of which computes each output pixel from a bounded window of its inputs
and can be re-run on a tile without changing a single bit:

- CONV_2D and DEPTHWISE_CONV_2D (SAME padding becomes an explicit PAD with the
  value the kernel's padding implies: 0.0, or the input zero point for int8,
  which is what TFLM's PAD writes from the output's zero point);
- MAX_POOL_2D (SAME padding becomes an explicit PADV2 with the lowest value of
  the dtype: -128 in int8, -inf in float, which no maximum ever picks);
- AVERAGE_POOL_2D with VALID padding, or SAME padding that pads nothing (where
  SAME pads, TFLM divides by the in-bounds count, which a padded tile cannot
  reproduce: the stage ends there);
- CONCATENATION along channels (the branches of an Inception block);
- PAD / PADV2 over height and width only;
- element-wise operators, binary ones (ADD of a residual, MUL, SUB) when both
  operands are tiles of the same shape or the other one is a per-channel
  constant.

Anything that mixes space (FULLY_CONNECTED, MEAN, RESHAPE, CONCATENATION,
SOFTMAX, ...) ends the stage.  The stage may end only after an operator whose
output is the one tensor the rest of the graph reads from it (a *cut*), so a
residual block is never cut in half.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadInput
from ..frontends.tflite_options import OPERATOR_NAMES, schema_fb
from .receptive import IDENTITY, Region, SpatialOp, Window, clip, needed, window

CONVS = {"CONV_2D", "DEPTHWISE_CONV_2D"}
POOLS = {"AVERAGE_POOL_2D", "MAX_POOL_2D"}
PADS = {"PAD", "PADV2"}
UNARY = {
    "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH",
    "QUANTIZE", "DEQUANTIZE", "LEAKY_RELU", "ABS", "NEG", "ELU", "GELU", "EXP", "SQUARE",
    "SQRT", "RSQRT",
}  # fmt: skip
BINARY = {"ADD", "MUL", "SUB", "PRELU", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"}
CONCAT = "CONCATENATION"
# the value a border PADV2 writes before a SAME max pool: the lowest of the dtype
LOWEST = {fb_type: v for fb_type, v in (
    (schema_fb.TensorType.INT8, -128), (schema_fb.TensorType.INT16, -32768),
    (schema_fb.TensorType.FLOAT32, float("-inf")))}


@dataclass(frozen=True)
class StageOp:
    """One operator of the stage: `spatial` are the positions in its inputs that
    are tiled (the others - weights, bias, per-channel constants - are shared)."""

    index: int
    type: str
    spatial: tuple[int, ...]
    h: Window = IDENTITY
    w: Window = IDENTITY
    pads_tile: bool = False  # SAME conv/pool: border tiles get an explicit PAD
    pad_lowest: bool = False  # SAME max pool: that PAD writes the dtype's lowest value

    def arithmetic(self, op: Any) -> SpatialOp:
        return SpatialOp(tuple(int(op.inputs[k]) for k in self.spatial), int(op.outputs[0]),
                         self.h, self.w)


@dataclass(frozen=True)
class Stage:
    ops: tuple[StageOp, ...]  # operators 0..end, in file order
    output: int  # tensor index of the stage's output (the cut)
    height: int
    width: int


def op_name(model: Any, op: Any) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    c = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    return OPERATOR_NAMES.get(c, f"BUILTIN_{c}")


def shape(sg: Any, t: int) -> tuple[int, ...]:
    s = sg.tensors[t].shape
    return () if s is None else tuple(int(x) for x in s)


def constant(model: Any, sg: Any, t: int) -> np.ndarray | None:
    """The tensor's data (raw bytes as uint8), or None for an activation."""
    data = model.buffers[sg.tensors[t].buffer].data
    return None if data is None or len(data) == 0 else np.asarray(data, dtype=np.uint8)


def _spatial(sg: Any, t: int) -> bool:
    s = shape(sg, t)
    return len(s) == 4 and s[0] == 1


def _windows(model, sg, op, name: str) -> tuple[Window, Window, bool, bool] | str:
    """(h, w, pads_tile, pad_lowest) of a sliding-window operator, or why it
    cannot be patched."""
    o = op.builtinOptions
    (_, ih, iw, _), (_, oh, ow, _) = shape(sg, op.inputs[0]), shape(sg, op.outputs[0])
    if name in CONVS:
        _, kh, kw, _ = shape(sg, op.inputs[1])
        dh, dw = int(o.dilationHFactor), int(o.dilationWFactor)
    else:
        kh, kw, dh, dw = int(o.filterHeight), int(o.filterWidth), 1, 1
    same = int(o.padding) == schema_fb.Padding.SAME
    h = window(ih, oh, kh, int(o.strideH), dh, same)
    w = window(iw, ow, kw, int(o.strideW), dw, same)
    pads = same and clip(needed(h, w, Region(0, oh, 0, ow)), ih, iw)[1].any
    if pads and name == "AVERAGE_POOL_2D":
        return ("SAME padding that pads (TFLM averages over the in-bounds pixels only, "
                "which a padded border tile cannot reproduce)")
    lowest = pads and name == "MAX_POOL_2D"
    if lowest and sg.tensors[op.inputs[0]].type not in LOWEST:
        return "SAME padding on a dtype other than int8, int16 or float32"
    return h, w, same, lowest


def _pad_windows(model, sg, op) -> tuple[Window, Window] | str:
    data = constant(model, sg, op.inputs[1])
    if data is None:
        return "PAD with computed paddings"
    dtype = np.int64 if sg.tensors[op.inputs[1]].type == schema_fb.TensorType.INT64 else np.int32
    p = data.view(dtype).reshape(-1, 2)
    if p.shape != (4, 2) or p[0].any() or p[3].any():
        return "PAD over batch or channels"
    return Window(pad_before=int(p[1][0])), Window(pad_before=int(p[2][0]))


def classify(model: Any, sg: Any, op: Any, index: int) -> StageOp | str:
    """The operator as a stage member, or a one-line reason why it ends the stage."""
    name = op_name(model, op)
    ins = [int(t) for t in op.inputs]
    outs = [int(t) for t in op.outputs]
    where = f"operator {index} ({name})"
    if name not in CONVS | POOLS | PADS | UNARY | BINARY | {CONCAT}:
        return f"{where} mixes space or is not supported per patch"
    if len(outs) != 1 or not _spatial(sg, outs[0]) or not ins or ins[0] < 0:
        return f"{where} does not produce one NHWC tensor with batch 1"
    if name in CONVS | POOLS | PADS | UNARY and not _spatial(sg, ins[0]):
        return f"{where} does not read an NHWC tensor with batch 1"
    if name in CONVS | POOLS:
        got = _windows(model, sg, op, name)
        return f"{where}: {got}" if isinstance(got, str) else StageOp(index, name, (0,), *got)
    if name in PADS:
        got = _pad_windows(model, sg, op)
        return f"{where}: {got}" if isinstance(got, str) else StageOp(index, name, (0,), *got)
    if name in UNARY:
        if shape(sg, ins[0]) != shape(sg, outs[0]):
            return f"{where} changes the shape"
        return StageOp(index, name, (0,))
    if name == CONCAT:
        return _concat(model, sg, op, ins, outs[0], index, where)
    return _binary(model, sg, ins, outs[0], index, name, where)


def _concat(model, sg, op, ins, out, index, where) -> StageOp | str:
    """Along channels, every operand a tile of the output's height and width."""
    axis = int(op.builtinOptions.axis)
    if axis not in (3, -1):
        return f"{where} joins along axis {axis}, not channels"
    if any(t < 0 or constant(model, sg, t) is not None or not _spatial(sg, t)
           or shape(sg, t)[1:3] != shape(sg, out)[1:3] for t in ins):
        return f"{where} joins a constant or a tensor of another height or width"
    return StageOp(index, CONCAT, tuple(range(len(ins))))


def _binary(model, sg, ins, out, index, name, where) -> StageOp | str:
    spatial = []
    for k, t in enumerate(ins):
        if t < 0:
            continue
        s = shape(sg, t)
        if s == shape(sg, out):
            spatial.append(k)
        elif constant(model, sg, t) is None or (len(s) == 4 and (s[1] != 1 or s[2] != 1)) or (
            len(s) > 4
        ):
            return f"{where} broadcasts a tensor over space"
    return StageOp(index, name, tuple(spatial)) if spatial else f"{where} has no tiled operand"


def patchable_prefix(model: Any) -> tuple[list[StageOp], str]:
    """The longest run of patchable operators from the first, and why it stops."""
    sg = model.subgraphs[0]
    ops: list[StageOp] = []
    for i, op in enumerate(sg.operators or []):
        got = classify(model, sg, op, i)
        if isinstance(got, str):
            return ops, got
        ops.append(got)
    return ops, "every operator is patchable, but the graph output must be whole"


@dataclass(frozen=True)
class Listing:
    """What stage finding needs of a model, in any format: per operator (file
    order) the tensors it reads and the one it writes, the graph's outputs, and
    the (height, width) of a tensor."""

    reads: tuple[tuple[Any, ...], ...]
    writes: tuple[Any, ...]
    graph_outputs: frozenset
    hw: Callable[[Any], tuple[int, int]]


def cut_points(listing: Listing, prefix: Sequence[StageOp]) -> list[int]:
    """Positions in `prefix` after which exactly one tensor (that operator's
    output, at least 2x2, not a graph output) is read by the rest of the graph."""
    last_use: dict[Any, int] = {}
    for i, reads in enumerate(listing.reads):
        for t in reads:
            last_use[t] = i
    for t in listing.graph_outputs:
        last_use[t] = len(listing.reads)
    found, produced = [], []
    for k, sop in enumerate(prefix):
        produced.append(listing.writes[sop.index])
        crossing = [t for t in produced if last_use.get(t, -1) > sop.index]
        out = produced[-1]
        h, w = listing.hw(out)
        if crossing == [out] and h * w >= 2 and out not in listing.graph_outputs:
            found.append(k)
    return found


def pick_end(prefix: Sequence[StageOp], ends: list[int], why: str, until: int | None) -> int | str:
    """The position in `prefix` where the stage ends: after operator `until`
    (BadInput if that is not a cut), else the last cut; or why there is none."""
    if not ends:
        return f"no patchable stage: {why}"
    if until is None:
        return ends[-1]
    k = next((e for e in ends if prefix[e].index == until), None)
    if k is None:
        ok = ", ".join(str(prefix[e].index) for e in ends)
        raise BadInput(f"--patch-until {until}: the stage can end only after operator "
                       f"{ok} (stops before {why})")
    return k


def cuts(model: Any, prefix: list[StageOp]) -> list[int]:
    """`cut_points` of a .tflite's subgraph 0."""
    sg = model.subgraphs[0]
    ops = sg.operators or []
    listing = Listing(tuple(tuple(int(t) for t in op.inputs) for op in ops),
                      tuple(int(op.outputs[0]) for op in ops),
                      frozenset(int(t) for t in sg.outputs), lambda t: shape(sg, t)[1:3])
    return cut_points(listing, prefix)


def find_stage(model: Any, until: int | None = None) -> Stage | str:
    """The stage ending after operator `until` (default: the last cut before the
    spatial size falls below 2x2), or a one-line reason why there is none."""
    prefix, why = patchable_prefix(model)
    k = pick_end(prefix, cuts(model, prefix), why, until)
    return k if isinstance(k, str) else stage_at(model, prefix, k)


def stage_at(model: Any, prefix: list[StageOp], k: int) -> Stage:
    sg = model.subgraphs[0]
    out = int(sg.operators[prefix[k].index].outputs[0])
    _, h, w, _ = shape(sg, out)
    return Stage(tuple(prefix[: k + 1]), out, h, w)
