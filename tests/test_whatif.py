"""What-ifs on real models: dtype changes recompute every size, sparsity is
counted from the weights' own values, pruning removes the smallest
magnitudes, and the source graph is never changed."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from infermem.cli import main
from infermem.errors import BadInput
from infermem.fit import model_needs
from infermem.frontends import load
from infermem.graph import Role, Tensor
from infermem.profile import profile
from infermem.whatif import (
    WhatIf,
    bias_tensors,
    parse_dtype,
    parse_fraction,
    prunable,
    prune,
    sparsity,
    tensor_sparsity,
    weights_flash_bytes,
    with_dtypes,
)

FIX = Path(__file__).parent / "fixtures"
EXAMPLE = Path(str(resources.files("infermem") / "examples" / "mobilenet_v1_int8.tflite"))


@pytest.fixture(scope="module")
def f32():
    return load(FIX / "mobilenet_v1_f32.onnx")


@pytest.fixture(scope="module")
def int8():
    return load(EXAMPLE)


def test_int8_whatif_on_a_float_model(f32):
    g = with_dtypes(f32, "int8", "int8")
    biases = bias_tensors(f32)
    assert biases  # the convolutions' biases were found
    for name, t in g.tensors.items():
        src = f32.tensors[name]
        if src.dtype == "int64":
            assert t.dtype == "int64"  # shape constants are not values
        elif t.role is Role.WEIGHT:
            assert t.dtype == ("int32" if name in biases else "int8")
        elif t.is_arena:
            assert t.dtype == "int8"
    assert all(t.dtype == "float32" for t in f32.tensors.values() if t.is_arena)  # unchanged
    expected = sum(math.prod(t.shape) * (4 if n in biases else 1) if t.dtype != "int64"
                   else t.nbytes for n, t in f32.tensors.items() if t.role is Role.WEIGHT)
    assert g.weights_bytes == expected
    p32, p8 = profile(f32), profile(g)
    assert p8.peak_bytes * 4 == pytest.approx(p32.peak_bytes, rel=0.02)
    assert g.meta["whatif"] == {"weights": "int8", "activations": "int8"}


def test_fp16_halves_every_float(f32):
    g = with_dtypes(f32, "float16", "float16")
    floats = sum(t.nbytes for t in f32.tensors.values()
                 if t.role is Role.WEIGHT and t.dtype == "float32")
    assert f32.weights_bytes - g.weights_bytes == floats // 2
    assert profile(g).peak_bytes * 2 == pytest.approx(profile(f32).peak_bytes, rel=0.02)


def test_fp32_on_an_int8_model(int8):
    g = with_dtypes(int8, "float32", "float32")
    int8_weights = sum(t.nbytes for t in int8.tensors.values()
                       if t.role is Role.WEIGHT and t.dtype == "int8")
    assert g.weights_bytes - int8.weights_bytes == 3 * int8_weights
    assert profile(g).peak_bytes == 4 * profile(int8).peak_bytes


def test_sparsity_counts_zero_points(int8):
    rows = {r.name: r for r in sparsity(int8)}
    assert rows
    for name, r in rows.items():
        t = int8.tensors[name]
        data = np.asarray(t.data)
        if t.quant is not None and data.dtype.kind == "i":
            zp = np.asarray(t.quant.zero_point)
            if zp.size == 1:
                assert r.zeros == int(np.count_nonzero(data == zp.item()))
        else:
            assert r.zeros == int(np.count_nonzero(data == 0))
        assert r.dense_bytes == t.nbytes


def test_storage_formulas():
    data = np.zeros((4, 300), np.float32)
    data[:, :10] = 1.0  # 40 non-zeros
    t = Tensor("w", (4, 300), "float32", Role.WEIGHT, data=data)
    r = tensor_sparsity(t, zeros=1200 - 40)
    assert r.dense_bytes == 4800
    assert (r.csr_index_bytes, r.csr_pointer_bytes) == (2, 1)  # column 299 needs 2 bytes
    assert r.csr_bytes == 40 * (4 + 2) + 5 * 1
    assert r.bitmask_bytes == 40 * 4 + 150
    assert r.best == ("csr", 245)
    assert r.zero_fraction == pytest.approx(1160 / 1200)


def test_prune_removes_the_smallest_magnitudes(f32):
    pruned = prune(f32, 0.5)
    checked = 0
    for name, t in f32.tensors.items():
        if not prunable(t):
            assert pruned.tensors[name].data is t.data
            continue
        before, after = np.asarray(t.data), np.asarray(pruned.tensors[name].data)
        zeroed = (after == 0) & (before != 0)
        kept = after != 0
        assert np.count_nonzero(after == 0) >= before.size // 2
        if zeroed.any() and kept.any():
            assert np.abs(before[zeroed]).max() <= np.abs(before[kept]).min()
        assert np.array_equal(after[kept], before[kept])
        checked += 1
    assert checked > 10
    assert all(np.count_nonzero(np.asarray(t.data) == 0) == 0
               for t in f32.tensors.values() if prunable(t))  # the source is untouched


def test_prune_on_quantized_weights_uses_the_zero_point(int8):
    pruned = prune(int8, 0.5)
    rows = {r.name: r for r in sparsity(pruned)}
    for name, t in int8.tensors.items():
        if prunable(t):
            assert rows[name].zeros >= math.prod(t.shape) // 2
    assert weights_flash_bytes(pruned) < weights_flash_bytes(int8) < int8.weights_bytes + 1


def test_fit_with_prune_counts_sparse_flash(f32):
    dense = model_needs(f32, time_limit=2.0).level("infermem")
    half = model_needs(f32, WhatIf(prune=0.5), time_limit=2.0).level("infermem")
    assert half.weights_bytes < 0.8 * dense.weights_bytes
    assert half.arena_bytes == dense.arena_bytes  # weights live in flash, not the arena


@pytest.mark.parametrize("text, value", [("int8", "int8"), ("FP16", "float16"),
                                         ("fp32", "float32")])
def test_parse_dtype(text, value):
    assert parse_dtype(text) == value


@pytest.mark.parametrize("text, value", [("50%", 0.5), ("0.25", 0.25), ("0", 0.0)])
def test_parse_fraction(text, value):
    assert parse_fraction(text) == value


@pytest.mark.parametrize("bad", ["int4", "bf16"])
def test_parse_dtype_refuses(bad):
    with pytest.raises(BadInput):
        parse_dtype(bad)


@pytest.mark.parametrize("bad", ["100%", "-1%", "half", "nan", "1.5"])
def test_parse_fraction_refuses(bad):
    with pytest.raises(BadInput):
        parse_fraction(bad)


def test_cli_profile_whatifs(capsys, int8):
    assert main(["profile", str(EXAMPLE), "--weights-dtype", "fp32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["whatif"]["weights_dtype"] == "float32"
    assert doc["weights_bytes"] > int8.weights_bytes
    assert doc["peak_bytes"] == profile(int8).peak_bytes  # activations untouched
    assert main(["profile", str(FIX / "ds_cnn_f32.onnx"), "--prune", "50%", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    big = [r for r in doc["sparsity"] if len(r["shape"]) >= 2]
    assert big and all(r["zero_fraction"] >= 0.49 for r in big)
    assert main(["profile", str(EXAMPLE), "--sparsity", "--activations-dtype", "fp16"]) == 0
    out = capsys.readouterr().out
    assert "what-if" in out and "bitmask" in out
    assert main(["profile", str(EXAMPLE), "--weights-dtype", "int4"]) == 2
    assert "int4" in capsys.readouterr().err


def test_int8_whatif_of_a_float_tflite_matches_the_real_int8_model():
    """The converter's int8 twin of the same network is the ground truth for
    what an int8 what-if of the float model should predict."""
    twin = model_needs(load(FIX / "mobilenet_v1_int8.tflite"), time_limit=2.0)
    what = model_needs(load(FIX / "mobilenet_v1_f32.tflite"), WhatIf(activations="int8"),
                       time_limit=2.0)
    for name in ("runtime", "infermem", "reorder"):
        assert what.level(name).arena_bytes == twin.level(name).arena_bytes
