"""Patch-based inference on ONNX: the rewrite of a small NCHW CNN (built here
with onnx.helper: symbolic batch, strided and depthwise convs, BatchNorm,
Clip, a padded MaxPool, a residual Add) checked in onnxruntime and in
infermem's arena executor; a wrong halo caught; the output guard."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from infermem.cli import main
from infermem.errors import BadInput, Failure
from infermem.rewrite import patch_onnx
from infermem.rewrite.onnx_optimize import compare_in_onnxruntime
from infermem.rewrite.onnx_patch import OnnxSource
from infermem.runtime.reference import Reference
from infermem.runtime.verify import random_inputs

SHAPE = {"x": (1, 3, 32, 32)}
C = 16  # channels after the first conv


def _conv(name, x, cin, cout, k, stride, pad, rng, group=1):
    w = numpy_helper.from_array(
        (rng.standard_normal((cout, cin // group, k, k)) * 0.3).astype(np.float32), name + "_w")
    b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32) * 0.1, name + "_b")
    node = helper.make_node("Conv", [x, w.name, b.name], [name], strides=[stride, stride],
                            pads=[pad] * 4, group=group, kernel_shape=[k, k])
    return node, [w, b]


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    """x[N,3,32,32] -> conv -> relu -> depthwise -> BN -> clip -> maxpool(pad 1)
    -> conv 1x1 (+ shortcut) -> relu -> global pool -> flatten -> gemm."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    first = [_conv("c1", "x", 3, C, 3, 1, 1, rng), _conv("dw", "r1", C, C, 3, 1, 1, rng, C)]
    for node, ws in first:
        nodes.append(node)
        inits += ws
        if node.output[0] == "c1":
            nodes.append(helper.make_node("Relu", ["c1"], ["r1"]))
    bn = [numpy_helper.from_array(v.astype(np.float32), f"bn_{k}") for k, v in enumerate(
        [rng.uniform(0.5, 1.5, C), rng.standard_normal(C), rng.standard_normal(C) * 0.1,
         rng.uniform(0.5, 1.5, C)])]
    inits += bn
    nodes.append(helper.make_node("BatchNormalization", ["dw", *(t.name for t in bn)], ["bn"]))
    inits += [numpy_helper.from_array(np.float32(v), n) for v, n in ((0, "lo"), (6, "hi"))]
    nodes.append(helper.make_node("Clip", ["bn", "lo", "hi"], ["cl"]))
    nodes.append(helper.make_node("MaxPool", ["cl"], ["mp"], kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]))
    node, ws = _conv("pw", "mp", C, C, 1, 1, 0, rng)
    nodes += [node, helper.make_node("Add", ["pw", "mp"], ["res"]),
              helper.make_node("Relu", ["res"], ["r2"]),
              helper.make_node("GlobalAveragePool", ["r2"], ["gp"]),
              helper.make_node("Flatten", ["gp"], ["fl"])]
    inits += ws
    fc = numpy_helper.from_array(rng.standard_normal((C, 4)).astype(np.float32), "fc_w")
    inits.append(fc)
    nodes.append(helper.make_node("MatMul", ["fl", "fc_w"], ["y"]))
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["N", 3, 32, 32])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["N", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("onnxpatch") / "cnn.onnx"
    onnx.save(model, str(path))
    return path


def test_stage_ends_before_the_global_pool(cnn):
    src = OnnxSource(cnn, SHAPE)
    assert "GlobalAveragePool" in src.why
    stage = src.stage()
    assert (stage.output, stage.height, stage.width) == ("r2", 16, 16)
    assert [s.type for s in stage.ops][-3:] == ["Conv", "Add", "Relu"]


@pytest.mark.parametrize("grid", [(2, 2), (3, 2)])
def test_rewrite_matches_onnxruntime_and_keeps_weights_shared(cnn, grid):
    r = patch_onnx(cnn, grid, input_shapes=SHAPE)
    m = onnx.load_from_string(r.data)
    original = onnx.load(str(cnn))
    assert {t.name for t in original.graph.initializer} <= {t.name for t in m.graph.initializer}
    weights = [t for t in m.graph.initializer if not t.name.startswith("patch/")]
    assert len(weights) == len(original.graph.initializer)  # no weight copied
    kinds = {n.op_type for n in m.graph.node}
    assert {"Slice", "Pad", "Concat"} <= kinds
    assert r.macs_after > r.macs_before  # the halos are recomputed
    src = OnnxSource(cnn, SHAPE)
    sets = [random_inputs(src.graph, s) for s in range(3)]
    check = compare_in_onnxruntime(src, r.data, sets)
    assert check.max_error <= check.allowed
    assert check.bit_identical  # short dot products: MLAS sums them in one block


def test_optimize_writes_a_model_that_verify_passes(cnn, tmp_path, capsys):
    out = tmp_path / "p.onnx"
    assert main(["optimize", str(cnn), "--input-shape", "x=1x3x32x32", "--patch", "2x2",
                 "--patch-until", "8", "--dmo", "-o", str(out), "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["patched"] and doc["verified"] and doc["patch_grid"] == [2, 2]
    assert doc["stage_output_varies"] and doc["max_error"] <= doc["tolerance"]
    assert doc["planned_arena_after"] < doc["planned_arena_before"]
    # the rewrite keeps the symbolic batch: it runs on batch 2, as the original
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [3, 32, 32]
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32)
    want, got = Reference(str(cnn)).run({"x": x}), Reference(str(out)).run({"x": x})
    assert np.allclose(got["y"], want["y"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(want["y"][0], want["y"][1])  # outputs vary with the input
    assert main(["verify", str(out), "--input-shape", "x=1x3x32x32", "--dmo"]) == 0


def test_symbolic_batch_needs_input_shape(cnn):
    with pytest.raises(BadInput, match="--input-shape"):
        patch_onnx(cnn, (2, 2))


def test_off_by_one_halo_is_caught(cnn):
    src = OnnxSource(cnn, SHAPE)
    bad = src.patch(src.stage(), (2, 2), shrink_halo=1)
    sets = [random_inputs(src.graph, s) for s in range(2)]
    with pytest.raises(Failure, match="differs from the original"):
        compare_in_onnxruntime(src, bad.data, sets)


def test_output_guard_and_refusals(cnn, tmp_path, capsys):
    base = ["optimize", str(cnn), "--input-shape", "x=1x3x32x32", "--patch", "2x2"]
    assert main([*base, "-o", str(cnn)]) == 2  # the input itself
    assert "refusing to overwrite" in capsys.readouterr().err
    out = tmp_path / "exists.onnx"
    out.write_bytes(b"keep")
    assert main([*base, "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep"
    assert main([*base, "-o", str(tmp_path / "no" / "such" / "dir.onnx")]) == 2
    assert main(["optimize", str(cnn), "--input-shape", "x=1x3x32x32",
                 "-o", str(tmp_path / "x.onnx")]) == 2  # no --patch: nothing to write
    assert "--patch" in capsys.readouterr().err
    assert main([*base, "--patch-until", "6", "-o", str(tmp_path / "y.onnx")]) == 2  # not a cut
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_plan_profile_and_fit_patch_on_onnx(cnn, capsys):
    """The what-ifs agree with each other and with the rewrite `optimize` writes."""
    import json

    shape = ["--input-shape", "x=1x3x32x32", "--patch", "2x2", "--patch-until", "8"]
    assert main(["plan", str(cnn), "--json", *shape]) == 0
    p = json.loads(capsys.readouterr().out)["patch"]
    assert main(["profile", str(cnn), "--json", *shape]) == 0
    q = json.loads(capsys.readouterr().out)["patch"]  # ranked as plan ranks: best plan
    assert q["grid"] == p["grid"] and q["stage_ops"] == p["stage_ops"]
    assert main(["plan", str(cnn), "--dmo", "--json", *shape]) == 0
    p = json.loads(capsys.readouterr().out)["patch"]
    assert p["patched"] and p["arena_after"] < p["arena_before"]
    assert q["stage_after"]["stage_peak_bytes"] < q["stage_before"]["stage_peak_bytes"]
    assert main(["fit", str(cnn), "--budget", "1MiB", "--json", *shape]) == 0
    levels = json.loads(capsys.readouterr().out)["levels"]
    assert levels["patch"]["arena_bytes"] == p["arena_after"]  # best + DMO, as plan --dmo
    assert levels["patch"]["arena_bytes"] < levels["dmo"]["arena_bytes"]
