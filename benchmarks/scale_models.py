"""Models that stress size and scale, built in memory: long chains, very wide
operators, many parallel branches, folding bombs and oversized inputs.

Shared by `benchmarks/scale.py` (the figures) and tests/test_budgets.py (the
refusals); each builder returns an `onnx.ModelProto` or `.tflite` bytes that
a few hundred bytes of file can hold.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def _model(name: str, nodes, inputs, outputs, inits=()) -> onnx.ModelProto:
    graph = h.make_graph(nodes, name, list(inputs), list(outputs), list(inits))
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _vi(name: str, shape, elem=T.FLOAT):
    return h.make_tensor_value_info(name, elem, shape)


def _i64(name: str, value) -> onnx.TensorProto:
    return nh.from_array(np.array(value, dtype=np.int64), name)


def chain(n: int, width: int = 16) -> onnx.ModelProto:
    """x -> Relu -> Relu -> ... (n nodes)."""
    nodes = [h.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"]) for i in range(n)]
    return _model("chain", nodes, [_vi("x", [1, width])], [_vi(f"t{n}", [1, width])])


def wide(op: str, n: int) -> onnx.ModelProto:
    """One Concat or Sum of n graph inputs of shape [1, 4]."""
    names = [f"x{i}" for i in range(n)]
    attrs = {"axis": 1} if op == "Concat" else {}
    width = 4 * n if op == "Concat" else 4
    node = h.make_node(op, names, ["y"], **attrs)
    return _model(f"wide_{op.lower()}", [node], [_vi(a, [1, 4]) for a in names],
                  [_vi("y", [1, width])])


def branches(n: int) -> onnx.ModelProto:
    """x -> n parallel Relu -> one Sum."""
    nodes = [h.make_node("Relu", ["x"], [f"b{i}"]) for i in range(n)]
    nodes.append(h.make_node("Sum", [f"b{i}" for i in range(n)], ["y"]))
    return _model("branches", nodes, [_vi("x", [1, 4])], [_vi("y", [1, 4])])


def bomb(kind: str) -> onnx.ModelProto:
    """A ~100-200 byte model whose constant folding would allocate GiBs:
    'range' (Range(0, 2^28, 1)), 'cos_add' (ConstantOfShape [65536, 32768]
    then Add), 'expand' / 'tile' (a constant grown to 16384 x 16384)."""
    out = [_vi("y", None)]
    small = nh.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), "x")
    if kind == "range":
        nodes = [h.make_node("Range", ["s", "l", "d"], ["r"]), h.make_node("Neg", ["r"], ["y"])]
        return _model(kind, nodes, [], [_vi("y", None, T.INT64)],
                      [_i64("s", 0), _i64("l", 1 << 28), _i64("d", 1)])
    if kind == "cos_add":
        one = h.make_tensor("v", T.FLOAT, [1], [1.0])
        nodes = [h.make_node("ConstantOfShape", ["sh"], ["c"], value=one),
                 h.make_node("Add", ["c", "c"], ["a"]), h.make_node("Neg", ["a"], ["y"])]
        return _model(kind, nodes, [], out, [_i64("sh", [65536, 32768])])
    if kind == "expand":
        nodes = [h.make_node("Expand", ["x", "sh"], ["e"]), h.make_node("Mul", ["e", "e"], ["y"])]
        return _model(kind, nodes, [], out, [small, _i64("sh", [8192, 8192, 2, 2])])
    if kind == "tile":
        nodes = [h.make_node("Tile", ["x", "rep"], ["e"]), h.make_node("Neg", ["e"], ["y"])]
        return _model(kind, nodes, [], out, [small, _i64("rep", [8192, 8192])])
    raise ValueError(kind)


BOMBS = ("range", "cos_add", "expand", "tile")


def big_input_onnx(gib: int = 4) -> onnx.ModelProto:
    """A Relu on one float32 input of `gib` GiB (fine to profile, not to run)."""
    shape = [1, gib * 256, 1024, 1024]
    return _model("big_input", [h.make_node("Relu", ["x"], ["y"])], [_vi("x", shape)],
                  [_vi("y", shape)])


def big_input_tflite(gib: int = 4) -> bytes:
    """The same as a .tflite: one RELU on a float32 input of `gib` GiB."""
    from infermem.sidebyside.baseline import relu_tflite

    return relu_tflite((1, gib * 256, 1024, 1024))
