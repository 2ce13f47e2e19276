"""Build the small operator zoo the DMO tests use: tests/fixtures/dmo/ops_*.tflite.

Run with the TensorFlow venv, never infermem's own:

    /work/tfvenv/bin/python scripts/make_dmo_fixtures.py

The real-architecture fixtures cover CONV_2D, DEPTHWISE_CONV_2D, pooling,
FULLY_CONNECTED, ADD, MUL, HARD_SWISH, MEAN, CONCATENATION, RESHAPE and
RESIZE_NEAREST_NEIGHBOR.  This chain adds the other operators the DMO rules
claim: PAD, TRANSPOSE, RELU, LOGISTIC, TANH, SUB (with a broadcast operand),
SOFTMAX, a dilated and a strided convolution with VALID padding, and, in the
int8 model with float input and output, QUANTIZE and DEQUANTIZE.  Weights are
seeded random; the script is deterministic and rewrites a file only when its
bytes change.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dmo"
SHAPE = (1, 12, 10, 4)


def build() -> tf.Module:
    rng = np.random.default_rng(1234)
    w1 = tf.constant(rng.standard_normal((3, 3, 4, 8)).astype(np.float32) * 0.3)
    w2 = tf.constant(rng.standard_normal((3, 3, 8, 6)).astype(np.float32) * 0.3)
    w3 = tf.constant(rng.standard_normal((2, 2, 6, 6)).astype(np.float32) * 0.3)
    shift = tf.constant(rng.standard_normal((1, 1, 1, 6)).astype(np.float32))

    class Ops(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec(SHAPE, tf.float32)])
        def __call__(self, x):
            x = tf.pad(x, [[0, 0], [1, 1], [2, 1], [0, 0]])  # PAD
            x = tf.nn.conv2d(x, w1, 1, "VALID")  # CONV_2D
            x = tf.transpose(x, [0, 2, 1, 3])  # TRANSPOSE
            x = tf.nn.relu(x)  # RELU
            x = tf.nn.conv2d(x, w2, 1, "SAME", dilations=2)  # dilated CONV_2D
            x = tf.sigmoid(x) - shift  # LOGISTIC, SUB (broadcast)
            x = tf.nn.conv2d(x, w3, 2, "VALID")  # strided CONV_2D
            x = tf.nn.relu(tf.tanh(x))  # TANH, RELU
            return tf.nn.softmax(x, axis=-1)  # SOFTMAX

    return Ops()


def convert(module: tf.Module, int8: bool) -> bytes:
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module
    )
    if int8:
        rng = np.random.default_rng(99)

        def data():
            for _ in range(16):
                yield [rng.uniform(-1, 1, SHAPE).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = data
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    m = build()
    for name, int8 in (("ops_f32.tflite", False), ("ops_int8.tflite", True)):
        data = convert(m, int8)
        path = OUT / name
        if path.exists() and path.read_bytes() == data:
            print(f"unchanged {path}")
        else:
            path.write_bytes(data)
            print(f"wrote {path} ({len(data)} B)")


if __name__ == "__main__":
    main()
