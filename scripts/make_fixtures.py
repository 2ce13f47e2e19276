"""Build infermem's fixture model zoo into tests/fixtures/ (and the bundled example).

Run with the TensorFlow venv, never infermem's own:

    /work/tfvenv/bin/python scripts/make_fixtures.py

Each architecture in fixture_archs.ARCHS gets seeded random weights and is
converted to a float32 and a full-integer int8 .tflite (int8 input and output).
Some get ONNX twins via tf2onnx: float NCHW ones, a QDQ one converted from the
int8 .tflite, and one with a symbolic batch dimension. Weights are random: the
files exist to exercise memory planning, not accuracy. The script is
deterministic (fixed seeds) and idempotent (a file is rewritten only when its
bytes change). tests/fixtures/manifest.json describes every file.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
from keras.utils import set_random_seed  # noqa: E402

sys.dont_write_bytecode = True  # leave no scripts/__pycache__ behind
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_archs import ARCHS, Arch, calibrate_batchnorm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "src" / "infermem" / "examples"
OPSET = 13
CALIBRATION_SAMPLES = 16
FLOAT_ONNX = ("mobilenet_v1", "mobilenet_v2", "resnet", "inception_block", "ds_cnn",
              "autoencoder")
QDQ_ONNX = "mobilenet_v1"
DYNBATCH_ONNX = "mobilenet_v1"


def seed_of(name: str) -> int:
    """A stable per-model seed, so adding a model never changes the others."""
    return zlib.crc32(name.encode())


def write_if_changed(path: Path, data: bytes) -> None:
    """Idempotence: leave the file (and its mtime) alone when nothing changed."""
    if path.exists() and path.read_bytes() == data:
        print(f"  unchanged {path.relative_to(ROOT)} ({len(data)} B)")
        return
    path.write_bytes(data)
    print(f"  wrote     {path.relative_to(ROOT)} ({len(data)} B)")


def serving_fn(model, arch: Arch, batch: int | None = 1):
    """The model as a tf.function with an explicit signature (fixed batch 1 by default)."""
    spec = tf.TensorSpec((batch, *arch.input_shape), tf.float32, name="input")

    @tf.function(input_signature=[spec])
    def serve(x):
        return model(x, training=False)

    return serve, [spec]


def calibration_data(arch: Arch):
    """Seeded uniform(-1, 1) samples: the representative dataset for int8."""
    rng = np.random.default_rng(seed_of(arch.name) + 1)

    def gen():
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, (1, *arch.input_shape)).astype(np.float32)]

    return gen


def to_tflite(model, arch: Arch, int8: bool) -> bytes:
    serve, _ = serving_fn(model, arch)
    conv = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    if int8:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = calibration_data(arch)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        # Per-tensor FULLY_CONNECTED weights (as in the MLPerf Tiny reference models):
        # with per-channel ones TFLM and LiteRT's reference kernels round differently
        # (1 LSB per layer), and the fixtures promise TFLM == LiteRT bit for bit.
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def rename_io(model: onnx.ModelProto, names: dict[str, str]) -> onnx.ModelProto:
    """Replace tf2onnx's 'input:0'-style graph input/output names with plain ones."""
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    return model


def canonical_names(model: onnx.ModelProto) -> onnx.ModelProto:
    """Make tf2onnx's output reproducible byte for byte.

    tf2onnx numbers generated names ('Conv__123') from a global counter and keeps
    an arbitrary one of several identical constants, both differently from run to
    run. So initializers become const_<k> and generated names are renumbered, in
    order of first use; names taken from the TF graph stay readable.
    """
    generated = re.compile(r"__\d+")
    inits = {t.name for t in model.graph.initializer}
    mapping: dict[str, str] = {}

    def canon(name: str) -> str:
        if name in mapping or not name:
            return mapping.get(name, name)
        if name in inits:
            mapping[name] = f"const_{sum(v.startswith('const_') for v in mapping.values())}"
        elif generated.search(name):
            mapping[name] = generated.sub("", name) + f"__{len(mapping)}"
        return mapping.get(name, name)

    for node in model.graph.node:
        node.input[:] = [canon(n) for n in node.input]
        node.output[:] = [canon(n) for n in node.output]
        node.name = canon(node.name)
    ordered = sorted(model.graph.initializer, key=lambda t: int(canon(t.name).split("_")[1]))
    for t in ordered:
        t.name = canon(t.name)
    del model.graph.initializer[:]
    model.graph.initializer.extend(ordered)
    return model


def plain_io_names(model: onnx.ModelProto) -> onnx.ModelProto:
    ins = [v.name for v in model.graph.input]
    outs = [v.name for v in model.graph.output]
    names = {n: "input" if len(ins) == 1 else f"input_{i}" for i, n in enumerate(ins)}
    names |= {n: "output" if len(outs) == 1 else f"output_{i}" for i, n in enumerate(outs)}
    return canonical_names(rename_io(model, names))


def onnx_from_keras(model, arch: Arch, batch: int | None) -> bytes:
    """Float ONNX via tf2onnx; image models get an NCHW input like most real ONNX."""
    serve, spec = serving_fn(model, arch, batch)
    nchw = ["input:0"] if len(arch.input_shape) == 3 else None
    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=OPSET,
                                             inputs_as_nchw=nchw)
    proto = plain_io_names(proto)
    if batch is None:
        for value in list(proto.graph.input) + list(proto.graph.output):
            value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def onnx_from_tflite(tflite_bytes: bytes) -> bytes:
    """QDQ ONNX: tf2onnx keeps int8 tensors as QuantizeLinear/DequantizeLinear pairs."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(tflite_bytes)
        proto, _ = tf2onnx.convert.from_tflite(str(path), opset=OPSET)
    proto = plain_io_names(proto)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def tflite_io(data: bytes) -> tuple[list[dict], list[dict]]:
    interp = tf.lite.Interpreter(model_content=data)

    def describe(details):
        return [{"name": d["name"], "shape": [int(s) for s in d["shape"]],
                 "dtype": np.dtype(d["dtype"]).name} for d in details]

    return describe(interp.get_input_details()), describe(interp.get_output_details())


def onnx_io(data: bytes) -> tuple[list[dict], list[dict]]:
    proto = onnx.load_from_string(data)

    def describe(values):
        out = []
        for v in values:
            t = v.type.tensor_type
            shape = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)).name
            out.append({"name": v.name, "shape": shape, "dtype": dtype})
        return out

    return describe(proto.graph.input), describe(proto.graph.output)


def entry(file: str, fmt: str, dtype: str, arch: Arch, data: bytes, made_by: str) -> dict:
    inputs, outputs = tflite_io(data) if fmt == "tflite" else onnx_io(data)
    return {"file": file, "format": fmt, "dtype": dtype, "architecture": arch.name,
            "description": arch.description, "inputs": inputs, "outputs": outputs,
            "branches": arch.branches, "made_by": made_by}


def build_arch(arch: Arch) -> list[dict]:
    """Every file for one architecture; returns their manifest entries."""
    print(arch.name)
    set_random_seed(seed_of(arch.name))
    model = arch.build()
    calibrate_batchnorm(model, arch.input_shape, seed_of(arch.name) + 2)
    made: list[dict] = []

    def emit(file: str, fmt: str, dtype: str, data: bytes, how: str) -> None:
        write_if_changed(FIXTURES / file, data)
        made.append(entry(file, fmt, dtype, arch, data, how))

    f32 = to_tflite(model, arch, int8=False)
    emit(f"{arch.name}_f32.tflite", "tflite", "float32", f32, "keras -> TFLiteConverter")
    i8 = to_tflite(model, arch, int8=True)
    emit(f"{arch.name}_int8.tflite", "tflite", "int8", i8,
         "keras -> TFLiteConverter full-integer int8, seeded random calibration")
    if arch.name in FLOAT_ONNX:
        emit(f"{arch.name}_f32.onnx", "onnx", "float32", onnx_from_keras(model, arch, 1),
             f"keras -> tf2onnx opset {OPSET}, NCHW input, batch 1")
    if arch.name == DYNBATCH_ONNX:
        emit(f"{arch.name}_dynbatch.onnx", "onnx", "float32",
             onnx_from_keras(model, arch, None),
             f"keras -> tf2onnx opset {OPSET}, NCHW input, symbolic batch dimension")
    if arch.name == QDQ_ONNX:
        emit(f"{arch.name}_int8_qdq.onnx", "onnx", "int8", onnx_from_tflite(i8),
             f"int8 tflite -> tf2onnx --tflite opset {OPSET}: QDQ, NHWC int8 input")
    return made


def bundle_example() -> None:
    """The package's bundled example: the int8 MobileNetV1 and its QDQ ONNX twin."""
    for src, dst in (("mobilenet_v1_int8.tflite", "mobilenet_v1_int8.tflite"),
                     ("mobilenet_v1_int8_qdq.onnx", "mobilenet_v1_int8.onnx")):
        data = (FIXTURES / src).read_bytes()
        write_if_changed(EXAMPLES / dst, data)


def main() -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    manifest = [e for arch in ARCHS for e in build_arch(arch)]
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]",
                  json.dumps(manifest, indent=2)) + "\n"  # one-line shapes
    write_if_changed(FIXTURES / "manifest.json", text.encode())
    bundle_example()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
