"""Multiply-accumulate counts for the operators where the count is well defined.

The count comes from tensor shapes alone: output elements times the length of
the dot product that produces each of them.  Operators not listed have no MAC
count (None), which is different from zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .graph import Graph, Operator

MacRule = Callable[[Graph, Operator], int]


def _shape(g: Graph, name: str) -> tuple[int, ...]:
    return g.tensors[name].shape


def _out_elems(g: Graph, op: Operator) -> int:
    return math.prod(_shape(g, op.outputs[0]))


def _conv(weight_input: int) -> MacRule:
    """ONNX Conv W is [M, C/groups, kh, kw]; each output element is a dot product
    over C/groups * kh * kw inputs.  TFLite CONV_2D filters are [O, kh, kw, I]: the
    same count, prod(W.shape[1:])."""
    return lambda g, op: _out_elems(g, op) * math.prod(_shape(g, op.inputs[weight_input])[1:])


def _depthwise(g: Graph, op: Operator) -> int:
    """TFLite DEPTHWISE_CONV_2D filter is [1, kh, kw, C*multiplier]."""
    kh, kw = _shape(g, op.inputs[1])[1:3]
    return _out_elems(g, op) * kh * kw


def _inner(input_idx: int, axis: int) -> MacRule:
    """Matrix products: output elements times the contracted dimension."""
    return lambda g, op: _out_elems(g, op) * _shape(g, op.inputs[input_idx])[axis]


def _gemm(g: Graph, op: Operator) -> int:
    a = _shape(g, op.inputs[0])
    return _out_elems(g, op) * (a[0] if op.attrs.get("transA", 0) else a[-1])


def _conv_transpose_onnx(g: Graph, op: Operator) -> int:
    """W is [C, M/groups, kh, kw]: every input element is scattered into
    M/groups * kh * kw outputs."""
    return math.prod(_shape(g, op.inputs[0])) * math.prod(_shape(g, op.inputs[1])[1:])


def _transpose_conv_tflite(g: Graph, op: Operator) -> int:
    """Inputs are (output_shape, weights [O, kh, kw, I], input)."""
    o, kh, kw, _ = _shape(g, op.inputs[1])
    return math.prod(_shape(g, op.inputs[2])) * o * kh * kw


RULES: dict[tuple[str, str], MacRule] = {
    ("onnx", "Conv"): _conv(1),
    ("onnx", "ConvInteger"): _conv(1),
    ("onnx", "QLinearConv"): _conv(3),
    ("onnx", "ConvTranspose"): _conv_transpose_onnx,
    ("onnx", "Gemm"): _gemm,
    ("onnx", "MatMul"): _inner(0, -1),
    ("onnx", "MatMulInteger"): _inner(0, -1),
    ("onnx", "QLinearMatMul"): _inner(0, -1),
    ("tflite", "CONV_2D"): _conv(1),
    ("tflite", "DEPTHWISE_CONV_2D"): _depthwise,
    ("tflite", "FULLY_CONNECTED"): _inner(1, -1),
    ("tflite", "BATCH_MATMUL"): _inner(0, -1),
    ("tflite", "TRANSPOSE_CONV"): _transpose_conv_tflite,
}


def macs(graph: Graph, op: Operator) -> int | None:
    rule = RULES.get((graph.format, op.type))
    if rule is None:
        return None
    try:
        return rule(graph, op)
    except (IndexError, KeyError):
        return None  # an unusual signature (e.g. missing weights): no defined count
