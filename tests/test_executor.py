"""The arena executor: real models run inside a planned arena and checked
against onnxruntime, tensor by tensor (runtime/verify.py).

Fixtures: the light ONNX zoo shipped with onnx (squeezenet, resnet50, ...:
the real architectures at 224x224 with constant weights) and the tf2onnx
fixtures in tests/fixtures (random weights, so every value matters)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

from infermem.cli import main
from infermem.errors import BadInput
from infermem.frontends import load
from infermem.frontends.onnx import graph_from_model
from infermem.lifetimes import problem
from infermem.planners import plan
from infermem.runtime import Executor, run
from infermem.runtime.memcheck import measure
from infermem.runtime.verify import random_inputs, verify

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
FIXTURES = Path(__file__).parent / "fixtures"
TF2ONNX = ["mobilenet_v1_f32", "mobilenet_v2_f32", "resnet_f32", "ds_cnn_f32",
           "inception_block_f32", "autoencoder_f32"]


def planned(path: Path, strategy: str = "best"):
    g = load(path)
    return g, problem(g), plan(problem(g), strategy)


def check(path: Path, strategy: str = "best", allow_constant: bool = False):
    g, _, p = planned(path, strategy)
    r = verify(g, path, p.offsets, p.arena_bytes, strategy=p.strategy,
               allow_constant_outputs=allow_constant)
    assert r.ok, r.summary()
    assert r.arena_bytes == p.arena_bytes
    assert r.tensors_checked >= len(g.operators)  # every operator's output was compared
    return g, r


def test_light_squeezenet_verifies_in_its_best_plan():
    check(LIGHT / "light_squeezenet.onnx")


@pytest.mark.parametrize("name", TF2ONNX)
def test_tf2onnx_fixtures_verify_in_their_best_plan(name):
    check(FIXTURES / f"{name}.onnx")


def test_qdq_model_runs_in_its_int8_arena():
    """A QDQ model runs as deployed: the arena holds int8 activations only."""
    g, r = check(FIXTURES / "mobilenet_v1_int8_qdq.onnx")
    roots = {g.root(t) for t in g.tensors if g.tensors[g.root(t)].is_arena}
    assert {g.tensors[t].dtype for t in roots} - {"int8", "uint8"} <= {"float32"}
    assert r.arena_bytes < 0.3 * planned(FIXTURES / "mobilenet_v1_f32.onnx")[2].arena_bytes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "inception_v1", "inception_v2", "densenet121",
                                  "shufflenet"])
def test_light_zoo_verifies_in_its_best_plan(name):
    """The light zoo stores every weight as a ConstantOfShape of one value:
    outputs may not depend on the input, so constant outputs are allowed."""
    check(LIGHT / f"light_{name}.onnx", allow_constant=True)


@pytest.mark.parametrize("path", [FIXTURES / "mobilenet_v2_f32.onnx",
                                  FIXTURES / "mobilenet_v1_int8_qdq.onnx",
                                  LIGHT / "light_squeezenet.onnx"])
def test_dmo_plans_verify(path, capsys):
    """Plans whose outputs overlap their inputs (the DMO rules derived from these
    kernels' chunk orders) run correctly, in a smaller arena."""
    assert main(["verify", str(path), "--dmo", "--json"]) == 0
    dmo = json.loads(capsys.readouterr().out)
    assert dmo["ok"] and dmo["arena_bytes"] < planned(path)[2].arena_bytes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "inception_v1", "inception_v2", "densenet121",
                                  "shufflenet"])
def test_light_zoo_verifies_with_dmo(name, capsys):
    assert main(["verify", str(LIGHT / f"light_{name}.onnx"), "--dmo",
                 "--allow-constant-outputs"]) == 0
    assert "OK" in capsys.readouterr().out


def corrupt(p, prob):
    """Offsets with one tensor moved onto another that is still live: the second
    is written while the first still has a reader to come."""
    bufs = sorted(prob.buffers, key=lambda b: -b.size)
    live, late = next((b, o) for b in bufs for o in bufs
                      if b.first < o.first < b.last and o.size and b.size)
    offsets = dict(p.offsets)
    offsets[late.name] = offsets[live.name]
    return offsets, p.arena_bytes + late.size, live.name, late.name


@pytest.mark.parametrize("path", [FIXTURES / "mobilenet_v2_f32.onnx",
                                  LIGHT / "light_squeezenet.onnx"])
def test_corrupted_plan_fails_naming_the_tensor(path):
    g, prob, p = planned(path)
    offsets, arena, victim, culprit = corrupt(p, prob)
    r = verify(g, path, offsets, arena)
    assert not r.ok
    d = r.divergence
    assert d.kind == "overwritten" and d.tensor == victim and culprit in d.culprits
    assert victim in r.summary() and culprit in r.summary()


def test_cli_verify_plan_file_and_corrupted_plan(tmp_path, capsys):
    model = FIXTURES / "mobilenet_v2_f32.onnx"
    plan_path = tmp_path / "plan.json"
    assert main(["plan", str(model), "-o", str(plan_path)]) == 0
    assert main(["verify", str(model), "--plan", str(plan_path), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["ok"] and report["arena_bytes"] == json.loads(plan_path.read_text())[
        "arena_bytes"]
    g, prob, p = planned(model)
    offsets, arena, victim, _ = corrupt(p, prob)
    doc = json.loads(plan_path.read_text())
    doc["arena_bytes"] = arena
    for t in doc["tensors"]:
        t["offset"] = offsets[t["name"]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["verify", str(model), "--plan", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and victim in out and "first differing output: 'output'" in out


def test_cli_refuses_a_plan_for_another_model_and_bad_inputs(tmp_path, capsys):
    plan_path = tmp_path / "plan.json"
    assert main(["plan", str(FIXTURES / "resnet_f32.onnx"), "-o", str(plan_path)]) == 0
    assert main(["verify", str(FIXTURES / "mobilenet_v2_f32.onnx"), "--plan",
                 str(plan_path)]) == 2
    assert "another model" in capsys.readouterr().err
    npz = tmp_path / "x.npz"
    np.savez(npz, wrong=np.zeros((1, 3, 5, 5), np.float32))
    assert main(["verify", str(FIXTURES / "resnet_f32.onnx"), "--inputs", str(npz)]) == 2
    assert "shape" in capsys.readouterr().err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert main(["verify", str(FIXTURES / "resnet_f32.onnx"), "--inputs",
                 str(tmp_path / "junk.npz")]) == 2
    assert main(["verify", str(FIXTURES / "mobilenet_v1_f32.tflite")]) == 2


def test_cli_verify_user_inputs(tmp_path, capsys):
    g = load(FIXTURES / "resnet_f32.onnx")
    npz = tmp_path / "x.npz"
    np.savez(npz, **random_inputs(g, 7))
    assert main(["verify", str(FIXTURES / "resnet_f32.onnx"), "--inputs", str(npz)]) == 0
    assert "OK" in capsys.readouterr().out


def single_node(op_type: str, attrs: dict | None = None, shape=(1, 4, 8, 8), weights=(),
                opset: int = 13) -> onnx.ModelProto:
    """x0 -> Relu -> x -> OP(x, weights...) -> y -> Relu -> z."""
    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), f"w{i}")
             for i, s in enumerate(weights)]
    nodes = [helper.make_node("Relu", ["x0"], ["x"]),
             helper.make_node(op_type, ["x", *[i.name for i in inits]], ["y"], **(attrs or {})),
             helper.make_node("Relu", ["y"], ["z"])]
    graph = helper.make_graph(nodes, op_type, [helper.make_tensor_value_info("x0", TP.FLOAT,
                                                                             shape)],
                              [helper.make_tensor_value_info("z", TP.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8)


def test_unsupported_operator_is_named(capsys, tmp_path):
    """The op and the node are named, the supported list is not dumped (it is
    behind `verify --list-ops`)."""
    m = single_node("GridSample", weights=[(1, 5, 5, 2)], opset=16)
    m.graph.node[1].name = "sampler"
    g = graph_from_model(m)
    p = plan(problem(g), "linear")
    with pytest.raises(BadInput, match="GridSample"):
        Executor(g, p.offsets, p.arena_bytes)
    path = tmp_path / "gs.onnx"
    onnx.save(m, path)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no kernel for operator type(s) GridSample (node 1 'sampler')" in err
    assert "Conv" not in err and "--list-ops" in err
    assert main(["verify", "--list-ops"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"Conv", "ConvTranspose", "Resize", "LSTM", "Slice"} <= set(listed)
    assert "GridSample" not in listed and listed == sorted(listed)


VARIANTS = {  # op, attrs, input shape, weight shapes
    "conv groups+dilation+asym pads": ("Conv", dict(group=2, dilations=[2, 1], pads=[1, 2, 0, 1],
                                                    strides=[1, 2]), (1, 4, 9, 11),
                                       [(6, 2, 3, 3), (6,)]),
    "depthwise x2": ("Conv", dict(group=3, pads=[1, 1, 1, 1]), (2, 3, 8, 8), [(6, 1, 3, 3)]),
    "conv SAME_LOWER": ("Conv", dict(auto_pad="SAME_LOWER", strides=[2, 2]), (1, 3, 7, 8),
                        [(5, 3, 4, 4), (5,)]),
    "conv 1-D": ("Conv", dict(pads=[2, 1], strides=[3], dilations=[2]), (1, 3, 20),
                 [(4, 3, 3)]),
    "pointwise stride 2": ("Conv", dict(strides=[2, 2]), (1, 8, 9, 9), [(16, 8, 1, 1), (16,)]),
    "maxpool ceil": ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
                     (1, 3, 10, 11), []),
    "maxpool dilated": ("MaxPool", dict(kernel_shape=[2, 3], dilations=[2, 2],
                                        pads=[1, 1, 1, 1]), (1, 3, 10, 11), []),
    "avgpool incl pad": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                             count_include_pad=1, strides=[2, 2]),
                         (1, 3, 10, 11), []),
    "avgpool ceil": ("AveragePool", dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1,
                                         strides=[2, 2]), (1, 3, 10, 11), []),
    "gemm transposed": ("Gemm", dict(transA=1, transB=1, alpha=0.5, beta=2.0), (5, 4),
                        [(3, 5), (1, 3)]),
    "matmul broadcast": ("MatMul", {}, (2, 1, 4, 5), [(3, 5, 6)]),
    "transpose": ("Transpose", dict(perm=[2, 0, 3, 1]), (2, 3, 4, 5), []),
    "lrn": ("LRN", dict(size=3, alpha=0.01, beta=0.5, bias=2.0), (1, 6, 5, 5), []),
    "reducemean": ("ReduceMean", dict(axes=[1, 3], keepdims=0), (2, 3, 4, 5), []),
    "add broadcast": ("Add", {}, (2, 3, 4, 5), [(3, 1, 5)]),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_kernel_variants_match_onnxruntime(name):
    op, attrs, shape, weights = VARIANTS[name]
    m = single_node(op, attrs, shape, weights)
    g = graph_from_model(m)
    p = plan(problem(g), "best")
    r = verify(g, m, p.offsets, p.arena_bytes, inputs=[random_inputs(g, s) for s in range(2)])
    assert r.ok, r.summary()


def in_place(m: onnx.ModelProto, op_type: str):
    """Verify with `op_type`'s output placed exactly on its (dead) input."""
    g = graph_from_model(m)
    p = plan(problem(g), "linear")
    op = next(o for o in g.operators if o.type == op_type)
    offsets = dict(p.offsets)
    offsets[g.root(op.outputs[0])] = offsets[g.root(op.inputs[0])]
    return verify(g, m, offsets, p.arena_bytes)


def test_chunk_order_decides_which_overlaps_are_safe():
    """In place is safe for kernels that never write bytes a later chunk still
    reads (elementwise, depthwise per channel) and unsafe for a 3x3 conv that
    writes each output row over input rows the next row still needs."""
    assert in_place(single_node("Sigmoid"), "Sigmoid").ok
    dw = single_node("Conv", dict(group=4, pads=[1, 1, 1, 1]), weights=[(4, 1, 3, 3)])
    assert in_place(dw, "Conv").ok
    dense = single_node("Conv", dict(pads=[1, 1, 1, 1]), weights=[(4, 4, 3, 3)])
    r = in_place(dense, "Conv")
    assert not r.ok and r.divergence.kind == "computed" and r.divergence.op_type == "Conv"
    assert "overlaps its input" in r.divergence.message()


@pytest.mark.parametrize("path", [LIGHT / "light_squeezenet.onnx",
                                  FIXTURES / "mobilenet_v2_f32.onnx"])
def test_run_happens_in_the_planned_memory(path):
    """tracemalloc: building the executor and running it allocate the arena,
    at most the declared scratch at a time, and little else (<= 5% more)."""
    g, _, p = planned(path)
    m = measure(g, p.offsets, p.arena_bytes, random_inputs(g, 0))
    assert m.arena_bytes == p.arena_bytes
    assert m.peak_bytes <= m.budget, m
    assert m.peak_bytes >= m.arena_bytes
    assert not m.over_declared(), m.over_declared()


@pytest.mark.parametrize("name", ["mobilenet_v1_f32", "mobilenet_v1_int8_qdq", "ds_cnn_f32",
                                  "inception_block_f32"])
def test_kernels_allocate_no_more_than_they_declare(name):
    g, _, p = planned(FIXTURES / f"{name}.onnx")
    m = measure(g, p.offsets, p.arena_bytes, random_inputs(g, 0))
    assert not m.over_declared(), m.over_declared()


def test_trace_records_each_kernels_real_accesses():
    g, _, p = planned(FIXTURES / "resnet_f32.onnx")
    outs, trace = run(g, p, random_inputs(g, 0), trace=True)
    size = {n: g.tensors[n].nbytes for n in p.offsets}
    for op in g.operators:
        chunks = trace.for_op(op.index)
        if not chunks:
            assert g.root(op.outputs[0]) == g.root(op.inputs[0])  # a view: no bytes move
            continue
        out = g.root(op.outputs[0])
        written = np.concatenate([a.ranges for c in chunks for a in c.writes])
        assert {a.tensor for c in chunks for a in c.writes} == {out}
        # every output byte is written exactly once, inside the output's planned bytes
        assert int((written[:, 1] - written[:, 0]).sum()) == size[out]
        lo, hi = p.offsets[out], p.offsets[out] + size[out]
        assert written.min() >= lo and written.max() <= hi
        for c in chunks:
            for a in c.reads:
                assert a.tensor in {g.root(t) for t in op.inputs if t}
                assert a.ranges.min() >= p.offsets[a.tensor]
                assert a.ranges.max() <= p.offsets[a.tensor] + size[a.tensor]
    conv = next(o for o in g.operators if o.type == "Conv")
    n, m, oh, ow = g.tensors[conv.outputs[0]].shape
    chunks = trace.for_op(conv.index)
    assert len(chunks) == n * oh  # one output row per chunk
    # chunk k writes row k of every output channel: m ranges of one row each
    rel = list(trace.relative(conv.index, g.root(conv.outputs[0]), "writes"))
    for k, r in enumerate(rel):
        assert len(r) == m and (r[:, 1] - r[:, 0] == ow * 4).all()
        assert r[0, 0] == k * ow * 4
