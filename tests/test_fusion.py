"""Fusion-aware plans (`--fuse`): the groups each runtime's rules form on the
small transformers of tests/corpus, the fused plan against the unfused one,
and `verify --fuse` proving it (and catching a fused plan that is wrong)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.frontends import load
from infermem.fusion import find, fused_graph
from infermem.planners.validate import validate
from infermem.planning import plan_model
from infermem.runtime.verify import random_inputs, verify

CORPUS = Path(__file__).parent / "corpus"
SEQ = 16
BERT_SHAPES = {n: (1, SEQ) for n in ("input_ids", "attention_mask", "token_type_ids")}
GPT2_SHAPES = {n: (1, SEQ) for n in ("input_ids", "attention_mask")}


@pytest.fixture(scope="module")
def bert():
    return load(CORPUS / "bert_tiny.onnx", BERT_SHAPES)


@pytest.fixture(scope="module")
def gpt2():
    return load(CORPUS / "gpt2_tiny.onnx", GPT2_SHAPES)


def _types(graph, fusion) -> list[list[str]]:
    return [[graph.operators[i].type for i in x.ops] for x in fusion.layouts]


def test_tvm_fuses_bias_gelu_and_the_scaled_masked_scores_on_bert(bert):
    groups = _types(bert, find(bert, "tvm"))
    gelu = ["MatMul", "Add", "Div", "Erf", "Add", "Mul", "Mul"]  # MatMul + bias + GELU (erf)
    scores = ["MatMul", "Div", "Add"]  # QK^T, scaled, masked: what the softmax reads
    assert groups.count(gelu) == 2 and groups.count(scores) == 2  # one per layer
    assert all("Softmax" not in g for g in groups)  # an anchor: TVM never fuses it after another


def test_ort_fuses_layernorm_decompositions_and_gelu(bert, gpt2):
    groups = _types(gpt2, find(gpt2, "ort"))
    layernorm = ["ReduceMean", "Sub", "Pow", "ReduceMean", "Add", "Sqrt", "Div", "Mul", "Add"]
    assert sum(g[-len(layernorm):] == layernorm for g in groups) == 5  # every LayerNorm
    assert sum("Tanh" in g for g in groups) == 2  # FastGelu, one per layer
    bert_groups = _types(bert, find(bert, "ort"))
    assert ["Add", "Div", "Erf", "Add", "Mul", "Mul"] in bert_groups  # BiasGelu
    assert ["Add", "Add", "LayerNormalization"] in bert_groups  # SkipLayerNormalization


def test_fused_intermediates_leave_the_arena(bert):
    fusion = find(bert, "tvm")
    fused = fused_graph(bert, fusion)
    for x in fusion.layouts:
        assert not set(x.internal) & set(fused.tensors)
        assert x.output in fused.tensors and x.scratch_bytes < sum(
            bert.tensors[t].nbytes for t in x.internal)
    assert len(fused.operators) == len(bert.operators) - sum(len(x.ops) - 1
                                                            for x in fusion.layouts)


@pytest.mark.parametrize("runtime", ["tvm", "ort"])
def test_fused_plan_is_valid_and_smaller(bert, runtime):
    plain = plan_model(bert)
    fused = plan_model(bert, fuse=runtime)
    validate(fused.problem, fused.plan.offsets)
    assert fused.plan.arena_bytes < plain.plan.arena_bytes


@pytest.mark.parametrize("runtime", ["tvm", "ort"])
def test_verify_fuse_passes_on_the_transformers(bert, gpt2, runtime):
    for graph in (bert, gpt2):
        pm = plan_model(graph, fuse=runtime, dmo=True)
        r = verify(graph, graph.source, pm.plan.offsets, pm.plan.arena_bytes, pm.order,
                   strategy="best", planned=pm.graph)
        assert r.ok, r.summary()
        assert not r.constant  # the outputs vary with the input: the check means something


def test_verify_fuse_passes_on_a_cnn(capsys):
    model = CORPUS / "resnet8_tf2onnx.onnx"
    assert main(["verify", str(model), "--input-shape", "input=1x32x32x3", "--fuse",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and "fuse tvm" in doc["strategy"]
    graph = load(model, {"input": (1, 32, 32, 3)})
    assert find(graph, "tvm").layouts  # the residual Add + Relu chains are fused


def test_verify_catches_a_scratch_over_a_live_input(bert):
    """A fused group reads its inputs in every chunk: a plan that puts the
    group's scratch over one of them is wrong, and verify must say so."""
    pm = plan_model(bert, fuse="tvm")
    g = pm.graph
    op = next(o for o in g.operators if o.type == "FusedGroup" and len(o.outputs) == 2
              and "Erf" in o.name)
    scratch, victim = op.outputs[1], g.root(op.inputs[0])
    offsets = {**pm.plan.offsets, scratch: pm.plan.offsets[victim]}
    arena = max(pm.plan.arena_bytes, offsets[scratch] + g.tensors[scratch].nbytes)
    feeds = [random_inputs(bert, s) for s in range(2)]
    r = verify(bert, bert.source, offsets, arena, pm.order, feeds, planned=g)
    assert not r.ok and r.divergence is not None
    assert r.divergence.op == op.index and r.divergence.kind == "computed"
    good = verify(bert, bert.source, pm.plan.offsets, pm.plan.arena_bytes, pm.order, feeds,
                  planned=g)
    assert good.ok  # the same check passes the plan as planned


def test_dmo_rules_of_fused_groups_match_the_executors_trace(bert):
    """A FusedGroup's analytic overlap rule (its chunks; an epilogue: its
    first operator's) is the chunk order the executor really runs."""
    from infermem.fusion import fuse
    from infermem.overlap.onnx_trace import rule_mismatches

    for runtime in ("tvm", "ort"):
        fused = fuse(bert, runtime)
        assert rule_mismatches(fused) == []
    plain, fused = plan_model(bert, dmo=True), plan_model(bert, fuse="ort", dmo=True)
    assert any(o.output.endswith("Mul_1_output_0") for o in fused.problem.overlaps)  # BiasGelu
    assert fused.plan.arena_bytes < min(plain.plan.arena_bytes,
                                        plan_model(bert, fuse="ort").plan.arena_bytes)


def test_cli_fuse_levels_and_refusals(capsys, tmp_path):
    args = [str(CORPUS / "bert_tiny.onnx")]
    for name, dims in BERT_SHAPES.items():
        args += ["--input-shape", f"{name}={'x'.join(map(str, dims))}"]
    assert main(["plan", *args, "--fuse", "ort", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fusion"]["runtime"] == "ort" and doc["fusion"]["groups"] > 0
    plan_file = tmp_path / "plan.json"
    assert main(["plan", *args, "--fuse", "ort", "-o", str(plan_file), "-q"]) == 0
    assert main(["verify", *args, "--plan", str(plan_file), "--json"]) == 0  # fused again
    assert json.loads(capsys.readouterr().out)["ok"]
    assert main(["fit", *args, "--fuse", "--json", "--device", "rpi4"]) == 0
    levels = json.loads(capsys.readouterr().out)["levels"]
    assert levels["fuse"]["arena_bytes"] < levels["infermem"]["arena_bytes"]
    assert main(["plan", str(CORPUS / "resnet8_f32.tflite"), "--fuse"]) == 2
    assert "ONNX" in capsys.readouterr().err
    from infermem.fit import model_needs

    tflite = model_needs(load(CORPUS / "resnet8_f32.tflite"), fuse="tvm").level("fuse")
    assert not tflite.available and "ONNX only" in tflite.how  # fit, report, sweep: n/a
    assert main(["plan", *args, "--fuse", "xla"]) == 2


def test_layout_refuses_what_cannot_run_row_by_row(bert):
    from infermem.fusion.chunk import layout

    ln = next(o.index for o in bert.operators if o.type == "LayerNormalization")
    q = bert.consumers[bert.operators[ln].outputs[0]][0]  # Q, K and V all read the LayerNorm
    assert "one output" in layout(bert, (ln, q))
    softmax = next(o.index for o in bert.operators if o.type == "Softmax")
    pv = bert.consumers[bert.operators[softmax].outputs[0]][0]  # probs @ V: row by row
    assert not isinstance(layout(bert, (softmax, pv)), str)
    qk = next(o for o in bert.operators if o.type == "MatMul"
              and bert.operators[bert.producers.get(o.inputs[1], 0)].type == "Transpose")
    assert "row by row" in layout(bert, (bert.producers[qk.inputs[1]], qk.index))  # K^T
    gather = next(o.index for o in bert.operators if o.type == "Gather")
    epilogue = layout(bert, (gather, bert.consumers[bert.operators[gather].outputs[0]][0]))
    assert epilogue.inplace and epilogue.scratch_bytes == 0  # Add finishes in Gather's buffer


def test_fused_group_keeps_its_ops_and_order(bert):
    fused = fused_graph(bert, find(bert, "tvm"))
    assert fused.file_order == tuple(range(len(fused.operators)))  # a valid schedule
    op = next(o for o in fused.operators if o.type == "FusedGroup")
    assert replace(op, attrs={}).name.startswith("fused[")
