"""`infermem quantize`: onnxruntime's real quantizer on a float fixture; the
result is smaller, runs in onnxruntime, stays close to the float model, and
the user's file is never touched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from infermem.cli import main
from infermem.errors import BadInput
from infermem.quantize import quantize

FIX = Path(__file__).parent / "fixtures"
SRC = FIX / "resnet_f32.onnx"  # input "input", 1x3x64x64


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def static(tmp_path_factory):
    before = digest(SRC)
    out = tmp_path_factory.mktemp("q") / "resnet_int8.onnx"
    r = quantize(SRC, out, 16, seed=0)
    assert digest(SRC) == before
    return r, out


def test_static_qdq_shrinks_weights_and_arena(static):
    r, out = static
    assert r.mode == "static QDQ" and r.samples == 16
    assert 3.5 <= r.before.weights_bytes / r.after.weights_bytes <= 4.1  # about 4x
    assert r.after.arena_bytes < r.before.arena_bytes
    assert r.after.file_bytes < r.before.file_bytes
    assert r.warning and "random" in r.warning  # no real data: accuracy unknown


def test_outputs_stay_close(static):
    r, _ = static
    assert r.errors and all(e.cosine >= 0.99 for e in r.errors)
    assert all(0 <= e.mean_abs <= e.max_abs for e in r.errors)


def test_quantized_model_runs_in_onnxruntime(static):
    _, out = static
    x = np.random.default_rng(7).random((1, 3, 64, 64)).astype(np.float32)
    cpu = ["CPUExecutionProvider"]
    want = ort.InferenceSession(str(SRC), providers=cpu).run(None, {"input": x})
    got = ort.InferenceSession(str(out), providers=cpu).run(None, {"input": x})
    assert [g.shape for g in got] == [w.shape for w in want]
    assert all(np.isfinite(g).all() for g in got)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_calibration_from_a_folder(tmp_path):
    data = tmp_path / "calib"
    data.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        np.savez(data / f"s{i}.npz", input=rng.random((1, 3, 64, 64)).astype(np.float32))
    np.save(data / "stack.npy", rng.random((3, 1, 3, 64, 64)).astype(np.float32))
    r = quantize(SRC, tmp_path / "q.onnx", data)
    assert r.samples == 5 and r.warning is None and str(data) in r.calibration
    assert all(e.cosine >= 0.99 for e in r.errors)


def test_weight_only_dynamic(tmp_path):
    r = quantize(SRC, tmp_path / "d.onnx", 4, weights_only=True)
    assert r.mode.startswith("dynamic")
    assert r.after.file_bytes < r.before.file_bytes / 3
    assert r.errors and all(e.cosine > 0.9 for e in r.errors)


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(BadInput, match="refusing to overwrite"):
        quantize(SRC, SRC, 2)
    with pytest.raises(BadInput, match="ONNX"):
        quantize(FIX / "resnet_int8.tflite", tmp_path / "x.onnx", 2)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInput, match="no .npy or .npz"):
        quantize(SRC, tmp_path / "x.onnx", empty)
    np.save(empty / "bad.npy", np.zeros((2, 2), np.float32))
    with pytest.raises(BadInput, match="shape"):
        quantize(SRC, tmp_path / "x.onnx", empty)
    with pytest.raises(BadInput, match="1.."):
        quantize(SRC, tmp_path / "x.onnx", 0)
    assert not (tmp_path / "x.onnx").exists()


def test_cli_quantize_json(tmp_path, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["quantize", str(SRC), "-o", str(out), "--calibration", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == str(out) and out.is_file()
    assert doc["after"]["weights_bytes"] < doc["before"]["weights_bytes"]
    assert {"max_abs", "mean_abs", "cosine"} <= set(doc["errors"][0])
    assert main(["quantize", str(SRC), "-o", str(SRC)]) == 2
