"""Verification that cannot be fooled and does not cry wolf: a plan must be
bit-identical to the file-order run of the same executor; the kernels are
checked against onnxruntime separately, with tolerances relative to the
values' magnitude; and an output that is the same for every input set
proves nothing, so it fails unless allowed (verify and optimize --verify)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

from infermem.cli import main
from infermem.errors import Failure
from infermem.frontends import load
from infermem.frontends.onnx import graph_from_model
from infermem.lifetimes import problem
from infermem.planners import plan
from infermem.planning import plan_model
from infermem.runtime.compare import compare, constant_outputs
from infermem.runtime.verify import quant_range, random_inputs, verify
from infermem.tflm import optimize

FIXTURES = Path(__file__).parent / "fixtures"
CONSTANT_TFLITE = FIXTURES / "edited" / "ds_cnn_int8_constant.tflite"


def _model(nodes, inits, shape=(1, 16), name="m") -> onnx.ModelProto:
    g = h.make_graph(nodes, name, [h.make_tensor_value_info("x", T.FLOAT, list(shape))],
                     [h.make_tensor_value_info("out", T.FLOAT, None)], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def constant_model() -> onnx.ModelProto:
    """out = relu(x) * 0 + c: the same for every input."""
    zero = nh.from_array(np.zeros((1, 16), np.float32), "zero")
    c = nh.from_array(np.arange(16, dtype=np.float32).reshape(1, 16), "c")
    return _model([h.make_node("Relu", ["x"], ["r"]), h.make_node("Mul", ["r", "zero"], ["z"]),
                   h.make_node("Add", ["z", "c"], ["out"])], [zero, c])


def _verify(m: onnx.ModelProto, **kw):
    g = graph_from_model(m)
    p = plan(problem(g), "best")
    return verify(g, m, p.offsets, p.arena_bytes, **kw)


def test_constant_outputs_are_refused_by_verify():
    r = _verify(constant_model())
    assert not r.ok and r.plan_ok and r.kernel is None  # the plan is fine; the proof is not
    assert r.constant == ("out",) and r.sets_for_variation == 8
    assert "same for all 8 input sets" in r.summary()
    allowed = _verify(constant_model(), allow_constant_outputs=True)
    assert allowed.ok and "allowed" in allowed.summary()


def test_cli_verify_refuses_constant_outputs(tmp_path, capsys):
    path = tmp_path / "constant.onnx"
    onnx.save(constant_model(), str(path))
    assert main(["verify", str(path)]) == 1
    assert "--allow-constant-outputs" in capsys.readouterr().out
    assert main(["verify", str(path), "--json", "--allow-constant-outputs"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["constant_outputs"] == ["out"]


def test_varying_outputs_pass_and_the_plan_is_bit_exact():
    path = FIXTURES / "mobilenet_v2_f32.onnx"
    g = load(path)
    pm = plan_model(g, dmo=True)
    r = verify(g, str(path), pm.plan.offsets, pm.plan.arena_bytes, pm.order)
    assert r.ok and r.constant == () and r.runs == 3
    assert all(d.error == 0 and d.allowed == 0 for d in r.outputs.values())


def test_a_wrong_plan_still_fails_against_the_file_order_run():
    w = nh.from_array(np.random.default_rng(1).standard_normal((4, 4, 3, 3)).astype(np.float32),
                      "w")
    m = _model([h.make_node("Conv", ["x", "w"], ["out"], pads=[1, 1, 1, 1])], [w],
               shape=(1, 4, 6, 6))
    g = graph_from_model(m)
    p = plan(problem(g), "linear")
    offsets = dict(p.offsets)
    offsets["out"] = offsets["x"]  # a dense 3x3 conv written over its own input
    r = verify(g, m, offsets, p.arena_bytes)
    assert not r.ok and not r.plan_ok and r.divergence.kind == "computed"
    assert "file-order run" in r.summary() and "overlaps its input" in r.summary()


def test_values_near_the_float_maximum_do_not_cry_wolf():
    """p - q of two MatMuls with weights ~1e36 that differ by 1e-4: onnxruntime
    and the executor round p and q differently, and the difference of the two
    magnifies that rounding ~1e4 times relative to `out`.  Run through the
    graph, that reads as 'max difference 5e+30 (allowed 2e+29)'; op by op, on
    onnxruntime's own p and q, every kernel agrees."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 64)) * 1e36
    w1 = nh.from_array(a.astype(np.float32), "w1")
    w2 = nh.from_array((a * (1 + 1e-4 * rng.standard_normal((64, 64)))).astype(np.float32), "w2")
    m = _model([h.make_node("MatMul", ["x", "w1"], ["p"]),
                h.make_node("MatMul", ["x", "w2"], ["q"]),
                h.make_node("Sub", ["p", "q"], ["out"])], [w1, w2], shape=(1, 64))
    r = _verify(m)
    assert r.ok, r.summary()
    assert max(abs(d.error) for d in r.outputs.values()) == 0  # the plan: bit for bit
    big = np.float32(np.finfo(np.float32).max * np.float32(0.99995))
    assert compare(np.array([big]), np.array([np.inf], np.float32)).ok
    assert not compare(np.array([-big]), np.array([np.inf], np.float32)).ok


def test_constant_outputs_draws_more_sets_before_calling_one_constant():
    draws = []

    def more(k):
        draws.append(k)
        return {"a": np.array([k >= 3]), "b": np.array([1])}

    sets = [{"a": np.array([False]), "b": np.array([1])}] * 2
    constant, n = constant_outputs(["a", "b"], sets, more)
    assert constant == ("b",) and n == 8 and draws[0] == 2
    assert constant_outputs(["a"], [{"a": np.array([1])}, {"a": np.array([2])}]) == ((), 2)


def test_int8_model_inputs_cover_the_quantization_range():
    g = load(FIXTURES / "mobilenet_v1_int8_qdq.onnx")  # an int8 input: every code
    x = random_inputs(g, 0)[g.inputs[0]]
    assert x.dtype == np.int8 and x.min() == -128 and x.max() == 127
    scale = nh.from_array(np.array(0.05, np.float32), "s")
    zp = nh.from_array(np.array(10, np.int8), "z")
    m = _model([h.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
                h.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
                h.make_node("Relu", ["d"], ["out"])], [scale, zp])
    g = graph_from_model(m)  # a float input quantized first: draw over what int8 holds
    lo, hi = quant_range(g, "x")
    assert (lo, hi) == pytest.approx(((-128 - 10) * 0.05, (127 - 10) * 0.05))
    x = random_inputs(g, 0)["x"]
    assert lo <= x.min() and x.max() <= hi and x.max() - x.min() > 0.9 * (hi - lo)


def test_optimize_refuses_a_constant_tflite_model(tmp_path):
    out = tmp_path / "planned.tflite"
    with pytest.raises(Failure, match="same for all 8 input sets"):
        optimize(CONSTANT_TFLITE, out, runs=2)
    assert not out.exists()
    r = optimize(CONSTANT_TFLITE, out, runs=2, allow_constant_outputs=True)
    assert r.verified and r.verification.constant_outputs == (0,)
    ok = optimize(FIXTURES / "ds_cnn_int8.tflite", tmp_path / "ok.tflite", runs=2)
    assert ok.verified and ok.verification.constant_outputs == ()


def test_cli_optimize_says_why(tmp_path, capsys):
    assert main(["optimize", str(CONSTANT_TFLITE), "-o", str(tmp_path / "o.tflite")]) == 1
    err = capsys.readouterr().err
    assert "prove nothing" in err and "--allow-constant-outputs" in err
    assert len(err.strip().splitlines()) == 1
