"""The TFLite frontend against LiteRT (the TFLite reference) on the committed
fixtures, and against malformed files it must refuse with one BadInput line."""

from __future__ import annotations

import random
import time
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from infermem.errors import BadInput
from infermem.frontends import load
from infermem.frontends.tflite import read_model
from infermem.graph import Role

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = sorted(FIXTURES.glob("*.tflite"))
SMALL = min(MODELS, key=lambda p: p.stat().st_size) if MODELS else None


def test_fixtures_exist():
    assert len(MODELS) >= 4, "tests/fixtures should hold the committed .tflite models"


def _interpreter(path: Path) -> Interpreter:
    # No default delegate: XNNPACK would replace operators and tensors.
    return Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


def _by_index(graph):
    return {t.index: t for t in graph.tensors.values()}


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_tensors_match_litert(path):
    g = load(path)
    assert g.format == "tflite"
    it = _interpreter(path)
    n = schema_fb.Model.GetRootAs(path.read_bytes()).Subgraphs(0).TensorsLength()
    assert sorted(t.index for t in g.tensors.values()) == list(range(n))
    by_index = _by_index(g)
    details = [d for d in it.get_tensor_details() if d["index"] in by_index]
    assert len(details) == n, "LiteRT and infermem see different tensors"
    for d in details:
        t = by_index[d["index"]]
        assert t.name == d["name"] or t.name.startswith(f"{d['name'] or 'tensor'}#")
        assert t.shape == tuple(int(x) for x in d["shape"]), t.name
        assert np.dtype(t.dtype) == np.dtype(d["dtype"]), t.name
        q = d["quantization_parameters"]
        if len(q["scales"]):
            assert t.quant is not None, t.name
            np.testing.assert_array_equal(np.float32(t.quant.scale), q["scales"])
            assert t.quant.zero_point == tuple(int(z) for z in q["zero_points"])
            if len(q["scales"]) > 1:
                assert t.quant.axis == q["quantized_dimension"]
        else:
            assert t.quant is None, t.name


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_operators_match_litert(path):
    g = load(path)
    it = _interpreter(path)
    ops = it._get_ops_details()
    assert len(g.operators) == len(ops)
    index = {n: t.index for n, t in g.tensors.items()}
    for op, ref in zip(g.operators, ops, strict=True):
        assert op.index == ref["index"]
        assert op.type == ref["op_name"]
        assert [index[n] if n else -1 for n in op.inputs] == list(ref["inputs"])
        assert [index[n] for n in op.outputs] == list(ref["outputs"])
    assert [index[n] for n in g.inputs] == [d["index"] for d in it.get_input_details()]
    assert [index[n] for n in g.outputs] == [d["index"] for d in it.get_output_details()]
    assert g.file_order == tuple(range(len(ops)))  # the file's order is a valid schedule


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_weights_are_the_files_constant_buffers(path):
    """Weights counted from an independent walk with the schema's object API,
    and weight values equal to what LiteRT reads."""
    g = load(path)
    model = schema_fb.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    sizes = {}
    for i, t in enumerate(model.subgraphs[0].tensors):
        data = model.buffers[t.buffer].data
        if data is not None and len(data):
            sizes[i] = (t.buffer, len(data))
    by_index = _by_index(g)
    assert {i for i, t in by_index.items() if t.role is Role.WEIGHT} == set(sizes)
    assert g.weights_bytes == sum(s for _, s in sizes.values())
    assert g.meta["weight_buffer_bytes"] == sum(dict(sizes.values()).values())
    it = _interpreter(path)
    it.allocate_tensors()
    for i in sizes:
        np.testing.assert_array_equal(by_index[i].data, it.get_tensor(i))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_roles_and_attrs(path):
    g = load(path)
    for name in g.inputs:
        assert g.tensors[name].role is Role.INPUT
    assert all(t.alias_of is None for t in g.tensors.values()), "no aliases for tflite"
    for op in g.operators:
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert op.attrs["padding"] in ("SAME", "VALID")
            assert op.attrs["stride_h"] >= 1 and op.attrs["dilation_w_factor"] >= 1
            assert isinstance(op.attrs["fused_activation_function"], str)
        if op.type == "RESHAPE":
            assert g.tensors[op.outputs[0]].role in (Role.ACTIVATION, Role.OUTPUT)


# --- files edited through the schema's object API ---------------------------


def _edited(tmp_path: Path, src: Path, edit) -> Path:
    model = read_model(src)
    edit(model)
    b = flatbuffers.Builder(1 << 16)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    out = tmp_path / f"edited_{src.name}"
    out.write_bytes(bytes(b.Output()))
    return out


def _dynamic_batch(model) -> None:
    """What the converter writes for a None batch: -1 in dim 0 of the signature
    of every non-constant tensor that has a batch."""
    for t in model.subgraphs[0].tensors:
        data = model.buffers[t.buffer].data
        if (data is None or not len(data)) and len(t.shape) >= 2 and t.shape[0] == 1:
            t.shapeSignature = np.array([-1, *t.shape[1:]], dtype=np.int32)


def test_dynamic_batch_matches_litert(tmp_path):
    src = FIXTURES / "resnet_f32.tflite"
    path = _edited(tmp_path, src, _dynamic_batch)
    name = load(src).inputs[0]
    shape = load(src).tensors[name].shape
    stored = load(path)  # the stored shape, as TFLM and LiteRT allocate it, and a note
    assert stored.tensors[name].shape == shape and stored.meta["batch"] == 1
    assert stored.meta["dynamic_dims_resolved"][0]["dims"] == [0]
    assert "stored shape" in stored.meta["shape_notes"][0]
    g = load(path, {name: (3, *shape[1:])})
    assert g.meta["batch"] == 3
    it = _interpreter(path)
    it.resize_tensor_input(0, [3, *shape[1:]])
    it.allocate_tensors()
    by_index = _by_index(g)
    for d in it.get_tensor_details():
        if d["index"] in by_index:
            assert by_index[d["index"]].shape == tuple(int(x) for x in d["shape"])
    with pytest.raises(BadInput, match="dimension 1 is fixed at"):
        load(path, {name: (3, shape[1] + 1, *shape[2:])})
    with pytest.raises(BadInput, match="not an input"):
        load(path, {"nope": (1,)})


def _dynamic_image(model) -> None:
    _dynamic_batch(model)
    t = model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]]
    t.shapeSignature = np.array([-1, -1, -1, t.shape[3]], dtype=np.int32)


def test_dynamic_image_size_takes_the_stored_shape(tmp_path):
    path = _edited(tmp_path, FIXTURES / "resnet_f32.tflite", _dynamic_image)
    name = load(FIXTURES / "resnet_f32.tflite").inputs[0]
    g = load(path)  # every dynamic dim takes the stored shape
    assert g.tensors[name].shape == load(FIXTURES / "resnet_f32.tflite").tensors[name].shape
    assert g.meta["dynamic_dims_resolved"][0]["dims"] == [0, 1, 2]
    with pytest.raises(BadInput, match="shape propagation, not supported"):
        load(path, {name: (1, 32, 32, 3)})
    assert load(path, {name: (2, 64, 64, 3)}).tensors[name].shape == (2, 64, 64, 3)


def _set_code(model, op: int, code: int) -> None:
    model.operatorCodes.append(schema_fb.OperatorCodeT())
    model.operatorCodes[-1].builtinCode = code
    model.operatorCodes[-1].deprecatedBuiltinCode = min(code, 127)
    model.subgraphs[0].operators[op].opcodeIndex = len(model.operatorCodes) - 1


def _set_input(op, index: int) -> None:
    op.inputs = np.array([index, *op.inputs[1:]], dtype=np.int32)


def _two_writers(model) -> None:
    ops = model.subgraphs[0].operators
    ops[1].outputs = np.array(ops[0].outputs, dtype=np.int32)


def _activation_index(model) -> int:
    return model.subgraphs[0].operators[0].outputs[0]


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: _set_code(m, 0, schema_fb.BuiltinOperator.WHILE), r"control flow in operator 0"),
        (lambda m: setattr(m.subgraphs[0].operators[0], "opcodeIndex", 999), "uses opcode 999"),
        (lambda m: _set_input(m.subgraphs[0].operators[0], 10**6), "tensor 1000000"),
        (
            lambda m: setattr(
                m.subgraphs[0].tensors[_activation_index(m)],
                "shape",
                np.array([1 << 20, 1 << 20, 1 << 20], dtype=np.int32),
            ),
            "sane limit",
        ),
        (
            lambda m: setattr(
                m.subgraphs[0].tensors[_activation_index(m)], "shape", np.array([-3], np.int32)
            ),
            "invalid dimension",
        ),
        (lambda m: setattr(m.subgraphs[0].tensors[0], "buffer", 10**6), "buffer 1000000"),
        (_two_writers, "written by operators 0 and 1"),
        (lambda m: setattr(m.subgraphs[0].tensors[0], "type", schema_fb.TensorType.INT4), "INT4"),
        (lambda m: setattr(m, "subgraphs", []), "no subgraph"),
    ],
    ids=["while", "opcode", "tensor", "huge", "negative", "buffer", "writers", "int4", "empty"],
)
def test_edited_models_are_refused(tmp_path, edit, message):
    path = _edited(tmp_path, SMALL, edit)
    with pytest.raises(BadInput, match=message):
        load(path)


def test_read_model_never_changes_the_file(tmp_path):
    before = SMALL.read_bytes()
    model = read_model(SMALL)
    model.description = b"changed"
    assert SMALL.read_bytes() == before
    assert isinstance(model, schema_fb.ModelT)


# --- bytes that are not a model ---------------------------------------------


def _refused(tmp_path: Path, data: bytes, name: str = "bad.tflite") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(BadInput) as e:
        load(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_random_and_empty_files(tmp_path):
    rng = random.Random(7)
    _refused(tmp_path, b"")
    _refused(tmp_path, rng.randbytes(5000))
    _refused(tmp_path, rng.randbytes(5000), "bad.bin")
    for size in (0, 1, 12, 100, 5000):
        msg = _refused(tmp_path, rng.randbytes(4) + b"TFL3" + rng.randbytes(size))
        assert "not a valid TFLite model" in msg


@pytest.mark.parametrize("path", MODELS[:4], ids=lambda p: p.name)
def test_truncated_files(tmp_path, path):
    data = path.read_bytes()
    cuts = {8, 9, 64, 1000, len(data) // 3, len(data) // 2, len(data) - 16, len(data) - 1}
    for cut in sorted(c for c in cuts if c < len(data)):
        _refused(tmp_path, data[:cut])


def test_flipped_bytes_never_escape_as_other_errors(tmp_path):
    """Corrupt headers either still load or give BadInput - nothing else."""
    data = bytearray(SMALL.read_bytes())
    rng = random.Random(3)
    path = tmp_path / "flipped.tflite"
    for _ in range(60):
        b = bytearray(data)
        for _ in range(8):
            b[rng.randrange(8, 2048)] = rng.randrange(256)
        path.write_bytes(bytes(b))
        try:
            load(path)
        except BadInput:
            pass


def _rename_and_mark(model) -> None:
    sub = model.subgraphs[0]
    act = _activation_index(model)
    sub.tensors[act].isVariable = True
    sub.tensors[1].name = sub.tensors[2].name
    sub.tensors[3].name = b""
    _set_code(model, 0, schema_fb.BuiltinOperator.CUSTOM)
    model.operatorCodes[-1].customCode = b"MyOp"
    plan = np.array([1, 1, len(sub.tensors), *([-1] * len(sub.tensors))], dtype="<i4")
    buf = schema_fb.BufferT()
    buf.data = plan.view(np.uint8)
    model.buffers.append(buf)
    entry = schema_fb.MetadataT()
    entry.name, entry.buffer = b"OfflineMemoryAllocation", len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]


def test_names_variables_custom_ops_and_offline_plan(tmp_path):
    g = load(_edited(tmp_path, SMALL, _rename_and_mark))
    by_index = _by_index(g)
    raw = read_model(SMALL).subgraphs[0].tensors
    assert by_index[1].name == raw[2].name.decode()  # the first keeps the name
    assert by_index[2].name == raw[2].name.decode() + "#2"  # the repeat gets its index
    assert by_index[3].name == "tensor#3"
    act = g.operators[0].outputs[0]
    assert g.tensors[act].role in (Role.ACTIVATION, Role.OUTPUT)
    assert g.meta["variables"] == (act,)
    assert g.operators[0].type == "CUSTOM:MyOp"
    n = len(g.tensors)
    assert g.meta["offline_memory_allocation"] == (1, 1, n, *([-1] * n))
    assert "OfflineMemoryAllocation" in g.meta["metadata"]


def test_overlapping_vectors_are_refused_quickly(tmp_path):
    """Thousands of operators sharing one long inputs vector: a reader without
    a work budget would copy it thousands of times."""
    b = flatbuffers.Builder(0)
    vec = b.CreateNumpyVector(np.zeros(100_000, dtype=np.int32))
    ops = []
    for _ in range(3000):
        schema_fb.OperatorStart(b)
        schema_fb.OperatorAddInputs(b, vec)
        ops.append(schema_fb.OperatorEnd(b))
    schema_fb.SubGraphStartOperatorsVector(b, len(ops))
    for op in reversed(ops):
        b.PrependUOffsetTRelative(op)
    op_vector = b.EndVector()
    schema_fb.SubGraphStart(b)
    schema_fb.SubGraphAddOperators(b, op_vector)
    sub = schema_fb.SubGraphEnd(b)
    schema_fb.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(sub)
    subs = b.EndVector()
    schema_fb.ModelStart(b)
    schema_fb.ModelAddVersion(b, 3)
    schema_fb.ModelAddSubgraphs(b, subs)
    b.Finish(schema_fb.ModelEnd(b), file_identifier=b"TFL3")
    t0 = time.perf_counter()
    msg = _refused(tmp_path, bytes(b.Output()))
    assert "overlap" in msg
    assert time.perf_counter() - t0 < 2.0
