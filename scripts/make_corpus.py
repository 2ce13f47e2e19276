"""Build infermem's real-world model corpus into tests/corpus/ (with manifest.json).

Run with the generation venv, never infermem's own (TensorFlow and PyTorch are
not infermem dependencies):

    python3 -m venv /work/venv-tf
    /work/venv-tf/bin/pip install tensorflow-cpu tf2onnx onnx onnxruntime ai-edge-litert \
        torch==2.13.0
    /work/venv-tf/bin/python scripts/make_corpus.py [--only NAME,...]

The fixtures (make_fixtures.py) are shaped for infermem; these files are shaped
like what users bring: Keras applications converted with TFLiteConverter's
defaults (batch -1 in the shape signature) in float and full-int8, PyTorch
exports with dynamic axes (torchvision, ultralytics, Hugging Face style), a
Paddle-style export with `dim_value: -1`, tf2onnx conversions with `unk__`
dims and NHWC transposes, recurrent audio models. Weights are random but
BatchNorm statistics are calibrated, and every file is checked in its
reference runtime (LiteRT / onnxruntime): it loads, runs at the shapes the
manifest gives, and its outputs vary with the input. Deterministic (fixed
seeds); a file is rewritten only when its bytes change.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
import torch  # noqa: E402
from keras.utils import set_random_seed  # noqa: E402

sys.dont_write_bytecode = True  # leave no scripts/__pycache__ behind
sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_check import check_onnx, check_tflite, tflite_io  # noqa: E402
from corpus_keras import KERAS_MODELS, KerasSpec  # noqa: E402
from corpus_torch import TORCH_MODELS, TorchSpec, calibrate_torch_bn  # noqa: E402
from fixture_archs import calibrate_batchnorm  # noqa: E402
from make_fixtures import canonical_names, onnx_io, seed_of, write_if_changed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
CALIBRATION_SAMPLES = 16
TF2ONNX = {"mobilenet_v2": 13, "resnet8": 13}  # Keras models also converted by tf2onnx (opset)


def uniform_batch(rng, spec: KerasSpec, n: int, shape) -> np.ndarray:
    return rng.uniform(*spec.input_range, (n, *shape)).astype(np.float32)


def keras_tflite(model, spec: KerasSpec, int8: bool) -> bytes:
    """TFLiteConverter.from_keras_model with its defaults; int8 as MCU users set it."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(seed_of(spec.name) + 1)
        shape = model.input_shape[1:]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: (
            [uniform_batch(rng, spec, 1, shape)] for _ in range(CALIBRATION_SAMPLES))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def keras_tf2onnx(model, opset: int) -> bytes:
    """tf2onnx as its README shows it: from_keras, NHWC input, batch left dynamic."""
    spec = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="input"),)

    @tf.function(input_signature=spec)
    def serve(x):
        return model(x, training=False)

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset)
    proto = canonical_names(proto)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def build_keras(spec: KerasSpec) -> list[dict]:
    print(spec.name, flush=True)
    keras.backend.clear_session()  # layer/tensor names restart, so files do not depend on --only
    set_random_seed(seed_of(spec.name))
    model = spec.build()
    calibrate_batchnorm(model, model.input_shape[1:], seed_of(spec.name) + 2, spec.input_range)
    rng = spec.input_range
    about = {"architecture": spec.name, "description": spec.description,
             "real_world": spec.real_world, "value_ranges": rng}
    made = []
    for dtype, int8 in (("float32", False), ("int8", True)):
        data = keras_tflite(model, spec, int8)
        how = "keras -> TFLiteConverter.from_keras_model, default settings"
        if int8:
            how += ("; full-integer int8 (Optimize.DEFAULT, representative dataset of "
                    f"{CALIBRATION_SAMPLES} seeded samples, int8 input/output)")
        made.append(emit(f"{spec.name}_{'f32' if not int8 else 'int8'}.tflite", "tflite",
                         dtype, data, about | {"made_by": how, "run_shapes": None,
                                               "reference_check": check_tflite(data, rng)}))
    if spec.name in TF2ONNX:
        opset = TF2ONNX[spec.name]
        data = keras_tf2onnx(model, opset)
        shapes = {"input": [1, *model.input_shape[1:]]}
        made.append(emit(f"{spec.name}_tf2onnx.onnx", "onnx", "float32", data, about | {
            "made_by": f"keras -> tf2onnx.convert.from_function opset {opset}, NHWC input, "
                       "batch None",
            "real_world": "tf2onnx's own output: NHWC input with Transposes around every "
                          "convolution, symbolic 'unk__' batch dimension",
            "run_shapes": shapes, "reference_check": check_onnx(data, shapes, rng)}))
    return made


def torch_onnx(model: torch.nn.Module, spec: TorchSpec, args: tuple) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(model, args, buf, input_names=list(spec.inputs),
                      output_names=list(spec.outputs), dynamic_axes=spec.dynamic_axes,
                      opset_version=spec.opset, dynamo=False, do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    if spec.minus_one_dims:
        proto = paddle_dims(proto)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def paddle_dims(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Paddle2ONNX's way of saying 'dynamic': every symbolic dim becomes dim_value -1."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.ClearField("dim_param")
                dim.dim_value = -1
    return proto


def build_torch(spec: TorchSpec) -> list[dict]:
    print(spec.name, flush=True)
    torch.manual_seed(seed_of(spec.name))
    model = spec.build()
    calibrate_torch_bn(model, spec)
    model.eval()
    data = torch_onnx(model, spec, spec.example_args())
    about = {"architecture": spec.name, "description": spec.description,
             "real_world": spec.real_world, "made_by": spec.made_by,
             "run_shapes": spec.run_shapes, "value_ranges": spec.ranges()}
    check = check_onnx(data, spec.run_shapes, spec.ranges())
    made = [emit(f"{spec.name}.onnx", "onnx", "float32", data,
                 about | {"reference_check": check})]
    if spec.qdq:
        qdq = ort_qdq(data, spec)
        made.append(emit(f"{spec.name}_int8_qdq.onnx", "onnx", "int8", qdq, about | {
            "made_by": spec.made_by + "; onnxruntime.quantization.quantize_static QDQ, "
                       f"per-channel int8 weights, int8 activations, {CALIBRATION_SAMPLES} "
                       "seeded calibration samples",
            "real_world": "the quantization users run on an ONNX export themselves: "
                          "QuantizeLinear/DequantizeLinear pairs around float operators, "
                          "float input and output, dynamic batch kept",
            "reference_check": check_onnx(qdq, spec.run_shapes, spec.ranges())}))
    return made


def ort_qdq(data: bytes, spec: TorchSpec) -> bytes:
    """Static QDQ quantization with onnxruntime's quantizer, calibrated on seeded inputs."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            torch.manual_seed(seed_of(spec.name) + 3)
            self.samples = iter([{n: a.numpy() for n, a in zip(spec.inputs, spec.example_args(),
                                                               strict=True)}
                                 for _ in range(CALIBRATION_SAMPLES)])

        def get_next(self):
            return next(self.samples, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "qdq.onnx"
        src.write_bytes(data)
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8)
        return dst.read_bytes()


def emit(file: str, fmt: str, dtype: str, data: bytes, about: dict) -> dict:
    """Write one corpus file and return its manifest entry.

    `about` holds architecture, description, real_world, made_by, run_shapes,
    reference_check and value_ranges (one range for every input, or one per
    input name: the float range before any quantization, or [low, high) of
    integer ids and masks).
    """
    write_if_changed(CORPUS / file, data)
    inputs, outputs = tflite_io(data) if fmt == "tflite" else onnx_io(data)
    ranges = about["value_ranges"]
    if not isinstance(ranges, dict):
        ranges = {i["name"]: list(ranges) for i in inputs}
    return {"file": file, "format": fmt, "dtype": dtype,
            **{k: about[k] for k in ("architecture", "description", "real_world", "made_by")},
            "inputs": inputs, "outputs": outputs, "run_shapes": about["run_shapes"],
            "value_ranges": {n: list(r) for n, r in ranges.items()}, "bytes": len(data),
            "reference_check": about["reference_check"]}


def write_manifest(entries: list[dict]) -> None:
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]",
                  lambda m: "[" + re.sub(r"\s+", " ", m.group(1)) + "]",
                  json.dumps(entries, indent=2)) + "\n"  # one-line shapes
    write_if_changed(CORPUS / "manifest.json", text.encode())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated model names to rebuild (others kept)")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    CORPUS.mkdir(parents=True, exist_ok=True)
    old = {}
    if (CORPUS / "manifest.json").exists():
        old = {e["file"]: e for e in json.loads((CORPUS / "manifest.json").read_text())}
    entries: list[dict] = []
    for spec in (*KERAS_MODELS, *TORCH_MODELS):
        if only is None or spec.name in only:
            build = build_keras if isinstance(spec, KerasSpec) else build_torch
            entries += build(spec)
        else:
            entries += [e for e in old.values() if e["architecture"] == spec.name]
    write_manifest(entries)
    total = sum(e["bytes"] for e in entries)
    print(f"{len(entries)} files, {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
