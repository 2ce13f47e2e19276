"""The fixture zoo is what every other test trusts: check it against real runtimes.

Each file in tests/fixtures/manifest.json must exist, be what it claims, and run
in its reference runtime (LiteRT for .tflite, onnxruntime for .onnx) with the
declared inputs and outputs. Every .tflite must also run in TFLite Micro and
agree with LiteRT's reference kernels, and ONNX twins must agree with their
.tflite. Regenerate the zoo with `/work/tfvenv/bin/python scripts/make_fixtures.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from tflite_micro.python.tflite_micro import runtime as tflm

from infermem.errors import BadInput
from infermem.examples import example_path

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
BY_FILE = {e["file"]: e for e in MANIFEST}
TFLITE = [e for e in MANIFEST if e["format"] == "tflite"]
ONNX = [e for e in MANIFEST if e["format"] == "onnx"]
TFLM_ARENA = 8 << 20  # generous: these tests check results, not arena size


def ids(entries: list[dict]) -> list[str]:
    return [e["file"] for e in entries]


def concrete(shape: list, batch: int = 1) -> tuple[int, ...]:
    """A declared shape with symbolic dimensions (strings) bound to `batch`."""
    return tuple(batch if isinstance(d, str) else d for d in shape)


def random_inputs(entry: dict, batch: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(1234)
    out = []
    for spec in entry["inputs"]:
        shape = concrete(spec["shape"], batch)
        if spec["dtype"] == "int8":
            out.append(rng.integers(-128, 128, shape, dtype=np.int8))
        else:
            out.append(rng.uniform(-1.0, 1.0, shape).astype(spec["dtype"]))
    return out


def run_litert(path: Path, xs: list[np.ndarray], reference_kernels: bool) -> list[np.ndarray]:
    resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    for detail, x in zip(interp.get_input_details(), xs, strict=True):
        interp.set_tensor(detail["index"], x)
    interp.invoke()
    return [interp.get_tensor(d["index"]) for d in interp.get_output_details()]


def run_tflm(path: Path, xs: list[np.ndarray], n_outputs: int) -> list[np.ndarray]:
    interp = tflm.Interpreter.from_file(str(path), arena_size=TFLM_ARENA)
    for i, x in enumerate(xs):
        interp.set_input(x, i)
    interp.invoke()
    return [interp.get_output(i) for i in range(n_outputs)]


def run_onnx(path: Path, entry: dict, xs: list[np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {s["name"]: x for s, x in zip(entry["inputs"], xs, strict=True)})


def check_outputs(entry: dict, outs: list[np.ndarray], batch: int = 1) -> None:
    assert len(outs) == len(entry["outputs"])
    for spec, out in zip(entry["outputs"], outs, strict=True):
        assert out.shape == concrete(spec["shape"], batch)
        assert out.dtype == np.dtype(spec["dtype"])
        assert np.all(np.isfinite(out))
        assert out.min() < out.max(), "constant output: random weights degenerated"


def test_manifest_lists_every_fixture_file() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if p.suffix in (".tflite", ".onnx")}
    assert on_disk == set(BY_FILE)
    assert len(BY_FILE) == len(MANIFEST), "duplicate manifest entries"


@pytest.mark.parametrize("entry", MANIFEST, ids=ids(MANIFEST))
def test_fixture_is_its_declared_format(entry: dict) -> None:
    data = (FIXTURES / entry["file"]).read_bytes()
    assert len(data) < 2 << 20
    if entry["format"] == "tflite":
        assert data[4:8] == b"TFL3"
    else:
        onnx.checker.check_model(onnx.load_from_string(data))


@pytest.mark.parametrize("entry", TFLITE, ids=ids(TFLITE))
def test_tflite_io_matches_manifest(entry: dict) -> None:
    interp = Interpreter(model_path=str(FIXTURES / entry["file"]))
    for specs, details in ((entry["inputs"], interp.get_input_details()),
                           (entry["outputs"], interp.get_output_details())):
        seen = [{"name": d["name"], "shape": d["shape"].tolist(),
                 "dtype": np.dtype(d["dtype"]).name} for d in details]
        assert seen == specs
        assert all(s["dtype"] == entry["dtype"] for s in specs)


def op_types(path: Path) -> set[str]:
    """Builtin operator names used by a .tflite (read with TFLM's own schema)."""
    model = tflm.convert_bytearray_to_object(bytearray(path.read_bytes()))
    names = {v: k for k, v in vars(tflm.schema_fb.BuiltinOperator).items()
             if not k.startswith("_")}
    return {names[tflm.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])]
            for sg in model.subgraphs for op in sg.operators or []}


@pytest.mark.parametrize("entry", TFLITE, ids=ids(TFLITE))
def test_tflite_runs_in_litert_and_tflm(entry: dict) -> None:
    """TFLM runs LiteRT's reference kernels, so the two must agree.

    Measured on 20 seeded inputs per int8 model: bit-identical for every model
    without FULLY_CONNECTED. TFLM's int8 FULLY_CONNECTED rounds some results
    near a tie differently from LiteRT's (1 LSB per layer), which reaches
    2 LSB at the autoencoder's output (ten FC layers) and 1 LSB after the final
    FC of mobilenet_v2 / resnet. LiteRT's default (XNNPACK) int8 kernels
    requantize differently and, through these random-weight nets, end up to
    ~50 LSB away, so they are only the "runs at all" check here.
    """
    path = FIXTURES / entry["file"]
    xs = random_inputs(entry)
    check_outputs(entry, run_litert(path, xs, reference_kernels=False))
    reference = run_litert(path, xs, reference_kernels=True)
    micro = run_tflm(path, xs, len(entry["outputs"]))
    check_outputs(entry, micro)
    exact = entry["dtype"] != "int8" or "FULLY_CONNECTED" not in op_types(path)
    for want, got in zip(reference, micro, strict=True):
        if entry["dtype"] == "float32":
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        elif exact:
            np.testing.assert_array_equal(got, want)
        else:
            diff = np.abs(want.astype(np.int32) - got.astype(np.int32))
            assert diff.max() <= 2
            assert np.count_nonzero(diff) <= max(1, diff.size // 100)


@pytest.mark.parametrize("entry", ONNX, ids=ids(ONNX))
def test_onnx_runs_in_onnxruntime(entry: dict) -> None:
    proto = onnx.load(str(FIXTURES / entry["file"]))
    assert [i.name for i in proto.graph.input] == [s["name"] for s in entry["inputs"]]
    assert proto.opset_import[0].version >= 13
    check_outputs(entry, run_onnx(FIXTURES / entry["file"], entry, random_inputs(entry)))


def test_dynamic_batch_onnx_is_symbolic_and_runs_batched() -> None:
    entry = BY_FILE["mobilenet_v1_dynbatch.onnx"]
    dim = onnx.load(str(FIXTURES / entry["file"])).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param and not dim.dim_value
    xs = random_inputs(entry, batch=2)
    check_outputs(entry, run_onnx(FIXTURES / entry["file"], entry, xs), batch=2)


def test_every_other_onnx_has_static_shapes() -> None:
    for entry in ONNX:
        if entry["file"] != "mobilenet_v1_dynbatch.onnx":
            assert all(isinstance(d, int) for s in entry["inputs"] for d in s["shape"])


def test_qdq_onnx_is_quantized() -> None:
    proto = onnx.load(str(FIXTURES / "mobilenet_v1_int8_qdq.onnx"))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def nhwc_to_onnx(x: np.ndarray, onnx_shape: list) -> np.ndarray:
    """Feed an NHWC .tflite input to an ONNX twin whose input may be NCHW."""
    if x.ndim == 4 and tuple(onnx_shape) != x.shape:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


FLOAT_TWINS = [e for e in ONNX if e["dtype"] == "float32" and "dynbatch" not in e["file"]]


@pytest.mark.parametrize("entry", FLOAT_TWINS, ids=ids(FLOAT_TWINS))
def test_float_onnx_twin_matches_float_tflite(entry: dict) -> None:
    twin = BY_FILE[f"{entry['architecture']}_f32.tflite"]
    xs = random_inputs(twin)
    want = run_litert(FIXTURES / twin["file"], xs, reference_kernels=True)
    feed = [nhwc_to_onnx(x, s["shape"]) for x, s in zip(xs, entry["inputs"], strict=True)]
    got = run_onnx(FIXTURES / entry["file"], entry, feed)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


def test_qdq_onnx_twin_is_close_to_int8_tflite() -> None:
    """onnxruntime's QDQ kernels requantize like XNNPACK, not like TFLM.

    Measured on 20 seeded inputs: at most 7 LSB from LiteRT's default (XNNPACK)
    output, up to ~30 from its reference kernels (random weights amplify
    rounding differences). A twin with other weights would be ~100 LSB off.
    """
    entry = BY_FILE["mobilenet_v1_int8_qdq.onnx"]
    xs = random_inputs(BY_FILE["mobilenet_v1_int8.tflite"])
    want = run_litert(FIXTURES / "mobilenet_v1_int8.tflite", xs, reference_kernels=False)[0]
    got = run_onnx(FIXTURES / entry["file"], entry, xs)[0]
    assert np.abs(want.astype(np.int32) - got.astype(np.int32)).max() <= 8


@pytest.mark.parametrize("fmt, fixture", [("tflite", "mobilenet_v1_int8.tflite"),
                                          ("onnx", "mobilenet_v1_int8_qdq.onnx")])
def test_bundled_example_is_the_fixture(fmt: str, fixture: str) -> None:
    path = example_path(fmt)
    assert path.suffix == f".{fmt}"
    assert path.stat().st_size < 1 << 20
    assert path.read_bytes() == (FIXTURES / fixture).read_bytes()


def test_example_path_rejects_unknown_format() -> None:
    with pytest.raises(BadInput):
        example_path("pt")
