"""DMO without running TFLM's planner: the access model, the analytic rules
against closed forms and against the traced reference kernels, and the
reference kernels against TFLM's own intermediate tensors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from infermem.frontends.tflite import load_tflite
from infermem.graph import Graph, Operator, Role, Tensor
from infermem.lifetimes import problem as graph_problem
from infermem.overlap import explain, prove, with_overlaps
from infermem.overlap.access import NO_READ, Steps, element_steps, max_overlap, min_distance
from infermem.overlap.tflite_rules import RULES
from infermem.overlap.trace import run_op
from infermem.planners import plan, validate
from infermem.tflm._model import read_model
from infermem.tflm.inputs import random_inputs
from infermem.tflm.problem import build

FIX = Path(__file__).parent / "fixtures"
TFLITE = sorted(FIX.glob("*.tflite")) + sorted((FIX / "dmo").glob("*.tflite"))
IDS = [p.stem for p in TFLITE]


def _proofs(path: Path, methods=("analytic",)):
    g = load_tflite(path, None)
    return g, prove(g, None, build(path).problem, methods)


# ---- the access model -------------------------------------------------------


def test_elementwise_same_width_is_fully_in_place():
    n = 100
    s = element_steps(np.arange(1, n + 1), np.arange(n), 4, 4)
    assert min_distance(s) == 0
    assert max_overlap(0, 400, 16) == 400


def test_width_growth_needs_the_growth():
    n = 100  # int8 -> float32: the output's end may reach the input's end
    s = element_steps(np.arange(1, n + 1), np.arange(n), 4, 1)
    assert min_distance(s) == 3 * (n - 1)


def test_write_before_read_forbids_any_overlap():
    # zero-fill the output, then read: the fill clobbers the input's start
    s = element_steps(np.array([50, 0]), np.array([-1, 0]), 1, 1)
    assert min_distance(s) == 50
    assert max_overlap(50, 64, 16) == 0


def test_memcpy_counts_its_own_reads():
    # one memcpy of 64 bytes: destination may not touch the source at all
    s = element_steps(np.array([64]), np.array([0]), 1, 1, own=True)
    assert min_distance(s) == 64
    s = element_steps(np.array([64]), np.array([0]), 1, 1, own=False)
    assert min_distance(s) == 0


def test_reads_after_the_last_write_matter():
    # step 0 writes byte 0..9, step 1 reads from byte 3: D must exceed 10 - 3
    s = Steps(np.array([10, 0]), np.array([NO_READ, 3]))
    assert min_distance(s) == 7


# ---- closed forms the issue states ------------------------------------------


def _op(g: Graph, index: int) -> Operator:
    return g.operators[index]


def test_conv3x3_stride1_needs_one_row_and_one_pixel():
    g, proofs = _proofs(FIX / "resnet_int8.tflite")
    p = next(p for p in proofs if p.op_index == 2)
    op = _op(g, 2)
    _, h, w, c = g.tensors[op.inputs[0]].shape
    oc = g.tensors[op.outputs[0]].shape[3]
    assert g.tensors[op.inputs[1]].shape[1:3] == (3, 3) and op.attrs["stride_h"] == 1
    # the last channel but one of pixel p re-reads pixel p's window, whose
    # top-left tap is one row and one pixel back
    assert p.distance == (w + 1) * c + (oc - 1)


def test_expanding_1x1_conv_puts_the_input_on_top():
    g, proofs = _proofs(FIX / "mobilenet_v2_int8.tflite")
    for p in proofs:
        op = _op(g, p.op_index)
        if op.type != "CONV_2D" or g.tensors[op.inputs[1]].shape[1:3] != (1, 1):
            continue
        x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
        if y.shape[3] <= x.shape[3] or op.attrs["stride_h"] != 1:
            continue
        assert p.distance == y.nbytes - x.nbytes + (x.shape[3] - 1)
        assert p.max_bytes >= x.nbytes - x.shape[3] - 16
        break
    else:
        pytest.fail("no expanding 1x1 convolution in mobilenet_v2")


def test_elementwise_ops_are_in_place_and_fc_is_not():
    g, proofs = _proofs(FIX / "mobilenet_v3_small_int8.tflite")
    kinds = {p.op_type for p in proofs}
    assert {"ADD", "MUL", "HARD_SWISH"} <= kinds
    for p in proofs:
        if p.op_type in ("ADD", "HARD_SWISH"):
            assert p.distance == 0 and p.max_bytes == p.output_bytes
    g, proofs = _proofs(FIX / "autoencoder_f32.tflite")
    assert all(p.op_type == "FULLY_CONNECTED" for p in proofs)
    for p in proofs:  # every output re-reads the whole input row
        oc = g.tensors[_op(g, p.op_index).outputs[0]].shape[-1]
        assert p.distance == 4 * (oc - 1)


def test_mean_transpose_conv_and_reshape_get_no_overlap():
    for name in ("mobilenet_v1_int8", "resnet_f32", "tiny_unet_f32"):
        _, proofs = _proofs(FIX / f"{name}.tflite")
        for p in proofs:
            if p.op_type in ("RESHAPE", "TRANSPOSE_CONV") or (
                p.op_type == "MEAN" and "int8" in name
            ):
                assert p.max_bytes == 0, p


def test_rules_cover_the_listed_operators():
    listed = {
        "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED",
        "ADD", "MUL", "SUB", "RELU", "RELU6", "LOGISTIC", "TANH", "QUANTIZE", "DEQUANTIZE",
        "RESHAPE", "SOFTMAX", "PAD", "MEAN", "CONCATENATION", "TRANSPOSE",
    }  # fmt: skip
    assert listed <= set(RULES)


# ---- lifetimes decide the candidates ------------------------------------------


def _tiny_graph() -> Graph:
    """x -> RELU -> a ; ADD(a, x) -> y : x is still needed by ADD, a ends there."""
    t = {
        "x": Tensor("x", (1, 4, 4, 2), "float32", Role.INPUT, index=0),
        "a": Tensor("a", (1, 4, 4, 2), "float32", Role.ACTIVATION, index=1),
        "y": Tensor("y", (1, 4, 4, 2), "float32", Role.OUTPUT, index=2),
    }
    ops = (
        Operator(0, "RELU", ("x",), ("a",)),
        Operator(1, "ADD", ("a", "x"), ("y",), {"fused_activation_function": "NONE"}),
    )
    return Graph("tiny", "tflite", t, ops, ("x",), ("y",))


def test_only_inputs_whose_lifetime_ends_are_candidates():
    g = _tiny_graph()
    prob = graph_problem(g)
    proofs = prove(g, None, prob)
    pairs = {(p.op_type, p.output, p.input) for p in proofs}
    assert ("RELU", "a", "x") not in pairs  # x lives on until ADD
    assert ("ADD", "y", "a") in pairs and ("ADD", "y", "x") in pairs
    dmo = with_overlaps(g, None, prob)
    p = plan(dmo, "best")
    validate(dmo, p.offsets)
    assert p.arena_bytes < plan(prob, "best").arena_bytes


def test_explain_reports_what_the_plan_uses():
    path = FIX / "ds_cnn_int8.tflite"
    g = load_tflite(path, None)
    prob = with_overlaps(g, None, build(path).problem)
    p = plan(prob, "best")
    rows = explain(g, None, prob, p)
    assert rows and all(r["method"] in ("analytic", "none") for r in rows)
    assert any(r["used"] > 0 for r in rows)
    for r in rows:
        assert 0 <= r["used"] <= r["max_overlap"]


# ---- analytic <= traced, and the traced kernels are TFLM's --------------------


@pytest.mark.parametrize("path", TFLITE, ids=IDS)
def test_analytic_never_exceeds_traced(path):
    g, analytic = _proofs(path, ("analytic",))
    _, traced = _proofs(path, ("traced",))
    compared = 0
    for a, t in zip(analytic, traced, strict=True):
        assert (a.op_index, a.output, a.input) == (t.op_index, t.output, t.input)
        if t.distance is None:
            continue
        compared += 1
        assert a.max_bytes <= t.max_bytes, (a, t)
        # the rules are exact for the kernels' loop order: a difference is news
        assert a.distance == t.distance, (a, t)
    assert compared >= len(analytic) - 4


TOLERANT = {"LOGISTIC", "TANH", "SOFTMAX"}  # numpy's exp/tanh vs libm: a few ulp


def _tflm_tensors(path: Path):
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(
        str(path), arena_size=8 << 20,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )  # fmt: skip
    for j, x in enumerate(random_inputs(read_model(path), 7)):
        it.set_input(x, j)
    it.invoke()
    return lambda index: it.GetTensor(index, 0)["tensor_data"]


@pytest.mark.parametrize("path", TFLITE, ids=IDS)
def test_reference_kernels_match_tflm(path):
    g = load_tflite(path, None)
    tensor = _tflm_tensors(path)
    checked = 0
    for op in g.operators:
        vals = []
        for t in op.inputs:
            tt = g.tensors[t] if t else None
            if tt is None:
                vals.append(None)
            elif tt.data is not None:
                vals.append(np.asarray(tt.data).reshape(tt.shape))
            else:
                vals.append(tensor(tt.index))
        try:
            out, trace = run_op(op, g, vals)
        except (KeyError, TypeError):
            continue  # no reference kernel for this type / dtype
        ref = tensor(g.tensors[op.outputs[0]].index)
        assert out.shape == ref.shape and out.dtype == ref.dtype
        if op.type in TOLERANT:
            np.testing.assert_array_max_ulp(out, ref, maxulp=4)
        else:
            assert out.tobytes() == ref.tobytes(), f"op {op.index} {op.type} differs from TFLM"
        writes = np.asarray(trace.writes).ravel()
        assert set(writes[writes >= 0].tolist()) == set(range(math.prod(out.shape)))
        checked += 1
    assert checked >= len(g.operators) - 5


# ---- the CLI -----------------------------------------------------------------


def test_cli_plan_dmo_explain(capsys):
    import json

    from infermem.cli import main

    model = str(FIX / "mobilenet_v1_int8.tflite")
    assert main(["plan", model, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["plan", model, "--dmo", "--explain", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["dmo"]
    assert rows and {"op", "type", "max_overlap", "used", "method", "min_distance"} <= set(rows[0])
    assert sum(r["used"] for r in rows) > 0
    assert all(r["used"] <= r["max_overlap"] for r in rows)
    assert doc["arena_bytes"] < plain["arena_bytes"]
    assert main(["plan", model, "--dmo", "--explain"]) == 0
    assert "proven" in capsys.readouterr().out
    assert main(["plan", model, "--explain"]) == 2  # --explain needs --dmo


# ---- ONNX: the executor's kernels ---------------------------------------------

ONNX = [p for p in sorted(FIX.glob("*.onnx")) if "dynbatch" not in p.name]


@pytest.mark.parametrize("path", ONNX, ids=[p.stem for p in ONNX])
def test_onnx_rules_equal_the_executor_trace(path):
    from infermem.frontends import load

    g = load(path)
    prob = graph_problem(g)
    analytic = prove(g, None, prob)
    traced = prove(g, None, prob, ("traced",))
    assert analytic
    for a, t in zip(analytic, traced, strict=True):
        assert t.distance is not None, t
        assert a.distance == t.distance, (a, t)
    assert any(a.max_bytes > 0 for a in analytic)


@pytest.mark.parametrize("name", ["resnet_f32", "mobilenet_v1_int8_qdq"])
def test_onnx_dmo_plan_verified_by_the_executor(name):
    from infermem.frontends import load
    from infermem.planning import plan_model
    from infermem.runtime.verify import random_inputs, verify

    path = FIX / f"{name}.onnx"
    g = load(path)
    pm = plan_model(g, dmo=True)
    plain = plan_model(g)
    assert pm.problem.overlaps and pm.plan.arena_bytes < plain.plan.arena_bytes
    report = verify(g, str(path), pm.plan.offsets, pm.plan.arena_bytes, pm.order,
                    [random_inputs(g, s) for s in range(2)], "best + DMO")  # fmt: skip
    assert report.ok, report.summary()
