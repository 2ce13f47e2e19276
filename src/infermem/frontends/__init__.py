"""Model file -> Graph.  Picks the frontend from the file's bytes, not its name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import BadInput
from ..gcpause import paused_gc
from ..graph import Graph


def sniff_format(path: Path) -> str:
    """'tflite' if the flatbuffer identifier TFL3 is at byte 4, else 'onnx'
    if the name says so; anything else is refused."""
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) >= 8 and head[4:8] == b"TFL3":
        return "tflite"
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if path.suffix.lower() == ".tflite":
        raise BadInput(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    raise BadInput(f"{path}: neither an ONNX (.onnx) nor a TFLite (.tflite) model")


def load(path: str | Path, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    path = Path(path)
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if not path.is_file():
        raise BadInput(f"{path}: not a file")
    fmt = sniff_format(path)
    with paused_gc():  # a graph is many small objects and no cycles (see gcpause)
        if fmt == "tflite":
            from .tflite import load_tflite

            return load_tflite(path, input_shapes or {})
        from .onnx import load_onnx

        return load_onnx(path, input_shapes or {})
