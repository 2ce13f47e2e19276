"""A bundled example model, so `infermem` can be tried without bringing one.

The files are a MobileNetV1 (alpha 0.25, 96x96x3 input, 10 logits) with seeded
random weights, quantized to full int8, as `.tflite` and as its QDQ ONNX twin
(converted from that `.tflite` by tf2onnx). They are made by
scripts/make_fixtures.py; the weights are random, so only memory figures are
meaningful, not predictions.
"""

from __future__ import annotations

import pathlib
from importlib import resources

from infermem.errors import BadInput

FILES = {"tflite": "mobilenet_v1_int8.tflite", "onnx": "mobilenet_v1_int8.onnx"}


def example_path(fmt: str = "tflite") -> pathlib.Path:
    """Path of the bundled example model in format `fmt` ("tflite" or "onnx").

    A plain path (not a context manager) because callers hand it to loaders and
    runtimes that want a filename; wheels and editable installs keep package
    data as real files, so the path stays valid.
    """
    if fmt not in FILES:
        raise BadInput(f"no bundled example in format {fmt!r}; choose one of {sorted(FILES)}")
    return pathlib.Path(str(resources.files(__package__) / FILES[fmt]))
