"""ONNX shapes through real shape inference: `dim_value` <= 0 is symbolic
(Paddle writes -1), Shape->Gather->Concat->Reshape heads on symbolic dims fold
once the input is fixed, what cannot be resolved names its node and dims, and
every suggested --input-shape is one the parser accepts and the model runs
with (the model's own ops decide the size; otherwise names to fill in).
Models are built here with onnx.helper; onnxruntime is the reference."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from infermem.cli._common import parse_input_shape
from infermem.errors import BadInput
from infermem.frontends import load

RNG = np.random.default_rng(0)


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return nh.from_array((RNG.standard_normal(shape) * 0.1).astype(np.float32), name)


def _i64(name: str, value) -> onnx.TensorProto:
    return nh.from_array(np.array(value, np.int64), name)


def _save(tmp_path, name, nodes, inputs, inits, metadata=None):
    g = h.make_graph(nodes, name, inputs, [h.make_tensor_value_info("out", T.FLOAT, None)], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    for k, v in (metadata or {}).items():
        m.metadata_props.add(key=k, value=v)
    path = tmp_path / f"{name}.onnx"
    onnx.save(m, str(path))
    return path


def paddle_classifier(tmp_path, head: str):
    """x: dim_value -1 on batch, height and width, as Paddle exports them.
    head 'gemm': Flatten -> Gemm whose weight fixes 32x32; 'pool': global
    average pooling, any size works."""
    x = h.make_tensor_value_info("x", T.FLOAT, None)
    for d in (-1, 3, -1, -1):
        x.type.tensor_type.shape.dim.add().dim_value = d
    nodes = [h.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             h.make_node("Relu", ["c"], ["r"])]
    if head == "gemm":
        nodes += [h.make_node("Flatten", ["r"], ["f"]),
                  h.make_node("Gemm", ["f", "fc"], ["out"], transB=1)]
        fc = _w("fc", 10, 4 * 32 * 32)
    else:
        nodes += [h.make_node("GlobalAveragePool", ["r"], ["p"]),
                  h.make_node("Flatten", ["p"], ["f"]),
                  h.make_node("Gemm", ["f", "fc"], ["out"], transB=1)]
        fc = _w("fc", 10, 4)
    return _save(tmp_path, f"paddle_{head}", nodes, [x], [_w("w", 4, 3, 3, 3), fc])


def yolo_head(tmp_path, imgsz: str | None = None):
    """Two strided convs, then a head that reshapes with Shape -> Gather /
    Slice -> ReduceProd -> Concat -> Reshape on symbolic batch/H/W, and a Range
    over the positions (Shape -> Gather -> Mul) whose Shape is folded in the
    same pass (the 'unk__0' leak)."""
    images = h.make_tensor_value_info("images", T.FLOAT, ["batch", 3, "height", "width"])
    nodes = [
        h.make_node("Conv", ["images", "w1"], ["x1"], kernel_shape=[3, 3], strides=[2, 2],
                    pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["x1"], ["r1"]),
        h.make_node("Conv", ["r1", "w2"], ["x2"], kernel_shape=[3, 3], strides=[2, 2],
                    pads=[1, 1, 1, 1]),
        h.make_node("Shape", ["x2"], ["s"]),
        h.make_node("Gather", ["s", "i0"], ["n"]),
        h.make_node("Gather", ["s", "i2"], ["hh"]),
        h.make_node("Gather", ["s", "i3"], ["ww"]),
        h.make_node("Mul", ["hh", "ww"], ["hw"]),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Slice", ["s", "st2", "en4"], ["sl"]),  # [H/4, W/4] by Slice too
        h.make_node("ReduceProd", ["sl"], ["hw2"], keepdims=1),
        h.make_node("Concat", ["n1", "c16", "hw2"], ["shape"], axis=0),
        h.make_node("Reshape", ["x2", "shape"], ["y"], name="head_reshape"),
        h.make_node("Transpose", ["y"], ["t"], perm=[0, 2, 1]),
        h.make_node("Range", ["i0", "hw", "i1"], ["anchors"]),
        h.make_node("Cast", ["anchors"], ["af"], to=T.FLOAT),
        h.make_node("Shape", ["af"], ["sa"]),
        h.make_node("Reshape", ["af", "sa"], ["af2"]),
        h.make_node("Unsqueeze", ["af2", "ax1"], ["au"]),
        h.make_node("Mul", ["t", "au"], ["out"]),
    ]
    inits = [_w("w1", 8, 3, 3, 3), _w("w2", 16, 8, 3, 3), _i64("i0", 0), _i64("i1", 1),
             _i64("i2", 2), _i64("i3", 3), _i64("c16", [16]), _i64("ax0", [0]),
             _i64("ax1", [1]), _i64("st2", [2]), _i64("en4", [4])]
    meta = {"imgsz": imgsz} if imgsz else None
    return _save(tmp_path, "yolo" + ("_meta" if imgsz else ""), nodes, [images], inits, meta)


def _suggested(path) -> str:
    with pytest.raises(BadInput) as e:
        load(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _ort_shape(path, name, shape):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {name: np.zeros(shape, np.float32)})[0].shape


def test_paddle_minus_one_dims_are_symbolic_and_the_weight_implies_the_size(tmp_path):
    path = paddle_classifier(tmp_path, "gemm")
    msg = _suggested(path)
    assert "-1x" not in msg and "1x3x1x1" not in msg
    text = re.search(r"--input-shape (\S+)", msg).group(1)
    assert text == "x=1x3x32x32"
    name, shape = parse_input_shape(text)
    g = load(path, {name: shape})
    assert g.tensors["out"].shape == _ort_shape(path, name, shape) == (1, 10)
    two = load(path, {"x": (2, 3, 32, 32)})  # dim 0 is symbolic, not "fixed to -1"
    assert two.tensors["out"].shape == (2, 10)
    with pytest.raises(BadInput, match="fixes dim 1 to 3"):
        load(path, {"x": (1, 4, 32, 32)})


def test_paddle_pool_head_asks_for_names_not_a_made_up_size(tmp_path):
    path = paddle_classifier(tmp_path, "pool")
    msg = _suggested(path)
    assert "--input-shape x=1x3xD2xD3 with D2, D3 filled in" in msg
    g = load(path, {"x": (1, 3, 48, 192)})
    assert g.tensors["out"].shape == _ort_shape(path, "x", (1, 3, 48, 192))


def test_symbolic_shape_folding_of_a_yolo_head(tmp_path):
    path = yolo_head(tmp_path)
    g = load(path, {"images": (1, 3, 320, 320)})
    assert g.tensors["out"].shape == _ort_shape(path, "images", (1, 3, 320, 320)) == (1, 6400, 16)
    assert g.tensors["y"].shape == (1, 16, 6400)
    assert all(isinstance(d, int) for t in g.tensors.values() for d in t.shape)
    folded = {op.type for op in g.operators}
    # the shape arithmetic is folded into constants
    assert not folded & {"Shape", "Gather", "Slice", "ReduceProd", "Concat", "Range"}
    g2 = load(path, {"images": (2, 3, 64, 96)})
    assert g2.tensors["out"].shape == _ort_shape(path, "images", (2, 3, 64, 96))


def test_yolo_suggestion_uses_the_declared_size_or_names(tmp_path):
    msg = _suggested(yolo_head(tmp_path))
    assert "images=1x3xHEIGHTxWIDTH with HEIGHT, WIDTH filled in" in msg
    msg = _suggested(yolo_head(tmp_path, imgsz="[320, 320]"))
    text = re.search(r"--input-shape (\S+)", msg).group(1)
    assert text == "images=1x3x320x320"
    assert load(tmp_path / "yolo_meta.onnx", dict([parse_input_shape(text)]))


def test_an_unresolvable_shape_names_the_node_and_the_dims(tmp_path):
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4])
    nodes = [h.make_node("NonZero", ["x"], ["nz"], name="where_nonzero"),
             h.make_node("Cast", ["nz"], ["out"], to=T.FLOAT)]
    path = _save(tmp_path, "nonzero", nodes, [x], [])
    with pytest.raises(BadInput) as e:
        load(path)
    msg = str(e.value)
    assert "'where_nonzero' (NonZero)" in msg and "dim(s) [1] unresolved" in msg


GPT2_DEEP = Path(__file__).parent / "fixtures" / "transformers" / "gpt2_L10_H16_A2_V100_P32.onnx"


def test_a_deep_gpt2_folds_the_causal_mask_slice_of_every_layer():
    """GPT-2 slices each layer's causal mask by lengths read from the previous
    layer's output Shape, so folding needs one round per layer: 10 layers
    once stopped at h.8.  The file: scripts/make_transformers.py --only
    gpt2_L12 --layers 10 --hidden 16 --heads 2 --vocab 100 --positions 32
    --seq 16 --out tests/fixtures/transformers."""
    shapes = {"input_ids": (1, 16), "attention_mask": (1, 16)}
    g = load(GPT2_DEEP, shapes)
    s = ort.InferenceSession(str(GPT2_DEEP), providers=["CPUExecutionProvider"])
    (logits,) = s.run(None, {n: np.ones(v, np.int64) for n, v in shapes.items()})
    assert g.tensors["logits"].shape == logits.shape == (1, 16, 100)
    wheres = [op for op in g.operators if op.type == "Where"]
    assert len(wheres) == 10
    assert all(g.tensors[op.outputs[0]].shape == (1, 2, 16, 16) for op in wheres)
