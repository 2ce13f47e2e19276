"""The kernels exporters need (Slice, Split, Gather, Tile, Expand, Where,
Resize, ConvTranspose, LayerNorm, Gelu, batched MatMul, LSTM/GRU/RNN, ...):
small real ONNX models built with onnx.helper, each

* run inside a planned arena and checked against onnxruntime tensor by
  tensor (runtime/verify.py),
* with every DMO rule (overlap/onnx_rules, derived from the kernels' chunk
  lists) equal to the executor's own trace of its byte accesses,
* and run again in a DMO plan (outputs overlapping their dead inputs by the
  proven amount), still matching onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from infermem.frontends.onnx import graph_from_model
from infermem.lifetimes import problem
from infermem.overlap import prove
from infermem.overlap.onnx_trace import rule_mismatches
from infermem.planners import plan
from infermem.planning import plan_model
from infermem.runtime.verify import random_inputs, verify

RNG = np.random.default_rng(11)
F = TP.FLOAT


def w(*shape, scale=0.5) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def model(nodes, inputs: dict, outputs: list, inits: dict, opset: int = 18) -> onnx.ModelProto:
    """Float inputs by shape; outputs as names (float) or (name, elem type[, shape])."""
    outs = [helper.make_tensor_value_info(*((o, F) if isinstance(o, str) else o)[:2],
                                          None if isinstance(o, str) or len(o) < 3 else o[2])
            for o in outputs]
    g = helper.make_graph(
        [helper.make_node(*n[:3], **(n[3] if len(n) > 3 else {})) for n in nodes], "m",
        [helper.make_tensor_value_info(k, F, s) for k, s in inputs.items()], outs,
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


I64 = np.int64
MODELS = {
    "movement": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("Slice", ["a", "st", "en", "ax", "sp"], ["s"]),
        ("Split", ["s", "split"], ["p1", "p2"], {"axis": 1}),
        ("Tile", ["p1", "reps"], ["t"]),
        ("Greater", ["t", "p2"], ["gt"]),
        ("Where", ["gt", "t", "p2"], ["wh"]),
        ("ReduceMean", ["wh", "rax"], ["rm"], {"keepdims": 1}),
        ("Expand", ["rm", "shape"], ["ex"]),
        ("Gather", ["ex", "gi"], ["g1"], {"axis": 1}),
        ("ArgMax", ["wh"], ["am"], {"axis": 1, "keepdims": 0}),
        ("Gather", ["wh", "am"], ["g2"], {"axis": 1}),
        ("Pad", ["g1", "pads"], ["pd"], {"mode": "reflect"}),
        ("DepthToSpace", ["wh"], ["d2s"], {"blocksize": 2}),
        ("SpaceToDepth", ["d2s"], ["s2d"], {"blocksize": 2}),
    ], {"x": (1, 6, 8, 8)}, ["pd", "g2", "s2d"], {
        "st": np.array([1, 0], I64), "en": np.array([7, 8], I64),
        "ax": np.array([2, 3], I64), "sp": np.array([1, 2], I64),
        "split": np.array([2, 4], I64), "reps": np.array([1, 2, 1, 1], I64),
        "rax": np.array([1], I64), "shape": np.array([1, 4, 6, 4], I64),
        "gi": np.array([[0, 2], [3, 1]], I64),
        "pads": np.array([0, 0, 0, 1, 0, 0, 0, 0, 2, 0], I64)}),
    "resize": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("Resize", ["a", "", "s2"], ["up"], {"mode": "nearest",
                                            "coordinate_transformation_mode": "asymmetric",
                                            "nearest_mode": "floor"}),
        ("Resize", ["up", "", "", "sz"], ["lin"], {"mode": "linear"}),
        ("Resize", ["lin", "", "", "sz2"], ["ac"], {"mode": "linear",
                                                   "coordinate_transformation_mode":
                                                   "align_corners"}),
        ("Resize", ["ac", "", "s3"], ["pt"], {"mode": "linear",
                                             "coordinate_transformation_mode":
                                             "pytorch_half_pixel"}),
        ("Resize", ["pt", "", "s2"], ["cu"], {"mode": "cubic"}),
        ("Resize", ["cu", "", "", "sz2"], ["nc"], {"mode": "nearest",
                                                  "nearest_mode": "round_prefer_ceil"}),
    ], {"x": (1, 3, 5, 6)}, ["nc"], {
        "s2": np.array([1, 1, 2, 2], np.float32), "s3": np.array([1, 1, 0.5, 0.75], np.float32),
        "sz": np.array([1, 3, 13, 11], I64), "sz2": np.array([1, 3, 7, 9], I64)}),
    "convtranspose": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("ConvTranspose", ["a", "w1", "b1"], ["c1"], {"strides": [2, 2], "pads": [1, 1, 1, 1],
                                                      "output_padding": [1, 1]}),
        ("ConvTranspose", ["c1", "w2"], ["c2"], {"group": 2, "dilations": [2, 1],
                                                 "kernel_shape": [3, 2]}),
        ("ConvTranspose", ["c2", "w3"], ["c3"], {"auto_pad": "SAME_UPPER", "strides": [1, 2]}),
    ], {"x": (1, 4, 5, 5)}, ["c3"], {"w1": w(4, 6, 3, 3), "b1": w(6), "w2": w(6, 2, 3, 2),
                                     "w3": w(4, 3, 3, 3)}),
    "convtranspose_1d": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("ConvTranspose", ["a", "w1"], ["c1"], {"strides": [3], "pads": [1, 2]}),
    ], {"x": (2, 3, 7)}, ["c1"], {"w1": w(3, 2, 4)}),
    "norms": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("LayerNormalization", ["a", "ls", "lb"], ["ln"], {"axis": -1}),
        ("LayerNormalization", ["ln", "ls2"], ["ln2"], {"axis": 1}),
        ("InstanceNormalization", ["ln2", "is", "ib"], ["inn"]),
        ("LpNormalization", ["inn"], ["lp"], {"axis": 1}),
    ], {"x": (2, 4, 3, 5)}, ["lp"], {"ls": w(5), "lb": w(5), "ls2": w(4, 3, 5), "is": w(4),
                                     "ib": w(4)}),
    "groupnorm": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("GroupNormalization", ["a", "gs", "gb"], ["gn"], {"num_groups": 2}),
    ], {"x": (2, 4, 3, 5)}, [("gn", F, (2, 4, 3, 5))],  # (onnx infers no shape for this
        {"gs": w(4), "gb": w(4)}, opset=21),                   # function op: declared)
    "transformer": lambda: model([
        ("MatMul", ["x", "wq"], ["q"]),
        ("MatMul", ["x", "wk"], ["k"]),
        ("Reshape", ["q", "hs"], ["qh"]),
        ("Transpose", ["qh"], ["qt"], {"perm": [0, 2, 1, 3]}),
        ("Reshape", ["k", "hs"], ["kh"]),
        ("Transpose", ["kh"], ["kt"], {"perm": [0, 2, 3, 1]}),
        ("MatMul", ["qt", "kt"], ["sc"]),
        ("Softmax", ["sc"], ["at"], {"axis": -1}),
        ("MatMul", ["at", "qt"], ["ctx"]),
        ("Transpose", ["ctx"], ["ct"], {"perm": [0, 2, 1, 3]}),
        ("Reshape", ["ct", "flat"], ["cf"]),
        ("LayerNormalization", ["cf", "ls", "lb"], ["ln"]),
        ("Gelu", ["ln"], ["ge"]),
        ("Erf", ["ge"], ["er"]),
        ("Gelu", ["er"], ["gt"], {"approximate": "tanh"}),
        ("Softmax", ["gt"], ["sm1"], {"axis": 1}),
        ("LogSoftmax", ["sm1"], ["out"], {"axis": 0}),
    ], {"x": (2, 5, 8)}, ["out"], {
        "wq": w(8, 8), "wk": w(8, 8), "hs": np.array([2, 5, 2, 4], I64),
        "flat": np.array([2, 5, 8], I64), "ls": w(8), "lb": w(8)}, opset=20),
    "attention_op": lambda: model([  # opset 23's fused Attention, grouped heads, causal
        ("MatMul", ["x", "wq"], ["q"]),
        ("MatMul", ["x", "wk"], ["k"]),
        ("MatMul", ["x", "wv"], ["v"]),
        ("Attention", ["q", "k", "v"], ["att"], {"q_num_heads": 4, "kv_num_heads": 2,
                                                 "is_causal": 1}),
        ("Reshape", ["att", "s4"], ["a4"]),
        ("Transpose", ["a4"], ["at"], {"perm": [0, 2, 1, 3]}),
        ("RotaryEmbedding", ["at", "cos", "sin", "pos"], ["ro"], {"interleaved": 1}),
    ], {"x": (2, 5, 8)}, ["ro"], {
        "wq": w(8, 8), "wk": w(8, 4), "wv": w(8, 4), "s4": np.array([2, 5, 4, 2], I64),
        "cos": np.cos(w(7, 1)), "sin": np.sin(w(7, 1)),
        "pos": np.array([[0, 1, 2, 3, 4], [2, 3, 4, 5, 6]], I64)}, opset=23),
    "dynamic_quant": lambda: model([  # what onnxruntime's quantize_dynamic writes
        ("Relu", ["x"], ["a"]),
        ("DynamicQuantizeLinear", ["a"], ["aq", "as", "az"]),
        ("MatMulInteger", ["aq", "wq", "az", "wz"], ["acc"]),
        ("Cast", ["acc"], ["accf"], {"to": F}),
        ("Mul", ["as", "ws"], ["sc"]),
        ("Mul", ["accf", "sc"], ["y"]),
        ("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
        ("ConvInteger", ["xq", "cw", "xz", "cz"], ["cacc"], {"pads": [1, 1, 1, 1]}),
        ("Cast", ["cacc"], ["caccf"], {"to": F}),
    ], {"x": (1, 3, 6, 8)}, ["y", "caccf"], {
        "wq": RNG.integers(0, 255, (8, 5)).astype(np.uint8), "wz": np.uint8(128),
        "ws": np.float32(0.02), "cw": RNG.integers(0, 255, (4, 3, 3, 3)).astype(np.uint8),
        "cz": np.uint8(120)}),
    "recurrent": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("LSTM", ["a", "lw", "lr", "lb"], ["y1", "h1", "c1"],
         {"hidden_size": 4, "direction": "bidirectional"}),
        ("Reshape", ["y1", "s3"], ["y1r"]),
        ("GRU", ["y1r", "gw", "gr", "gb"], ["y2"], {"hidden_size": 3,
                                                    "linear_before_reset": 1}),
        ("Reshape", ["y2", "s4"], ["y2r"]),
        ("RNN", ["y2r", "rw", "rr"], ["y3", "h3"], {"hidden_size": 5,
                                                    "direction": "reverse"}),
    ], {"x": (6, 2, 3)}, ["y3", "h3", "h1", "c1"], {
        "lw": w(2, 16, 3), "lr": w(2, 16, 4), "lb": w(2, 32), "s3": np.array([6, 2, 8], I64),
        "gw": w(1, 9, 8), "gr": w(1, 9, 3), "gb": w(1, 18), "s4": np.array([6, 2, 3], I64),
        "rw": w(1, 5, 3), "rr": w(1, 5, 5)}),
    "lstm_peepholes": lambda: model([  # (onnxruntime has no batch-first LSTM to compare)
        ("Relu", ["x"], ["a"]),
        ("LSTM", ["a", "lw", "lr", "lb", "", "h0", "c0", "p"], ["y1"],
         {"hidden_size": 3, "input_forget": 1, "clip": 2.0}),
    ], {"x": (4, 2, 3)}, ["y1"], {"lw": w(1, 12, 3), "lr": w(1, 12, 3), "lb": w(1, 24),
                                  "h0": w(1, 2, 3), "c0": w(1, 2, 3), "p": w(1, 9)}),
    "axis_ops": lambda: model([
        ("Relu", ["x"], ["a"]),
        ("CumSum", ["a", "ax1"], ["cs"], {"reverse": 1}),
        ("ReduceL2", ["cs", "ax1"], ["l2"], {"keepdims": 1}),
        ("Sub", ["cs", "l2"], ["d"]),
        ("TopK", ["d", "k"], ["tv", "ti"], {"axis": 2}),
        ("Trilu", ["tv"], ["tri"], {"upper": 0}),
        ("Einsum", ["tri", "tv"], ["es"], {"equation": "nchw,nchv->ncwv"}),
        ("Mish", ["es"], ["mi"]),
        ("Celu", ["mi"], ["ce"]),
        ("Shrink", ["ce"], ["sh"], {"lambd": 0.2, "bias": 0.1}),
        ("Cast", ["ti"], ["tif"], {"to": F}),
        ("Hardmax", ["sh"], ["hm"], {"axis": 1}),
        ("Add", ["hm", "sh"], ["out"]),
    ], {"x": (2, 3, 6, 4)}, ["out", "tif"], {"ax1": np.array([1], I64),
                                             "k": np.array([3], I64)}),
}


def build(name: str):
    m = MODELS[name]()
    onnx.shape_inference.infer_shapes(m, check_type=True)  # well formed
    return m, graph_from_model(m)


@pytest.mark.parametrize("name", MODELS)
def test_new_kernels_match_onnxruntime_in_a_planned_arena(name):
    m, g = build(name)
    p = plan(problem(g), "best")
    r = verify(g, m, p.offsets, p.arena_bytes, inputs=[random_inputs(g, s) for s in range(2)])
    assert r.ok, r.summary()
    assert r.tensors_checked >= len(g.operators)


@pytest.mark.parametrize("name", MODELS)
def test_new_kernel_rules_equal_the_executor_trace(name):
    """Every rule is the chunk list the kernel runs: the analytic distance
    equals the one measured from the executor's recorded byte accesses."""
    m, g = build(name)
    assert not rule_mismatches(g)
    proofs = prove(g, None, problem(g))
    assert proofs and any(p.max_bytes > 0 for p in proofs)


@pytest.mark.parametrize("name", ["movement", "resize", "convtranspose", "norms",
                                  "recurrent", "axis_ops"])
def test_new_kernels_verify_in_a_dmo_plan(name):
    m, g = build(name)
    pm = plan_model(g, dmo=True)
    plain = plan_model(g)
    assert pm.problem.overlaps
    assert pm.plan.arena_bytes <= plain.plan.arena_bytes
    r = verify(g, m, pm.plan.offsets, pm.plan.arena_bytes, pm.order,
               [random_inputs(g, s) for s in range(2)], "best + DMO")
    assert r.ok, r.summary()


def test_dmo_saves_arena_on_an_upsampling_decoder():
    """Resize and ConvTranspose outputs may start below their inputs by the
    margin the chunk list proves, so the DMO plan is smaller."""
    m, g = build("resize")
    assert plan_model(g, dmo=True).plan.arena_bytes < plan_model(g).plan.arena_bytes


@pytest.mark.parametrize("name", ["movement", "resize", "convtranspose", "transformer",
                                  "attention_op", "recurrent"])
def test_new_kernels_allocate_no_more_than_they_declare(name):
    """tracemalloc per operator: no kernel allocates more scratch than it declares."""
    from infermem.runtime.memcheck import measure

    m, g = build(name)
    p = plan(problem(g), "best")
    r = measure(g, p.offsets, p.arena_bytes, random_inputs(g, 0))
    assert not r.over_declared(), r.over_declared()


def test_random_token_ids_stay_inside_the_embedding_table():
    """verify's random int64 inputs index no further than the Gather they feed
    (token types into a 2-row table), so onnxruntime and the executor agree."""
    table = numpy_helper.from_array(w(2, 4), "table")
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["e"]),
         helper.make_node("Relu", ["e"], ["y"])], "emb",
        [helper.make_tensor_value_info("ids", TP.INT64, (1, 6))],
        [helper.make_tensor_value_info("y", F, None)], [table])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)
    graph = graph_from_model(m)
    sets = [random_inputs(graph, s) for s in range(8)]
    assert all(0 <= x["ids"].min() and x["ids"].max() < 2 for x in sets)
    assert len({x["ids"].tobytes() for x in sets}) > 1
    p = plan(problem(graph), "best")
    r = verify(graph, m, p.offsets, p.arena_bytes, inputs=sets)
    assert r.ok, r.summary()
