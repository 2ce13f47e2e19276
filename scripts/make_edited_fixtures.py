"""Build tests/fixtures/edited/: committed fixtures edited through the TFLite
schema's object API (infermem's own venv, no TensorFlow):

    python scripts/make_edited_fixtures.py

- `ds_cnn_int8_dynbatch.tflite`: ds_cnn_int8 as the converter writes a Keras
  model with a None batch: -1 in dim 0 of the shape signature of every
  non-constant tensor with a batch, the stored shapes unchanged (batch 1).
- `ds_cnn_int8_constant.tflite`: ds_cnn_int8 with the last FULLY_CONNECTED's
  weights zeroed, so every output is its bias, the same for every input: a
  model a verification must refuse to call "proven" by its outputs.

Deterministic; a file is rewritten only when its bytes change.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from infermem.frontends.tflite import read_model
from infermem.frontends.tflite_options import OPERATOR_NAMES

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "fixtures" / "ds_cnn_int8.tflite"
OUT = ROOT / "tests" / "fixtures" / "edited"


def dynamic_batch(model) -> None:
    """-1 in dim 0 of the signature of every non-constant tensor with a batch."""
    for t in model.subgraphs[0].tensors:
        data = model.buffers[t.buffer].data
        if (data is None or not len(data)) and len(t.shape) >= 2 and t.shape[0] == 1:
            t.shapeSignature = np.array([-1, *t.shape[1:]], dtype=np.int32)


def constant_output(model) -> None:
    """Zero the weights of the last FULLY_CONNECTED: its output is its bias."""
    sg = model.subgraphs[0]
    fc = [op for op in sg.operators
          if OPERATOR_NAMES.get(model.operatorCodes[op.opcodeIndex].builtinCode)
          == "FULLY_CONNECTED"][-1]
    weights = model.buffers[sg.tensors[fc.inputs[1]].buffer]
    weights.data = np.zeros_like(np.asarray(weights.data))


def write(src: Path, dst: Path, edit) -> None:
    model = read_model(src)
    edit(model)
    b = flatbuffers.Builder(1 << 16)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    data = bytes(b.Output())
    if not dst.exists() or dst.read_bytes() != data:
        dst.write_bytes(data)
        print(f"wrote {dst.relative_to(ROOT)} ({len(data):,} bytes)")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    write(SOURCE, OUT / "ds_cnn_int8_dynbatch.tflite", dynamic_batch)
    write(SOURCE, OUT / "ds_cnn_int8_constant.tflite", constant_output)


if __name__ == "__main__":
    main()
