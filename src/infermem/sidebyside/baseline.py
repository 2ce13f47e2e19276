"""The smallest model a runtime can load: what the runtime costs with no model.

Predicted memory = the runtime's own baseline + the model's bytes + its
arena.  The baseline is measured, not guessed: the same monitored child runs
a one-operator model (float32[1] -> Relu -> float32[1]) under the same
runtime, so imports, interpreter objects and thread pools are counted once
and the rest of the real model's RSS can be attributed.
"""

from __future__ import annotations

from pathlib import Path


def trivial_onnx(path: Path) -> Path:
    """float32[1] -> Relu -> float32[1], opset 13."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "trivial", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def trivial_tflite(path: Path, shape: tuple[int, ...] = (1,)) -> Path:
    """Write `relu_tflite(shape)` to `path`."""
    path.write_bytes(relu_tflite(shape))
    return path


def relu_tflite(shape: tuple[int, ...] = (1,)) -> bytes:
    """float32[shape] -> RELU -> float32[shape], built with the schema's object API."""
    import flatbuffers

    from ..tflm._model import schema

    fb = schema()
    tensors = []
    for k, name in enumerate((b"x", b"y")):
        t = fb.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), fb.TensorType.FLOAT32, k + 1, name
        tensors.append(t)
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    sg = fb.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [0], [1], [op], b"main"
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.RELU
    code.version = 1
    m = fb.ModelT()
    m.version, m.operatorCodes, m.subgraphs = 3, [code], [sg]
    m.buffers = [fb.BufferT() for _ in range(3)]
    m.description = b"infermem trivial model"
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def trivial_model(runtime: str, folder: Path) -> Path:
    if runtime == "onnxruntime":
        return trivial_onnx(folder / "trivial.onnx")
    return trivial_tflite(folder / "trivial.tflite")
