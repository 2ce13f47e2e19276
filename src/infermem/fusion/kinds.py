"""Operator pattern kinds, as TVM's `OpPatternKind` classifies the kernels it
generates (Relax `AnnotateTIROpPattern` on the legalized TIR):

- ELEMWISE (TVM's kElemWise and kBroadcast): one output element from the
  same (or a broadcast) element of each input — Add, Mul, Erf, Relu, Cast...
- INJECTIVE: moves elements without arithmetic — Transpose, Concat, Slice...
- REDUCE (kCommReduce): a pure reduction — ReduceSum, ReduceMax.
- ANCHOR (kOutEWiseFusable): a reduction whose output block is followed by
  element-wise work inside the same kernel — MatMul and Gemm (multiply-add),
  Conv, pools, Softmax, LayerNormalization, ReduceMean (a sum, then a divide).
- OPAQUE: anything else (Gather, control flow, shape ops).

Only the first four matter to fusion; `pattern(op)` is the kind of one ONNX
operator.
"""

from __future__ import annotations

from enum import IntEnum

from ..graph import Operator


class Kind(IntEnum):
    ELEMWISE = 0
    INJECTIVE = 2
    REDUCE = 3
    ANCHOR = 4
    OPAQUE = 8


def _elementwise_types() -> frozenset[str]:
    from ..runtime.kernels.elementwise import BINARY, UNARY

    return frozenset({*UNARY, *BINARY, "Where", "Clip", "Cast", "CastLike", "Sum", "Max",
                      "Min", "Mean", "Mod", "BitShift"}) - {"Identity"}


ELEMENTWISE = _elementwise_types()
INJECTIVE = frozenset({"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Concat",
                       "Slice", "Expand", "Tile", "Pad", "Split", "DepthToSpace",
                       "SpaceToDepth", "Identity"})
PURE_REDUCE = frozenset({"ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
                         "ReduceSumSquare", "ReduceL1"})
ANCHORS = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose", "Softmax", "LogSoftmax",
                     "LayerNormalization", "RMSNormalization", "ReduceMean", "ReduceL2",
                     "ReduceLogSum", "ReduceLogSumExp", "MaxPool", "AveragePool",
                     "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization"})


def pattern(op: Operator) -> Kind:
    """The pattern kind of one operator."""
    t = op.type
    if t in ELEMENTWISE:
        return Kind.ELEMWISE
    if t in ANCHORS:
        return Kind.ANCHOR
    if t in PURE_REDUCE:
        return Kind.REDUCE
    if t in INJECTIVE:
        return Kind.INJECTIVE
    return Kind.OPAQUE
