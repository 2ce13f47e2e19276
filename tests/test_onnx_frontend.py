"""The ONNX frontend on real files: the model-zoo light models, a QDQ model made
with onnxruntime's quantizer, and hand-made hostile files."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from infermem.errors import BadInput
from infermem.frontends import load
from infermem.frontends.onnx import VIEW_OPS, graph_from_model
from infermem.graph import Role
from infermem.lifetimes import lifetimes, live_bytes

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))


def light(name: str) -> Path:
    return LIGHT / f"light_{name}.onnx"


def independent_weight_bytes(model: onnx.ModelProto) -> int:
    """Weights as the file states them, from ONNX's own shape inference of the
    unfolded file: a tensor is constant if it is an initializer or every input
    of its node is constant (ConstantOfShape of a shape, Unsqueeze or Reshape of
    a weight); the weights are the constants that a run-time node reads."""
    g = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph
    types = {v.name: v.type.tensor_type for v in (*g.value_info, *g.input, *g.output)}
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    consts = set(inits)
    for n in g.node:
        if all(i in consts for i in n.input):
            consts.update(n.output)
    reads = {i for n in g.node if not set(n.input) <= consts for i in n.input if i in consts}

    def size(name: str) -> int:
        if name in inits:
            return inits[name].nbytes
        t = types[name]
        itemsize = helper.tensor_dtype_to_np_dtype(t.elem_type).itemsize
        return math.prod(d.dim_value for d in t.shape.dim) * itemsize

    return sum(size(n) for n in reads)


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def make_model(nodes, inputs, outputs, inits=(), opset=13) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def vi(name: str, shape, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


# --- the light model zoo -----------------------------------------------------------------


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_weights_views_and_shapes(name):
    assert len(LIGHT_MODELS) == 9
    model = onnx.load(str(light(name)))
    g = load(light(name))
    assert g.format == "onnx" and g.source == str(light(name))
    assert not any(op.type == "ConstantOfShape" for op in g.operators)
    assert g.weights_bytes == independent_weight_bytes(model)
    assert [op.index for op in g.operators] == list(range(len(g.operators)))
    for t in g.tensors.values():
        assert t.index is None
        assert all(isinstance(d, int) and d > 0 for d in t.shape), t
        if t.role is Role.WEIGHT:
            assert t.data is not None and t.data.shape == t.shape and t.data.dtype.name == t.dtype
    # The weights carry their real values: the light models fill them with 0.02.
    conv_w = next(g.tensors[op.inputs[1]] for op in g.operators if op.type == "Conv")
    assert np.allclose(conv_w.data, np.float32(0.02))
    # Graph output shape matches the reference output stored beside the model.
    ref = onnx.TensorProto()
    ref.ParseFromString((LIGHT / f"light_{name}_output_0.pb").read_bytes())
    assert g.tensors[g.outputs[0]].shape == tuple(ref.dims)
    for op in g.operators:
        if op.type in VIEW_OPS and op.outputs[0] not in g.outputs:
            view = g.tensors[op.outputs[0]]
            assert view.role is Role.ALIAS and view.alias_of == op.inputs[0]
            assert view.nbytes == g.tensors[op.inputs[0]].nbytes
        if op.type == "Dropout":
            assert op.outputs[1:] in ((), ("",))  # the unused mask is not computed
    assert sum(op.type in VIEW_OPS for op in g.operators) == sum(
        t.role is Role.ALIAS for t in g.tensors.values()
    )
    lts = lifetimes(g)  # the IR is a valid planning input
    assert max(live_bytes(lts, len(g.operators))) > 0


def test_light_model_loads_fast():
    start = time.perf_counter()
    load(light("resnet50"))
    assert time.perf_counter() - start < 2.0


def test_two_hundred_layers_load_fast():
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(200):
        w = numpy_helper.from_array(rng.standard_normal((8, 8, 3, 3)).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes += [
            helper.make_node("Conv", [x, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        x = f"r{i}"
    nodes += [
        helper.make_node("Shape", [x], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", [x, "target"], ["y"]),
    ]
    inits += [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "zero1"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
    ]
    model = make_model(nodes, [vi("x", [1, 8, 16, 16])], [vi("y", None)], inits)
    start = time.perf_counter()
    g = graph_from_model(model)
    assert time.perf_counter() - start < 2.0
    assert len(g.operators) == 401 and g.tensors["y"].shape == (1, 8 * 16 * 16)
    assert g.tensors["target"].role is Role.WEIGHT
    assert list(g.tensors["target"].data) == [1, -1]


# --- constant folding ----------------------------------------------------------------------


def test_shape_arithmetic_and_constants_fold_into_weights():
    nodes = [
        helper.make_node(
            "Constant",
            [],
            ["scale"],
            value=numpy_helper.from_array(np.full((1, 4, 1, 1), 3.0, np.float32)),
        ),
        helper.make_node("Mul", ["x", "scale"], ["m"]),
        helper.make_node("Shape", ["m"], ["s"]),
        helper.make_node("Slice", ["s", "starts", "ends"], ["hw"]),  # reference evaluator
        helper.make_node("ReduceProd", ["hw"], ["p"], keepdims=1),
        helper.make_node("Concat", ["one", "p"], ["target"], axis=0),
        helper.make_node("Cast", ["target"], ["target64"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["m", "target64"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], axis=1),
        helper.make_node("Relu", ["f"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "starts"),
        numpy_helper.from_array(np.array([4], np.int64), "ends"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
    ]
    model = make_model(nodes, [vi("x", [1, 4, 5, 6])], [vi("y", None)], inits)
    g = graph_from_model(model)
    assert [op.type for op in g.operators] == ["Mul", "Reshape", "Flatten", "Relu"]
    assert g.meta["folded_nodes"] == 6
    assert g.tensors["scale"].role is Role.WEIGHT and g.tensors["scale"].data.sum() == 12.0
    assert list(g.tensors["target64"].data) == [1, 120]
    assert g.tensors["r"].role is Role.ALIAS and g.tensors["r"].alias_of == "m"
    assert g.tensors["f"].alias_of == "r" and g.root("f") == "m"
    assert g.tensors["y"].shape == (1, 120) and g.tensors["y"].role is Role.OUTPUT
    assert g.weights_bytes == 16 + 16  # scale (4 floats) + target (2 int64)


def test_constant_that_is_a_graph_output_stays_an_operator():
    value = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    model = make_model([helper.make_node("Constant", [], ["y"], value=value)], [], [vi("y", None)])
    g = graph_from_model(model)
    assert [op.type for op in g.operators] == ["Constant"]
    assert g.tensors["y"].role is Role.OUTPUT and g.tensors["y"].shape == (2, 3)
    assert np.array_equal(g.operators[0].attrs["value"], np.arange(6).reshape(2, 3))


def test_single_node_model_and_unused_optional_outputs():
    nodes = [helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2])]
    model = make_model(nodes, [vi("x", [1, 2, 4, 4])], [vi("y", None)])
    g = graph_from_model(model, name="single")
    assert g.name == "single" and g.operators[0].outputs == ("y", "")
    assert g.tensors["y"].shape == (1, 2, 3, 3) and "idx" not in g.tensors
    assert g.operators[0].attrs == {"kernel_shape": [2, 2]}


# --- QDQ -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qdq_pair(tmp_path_factory):
    """A float SqueezeNet with random weights and its quantize_static QDQ twin."""
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    rng = np.random.default_rng(0)
    m = onnx.load(str(light("squeezenet")))
    shapes = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nodes, weights = [], []
    for n in m.graph.node:
        if n.op_type == "ConstantOfShape":
            w = (rng.standard_normal(shapes[n.input[0]]) * 0.05).astype(np.float32)
            weights.append(numpy_helper.from_array(w, n.output[0]))
        else:
            nodes.append(n)
    read = {i for n in nodes for i in n.input}
    weights += [t for t in m.graph.initializer if t.name in read]
    data = [i for i in m.graph.input if i.name == "data_0"]
    graph = helper.make_graph(nodes, "sq", data, list(m.graph.output), weights)
    assert graph.input[0].name == "data_0"
    float_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)], ir_version=8)
    float_model = version_converter.convert_version(float_model, 13)
    d = tmp_path_factory.mktemp("qdq")
    save(float_model, d / "f.onnx")

    class Reader(CalibrationDataReader):
        def __init__(self):
            batches = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(2)]
            self.it = iter({"data_0": b} for b in batches)

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(d / "f.onnx"),
        str(d / "q.onnx"),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    return d / "f.onnx", d / "q.onnx"


def test_qdq_counts_integer_weights_and_activations(qdq_pair):
    fpath, qpath = qdq_pair
    f, q = load(fpath), load(qpath)
    assert q.meta["qdq"] and not f.meta["qdq"]
    assert 0.24 < q.weights_bytes / f.weights_bytes < 0.27
    qmodel = onnx.load(str(qpath))
    n_dq = sum(n.op_type == "DequantizeLinear" for n in qmodel.graph.node)
    assert sum(op.type == "DequantizeLinear" for op in q.operators) == n_dq
    for op in q.operators:
        if op.type == "DequantizeLinear" and op.outputs[0] not in q.outputs:
            view, src = q.tensors[op.outputs[0]], q.tensors[op.inputs[0]]
            assert view.role is Role.ALIAS and view.alias_of == src.name
            assert view.dtype == "float32" and src.dtype in ("int8", "int32")
            assert src.quant is not None and len(src.quant.scale) >= 1
    # Every float weight left is a scale; the big weights are integer.
    assert all(
        t.nbytes <= 8 for t in q.tensors.values() if t.role is Role.WEIGHT and t.dtype == "float32"
    )
    inner = [t for t in q.arena_tensors() if t.role is Role.ACTIVATION]
    assert inner and all(t.dtype == "int8" for t in inner)
    f_peak = max(live_bytes(lifetimes(f), len(f.operators)))
    q_peak = max(live_bytes(lifetimes(q), len(q.operators)))
    assert q_peak < f_peak / 3  # int8 activations, float only at the input


# --- inputs and dynamic shapes -------------------------------------------------------------


@pytest.fixture
def dynamic_squeezenet(tmp_path):
    m = onnx.load(str(light("squeezenet")))
    data = next(i for i in m.graph.input if i.name == "data_0")
    data.type.tensor_type.shape.dim[0].dim_param = "batch"
    return save(m, tmp_path / "dyn.onnx")


def test_dynamic_input_needs_input_shape(dynamic_squeezenet):
    with pytest.raises(BadInput) as e:
        load(dynamic_squeezenet)
    msg = str(e.value)
    assert "dynamic input shape: data_0 has dims ('batch', 3, 224, 224)" in msg
    assert "--input-shape data_0=1x3x224x224" in msg
    one = load(dynamic_squeezenet, {"data_0": (1, 3, 224, 224)})
    two = load(dynamic_squeezenet, {"data_0": (2, 3, 224, 224)})
    ref = load(light("squeezenet"))
    assert one.weights_bytes == two.weights_bytes == ref.weights_bytes
    assert two.tensors[two.outputs[0]].shape == (2, 1000, 1, 1)
    arena = [sum(t.nbytes for t in g.arena_tensors()) for g in (ref, one, two)]
    assert arena[0] == arena[1] and arena[2] == 2 * arena[1]


@pytest.mark.parametrize(
    "shapes, words",
    [
        ({"nope": (1, 3, 224, 224)}, "not an input of the model"),
        ({"data_0": (1, 3, 224)}, "does not match the model's rank"),
        ({"data_0": (1, 4, 224, 224)}, "fixes dim 1 to 3"),
        ({"data_0": (1, 3, 224, 0)}, "must be positive"),
    ],
)
def test_bad_input_shapes(dynamic_squeezenet, shapes, words):
    with pytest.raises(BadInput, match=words):
        load(dynamic_squeezenet, shapes)


def test_absurd_dims_are_refused_before_arithmetic(tmp_path):
    big = 1 << 31
    model = make_model(
        [helper.make_node("Flatten", ["x"], ["y"])], [vi("x", [1, big, big, big])], [vi("y", None)]
    )
    with pytest.raises(BadInput, match="bytes"):
        load(save(model, tmp_path / "big.onnx"))
    shape = numpy_helper.from_array(np.array([1 << 62, 4], np.int64), "shape")
    model = make_model(
        [
            helper.make_node("ConstantOfShape", ["shape"], ["c"]),
            helper.make_node("Add", ["x", "c"], ["y"]),
        ],
        [vi("x", [1])],
        [vi("y", None)],
        [shape],
    )
    with pytest.raises(BadInput, match="bytes"):
        graph_from_model(model)
    huge = TensorProto(
        name="w", data_type=TensorProto.FLOAT, dims=[big, big, big], raw_data=b"1234"
    )
    model = make_model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [vi("x", [1])], [vi("y", None)], [huge]
    )
    with pytest.raises(BadInput, match="bytes"):
        graph_from_model(model)


# --- refusals --------------------------------------------------------------------------------


def test_control_flow_is_refused(tmp_path):
    branch = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["z"])], "b", [], [vi("z", [2])]
    )
    node = helper.make_node(
        "If", ["c"], ["y"], name="choose", then_branch=branch, else_branch=branch
    )
    model = make_model([node], [vi("c", [], TensorProto.BOOL), vi("x", [2])], [vi("y", [2])])
    with pytest.raises(BadInput, match=r"not supported: control flow in node 'choose' \(If\)"):
        load(save(model, tmp_path / "if.onnx"))


def test_unknown_operators_are_named(tmp_path):
    node = helper.make_node("Frobnicate", ["x"], ["y"], name="f1")
    model = make_model([node], [vi("x", [2])], [vi("y", None)])
    with pytest.raises(BadInput, match=r"unknown operator 'Frobnicate' in node 'f1'"):
        load(save(model, tmp_path / "unknown.onnx"))
    node = helper.make_node("Blur", ["x"], ["y"], name="b1", domain="com.example")
    model = helper.make_model(
        helper.make_graph([node], "t", [vi("x", [2])], [vi("y", None)]),
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)],
    )
    with pytest.raises(BadInput, match=r"node 'b1' \(com.example::Blur\).*unknown operator"):
        load(save(model, tmp_path / "custom.onnx"))


def test_data_dependent_shape_is_refused():
    model = make_model(
        [helper.make_node("NonZero", ["x"], ["y"], name="nz")],
        [vi("x", [4])],
        [vi("y", None, TensorProto.INT64)],
    )
    with pytest.raises(BadInput, match=r"static shape for 'y', output of node 'nz' \(NonZero\)"):
        graph_from_model(model)


def test_broken_files_are_bad_input(tmp_path):
    good = light("squeezenet").read_bytes()
    cases = {
        "truncated.onnx": good[: len(good) // 2],
        "random.onnx": np.random.default_rng(1).bytes(4096),
        "empty.onnx": b"",
        "text.onnx": b"this is not a model\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadInput, match=rf"{name}: not a valid ONNX model \(") as e:
            load(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(BadInput, match="no such file"):
        load(tmp_path / "missing.onnx")


def test_corrupted_bytes_never_escape_as_tracebacks(tmp_path):
    good = bytearray(light("zfnet512").read_bytes())
    rng = np.random.default_rng(7)
    outcomes = set()
    for k in range(40):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), size=1 + k % 4):
            data[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"c{k}.onnx"
        path.write_bytes(bytes(data))
        try:
            load(path)
            outcomes.add("loaded")
        except BadInput:
            outcomes.add("refused")
    assert outcomes  # only Graph or BadInput: anything else fails the test


# --- external data ---------------------------------------------------------------------------


def external_model(folder: Path) -> Path:
    folder.mkdir()
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "w")
    model = make_model(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], [vi("x", [1, 8])], [vi("y", None)], [w]
    )
    path = folder / "m.onnx"
    onnx.save_model(
        model, str(path), save_as_external_data=True, location="w.bin", size_threshold=0
    )
    return path


def set_location(path: Path, location: str) -> None:
    m = onnx.load(str(path), load_external_data=False)
    for e in m.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = location
    onnx.save(m, str(path))


OPENED: list[str] = []


def _audit(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


def test_external_data_inside_the_folder_loads(tmp_path):
    g = load(external_model(tmp_path / "m"))
    assert np.array_equal(g.tensors["w"].data, np.arange(64, dtype=np.float32).reshape(8, 8))
    assert g.weights_bytes == 256


@pytest.mark.parametrize("escape", ["../secret.bin", "ABSOLUTE", "link.bin"])
def test_external_data_escaping_the_folder_is_refused(tmp_path, escape):
    path = external_model(tmp_path / "m")
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\1" * 256)
    if escape == "ABSOLUTE":
        escape = str(secret)
    if escape == "link.bin":
        (tmp_path / "m" / "link.bin").symlink_to(secret)
    set_location(path, escape)
    OPENED.clear()
    with pytest.raises(BadInput, match="external data of tensor 'w'"):
        load(path)
    assert not any(Path(p).name == "secret.bin" for p in OPENED), OPENED
    assert any(Path(p) == path for p in OPENED)  # the hook does see opens


def test_external_data_of_the_wrong_length_is_refused(tmp_path):
    path = external_model(tmp_path / "m")
    (tmp_path / "m" / "w.bin").write_bytes(b"\0" * 100)
    with pytest.raises(BadInput, match="needs 256 bytes"):
        load(path)


def test_stale_shape_annotations_are_dropped_not_trusted():
    model = make_model(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
        [vi("x", [1, 4])],
        [vi("y", [7])],  # wrong rank: an old export's leftover
    )
    model.graph.value_info.append(vi("r", [3, 3, 3]))
    g = graph_from_model(model)
    assert g.tensors["r"].shape == (1, 4) and g.tensors["y"].shape == (1, 4)


def test_quantize_of_a_float_weight_folds_to_an_integer_weight():
    w = np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4)
    nodes = [
        helper.make_node("QuantizeLinear", ["w", "s", "z"], ["wq"]),
        helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
        helper.make_node("MatMul", ["x", "wd"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array(1 / 127, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int8), "z"),
    ]
    g = graph_from_model(make_model(nodes, [vi("x", [2, 8])], [vi("y", None)], inits))
    assert [op.type for op in g.operators] == ["DequantizeLinear", "MatMul"]
    wq = g.tensors["wq"]
    assert wq.role is Role.WEIGHT and wq.dtype == "int8" and "w" not in g.tensors
    assert np.array_equal(wq.data, np.clip(np.rint(w * 127), -128, 127).astype(np.int8))
    assert wq.quant is not None and wq.quant.zero_point == (0,)
    assert g.tensors["wd"].role is Role.ALIAS and g.tensors["wd"].alias_of == "wq"
    assert g.weights_bytes == 32 + 4 + 1
