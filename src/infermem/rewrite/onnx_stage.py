"""The patchable stage of an ONNX model (NCHW): which operators can run per patch.

The ONNX counterpart of `stage.classify`, over infermem's Graph of the model
(constants folded, every shape static, so a symbolic batch needs
`--input-shape` as everywhere); the stage finding itself (cuts, the end) is
`stage`'s, format-free.  Patchable, each computing an output pixel from a
bounded window of its inputs, identically on a tile:

- Conv (grouped and depthwise included) with constant weights, any padding:
  the tile gets an explicit Pad of zeros where it touches the border, then
  runs with no padding;
- MaxPool (one output; explicit padding becomes a Pad of -inf, which the max
  never picks) and AveragePool without padding or with `count_include_pad=1`
  (with the default 0 the divisor at the border counts only real pixels, so
  a padded tile would average differently); no `ceil_mode` overhang;
- Pad (constant mode, height and width only);
- element-wise operators (Relu, Clip, BatchNormalization, QuantizeLinear /
  DequantizeLinear, ...), binary ones when every operand is a tile of the
  output's size or a constant that does not vary over height and width, and
  Concat along channels;
- Transpose of a stage input into NCHW (tf2onnx's NHWC -> NCHW): the input
  is sliced along its own height and width axes.

Anything else (Reshape, Flatten, GlobalAveragePool, MatMul, Resize, Split,
...) ends the stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import Graph, Operator
from ..runtime.kernels.window import axes
from .receptive import Window
from .stage import StageOp

CONVS = {"Conv"}
POOLS = {"MaxPool", "AveragePool"}
UNARY = {
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu",
    "Softplus", "Softsign", "Exp", "Neg", "Abs", "Sqrt", "Reciprocal", "Erf", "Gelu", "Mish",
    "Identity", "Dropout", "Cast", "BatchNormalization", "QuantizeLinear", "DequantizeLinear",
    "ThresholdedRelu", "Celu", "Floor", "Ceil", "Round", "Sign",
}  # fmt: skip
BINARY = {"Add", "Mul", "Sub", "Div", "Max", "Min", "PRelu", "Pow", "Sum"}
NCHW = (2, 3)


@dataclass(frozen=True)
class OnnxStageOp(StageOp):
    """A stage operator of an ONNX graph; `pad_value` is what an explicit Pad of
    its tile writes (the value the kernel's own padding implies)."""

    pad_value: float = 0.0


def layout_of(graph: Graph, prefix_outputs: set[str], name: str, reader: Operator) -> tuple:
    """The (height, width) axes of a stage tensor: NCHW, except a stage input
    that a Transpose turns into NCHW (tf2onnx's NHWC input)."""
    if reader.type == "Transpose" and name not in prefix_outputs:
        perm = list(reader.attrs.get("perm") or [3, 2, 1, 0])
        return perm[2], perm[3]
    return NCHW


def _rank4(graph: Graph, name: str) -> bool:
    return bool(name) and len(graph.tensors[name].shape) == 4


def _const(graph: Graph, name: str) -> np.ndarray | None:
    return graph.tensors[name].data if name and name in graph.tensors else None


def _hw(graph: Graph, name: str, layout: tuple[int, int] = NCHW) -> tuple[int, int]:
    s = graph.tensors[name].shape
    return s[layout[0]], s[layout[1]]


def _windows(graph: Graph, op: Operator) -> tuple[Window, Window, bool] | str:
    """(h, w, pads) of a Conv or pool, or why its tile would not be identical."""
    a = op.attrs
    x, y = graph.tensors[op.inputs[0]].shape, graph.tensors[op.outputs[0]].shape
    if op.type == "Conv":
        kernel = graph.tensors[op.inputs[1]].shape[2:]
    else:
        kernel = list(a.get("kernel_shape") or [])
    if len(x) != 4 or len(kernel) != 2:
        return "is not a 2-D window over an NCHW tensor"
    ceil = bool(a.get("ceil_mode", 0))
    try:
        ah, aw = axes(dict(a), x[2:], kernel, y[2:], op.type, ceil)
    except ValueError as e:
        return str(e)
    padded = any((ah.pad_begin, ah.pad_end, aw.pad_begin, aw.pad_end))
    overhang = any((ax.out - 1) * ax.stride + ax.span > ax.size + ax.pad_begin + ax.pad_end
                   for ax in (ah, aw))
    if op.type == "AveragePool" and (overhang or padded and not a.get("count_include_pad", 0)):
        return ("pads a border window that it averages over real pixels only "
                "(count_include_pad=0 or ceil_mode)")
    return (Window(ah.kernel, ah.stride, ah.dilation, ah.pad_begin),
            Window(aw.kernel, aw.stride, aw.dilation, aw.pad_begin), padded or overhang)


def _pad_value(graph: Graph, op: Operator) -> float:
    if op.type != "MaxPool":
        return 0.0
    dtype = np.dtype(graph.tensors[op.inputs[0]].dtype)
    return float("-inf") if dtype.kind == "f" else float(np.iinfo(dtype).min)


def _pad_op(graph: Graph, op: Operator) -> OnnxStageOp | str:
    """A constant-mode Pad over height and width: its tile is its padded input tile."""
    mode = op.attrs.get("mode", "constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = op.attrs.get("pads") if len(op.inputs) < 2 else _const(graph, op.inputs[1])
    if mode != "constant" or pads is None or (len(op.inputs) > 3 and op.inputs[3]):
        return "is not a constant-mode Pad with constant pads over all axes"
    p = [int(v) for v in np.asarray(pads).reshape(-1)]
    if len(p) != 8 or any(p[k] for k in (0, 1, 4, 5)) or min(p) < 0:
        return "pads batch or channels, or crops"
    value = op.attrs.get("value", 0.0)
    if len(op.inputs) > 2 and op.inputs[2]:
        c = _const(graph, op.inputs[2])
        if c is None:
            return "has a computed pad value"
        value = float(np.asarray(c).reshape(-1)[0]) if c.size else 0.0
    return OnnxStageOp(op.index, op.type, (0,), Window(pad_before=p[2]), Window(pad_before=p[3]),
                       pad_value=float(value))


def _operands(graph: Graph, op: Operator, out: str, fixed: set[str]) -> tuple[int, ...] | str:
    """The positions of an element-wise operator's tiled operands; a constant
    operand must not vary over height and width."""
    spatial = []
    for k, t in enumerate(op.inputs):
        if not t:
            continue
        if t not in fixed:
            if not _rank4(graph, t) or _hw(graph, t) != _hw(graph, out):
                return "reads an activation that is not a tile of its output's size"
            spatial.append(k)
            continue
        shape = graph.tensors[t].shape
        if op.type in UNARY and k > 0:  # parameters (BatchNormalization's, Clip's bounds)
            if op.type.endswith("Linear") and np.prod(shape) > 1 and \
                    op.attrs.get("axis", 1) % 4 > 1:
                return "quantizes per height or width position"
            continue
        s = (1,) * (4 - len(shape)) + tuple(shape)
        if len(shape) > 4 or s[2] != 1 or s[3] != 1:
            return "broadcasts a constant that varies over height or width"
    return tuple(spatial) if spatial else "has no tiled operand"


def classify(graph: Graph, op: Operator, produced: set[str],
             fixed: set[str]) -> OnnxStageOp | str:
    """The operator as a stage member, or a one-line reason why it ends the stage
    (`produced`: the outputs of the stage operators before it; `fixed`: the
    constants and what is computed from constants alone, e.g. a QDQ model's
    dequantized weights)."""
    where = f"operator {op.index} ({op.type}{' ' + repr(op.name) if op.name else ''})"
    outs = [o for o in op.outputs if o]
    if op.type not in CONVS | POOLS | UNARY | BINARY | {"Pad", "Concat", "Transpose"}:
        return f"{where} mixes space or is not supported per patch"
    if len(outs) != 1 or not _rank4(graph, outs[0]) or not op.inputs or not op.inputs[0]:
        return f"{where} does not produce one 4-D tensor"
    got = _classify(graph, op, outs[0], produced, fixed)
    return f"{where} {got}" if isinstance(got, str) else got


def _classify(graph: Graph, op: Operator, out: str, produced: set[str],
              fixed: set[str]) -> OnnxStageOp | str:
    x = op.inputs[0]
    if op.type in CONVS | POOLS:
        if x in fixed or not _rank4(graph, x):
            return "does not read a 4-D activation"
        if op.type == "Conv" and any(t and t not in fixed for t in op.inputs[1:]):
            return "has computed weights"
        got = _windows(graph, op)
        if isinstance(got, str):
            return got
        return OnnxStageOp(op.index, op.type, (0,), *got, pad_value=_pad_value(graph, op))
    if op.type == "Pad":
        return _pad_op(graph, op) if _rank4(graph, x) else "does not pad a 4-D tensor"
    if op.type == "Transpose":
        perm = list(op.attrs.get("perm") or [3, 2, 1, 0])
        if x in produced or x in fixed or perm[0] != 0 or perm[2] > perm[3]:
            return "is not the NHWC -> NCHW transpose of a stage input"
        return OnnxStageOp(op.index, op.type, (0,))
    if op.type == "Concat" and op.attrs.get("axis", 1) not in (1, -3):
        return "concatenates along space"
    if op.type in UNARY and graph.tensors[x].shape != graph.tensors[out].shape:
        return "changes the shape"
    got = _operands(graph, op, out, fixed)
    return got if isinstance(got, str) else OnnxStageOp(op.index, op.type, got)


def patchable_prefix(graph: Graph) -> tuple[list[OnnxStageOp], str]:
    """The longest run of patchable operators from the first (file order), and
    why it stops; operators that read constants only are passed over (they stay
    where they are)."""
    ops: list[OnnxStageOp] = []
    produced: set[str] = set()
    fixed = {n for n, t in graph.tensors.items() if t.data is not None}
    inputs: dict[str, tuple[int, int]] = {}  # stage input -> its (height, width) axes
    for op in graph.operators:
        if all(t in fixed for t in op.inputs if t):  # weights computed (dequantized):
            fixed.update(o for o in op.outputs if o)  # not the stage's, left in place
            continue
        got = classify(graph, op, produced, fixed)
        if isinstance(got, str):
            return ops, got
        for t in (op.inputs[k] for k in got.spatial if op.inputs[k] not in produced):
            want = layout_of(graph, produced, t, op)
            if inputs.setdefault(t, want) != want:
                return ops, f"operator {op.index} ({op.type}) reads {t!r} in another layout"
        ops.append(got)
        produced.update(o for o in op.outputs if o)
    return ops, "every operator is patchable, but the graph output must be whole"

