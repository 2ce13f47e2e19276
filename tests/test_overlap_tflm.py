"""DMO on the real runtime: every DMO plan runs in TFLM with bit-identical
outputs and a measured head equal to the planned arena; the proven overlaps
never exceed what TFLM itself tolerates (analytic <= traced <= empirical);
and one byte beyond the analytic bound of a 3x3 convolution breaks TFLM."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from infermem.frontends.tflite import load_tflite
from infermem.overlap import prove
from infermem.tflm import write_offline_plan
from infermem.tflm.dmo import dmo_layout
from infermem.tflm.empirical import Prober, search

FIX = Path(__file__).parent / "fixtures"
REAL = sorted(FIX.glob("*.tflite"))
ZOO = sorted((FIX / "dmo").glob("*.tflite"))


@pytest.mark.slow
def test_dmo_plans_run_in_tflm_bit_identical_with_the_planned_head(tmp_path):
    savings = {}
    for path in REAL + ZOO:
        layout = dmo_layout(path)
        out = tmp_path / path.name
        write_offline_plan(path, out, layout.offsets)
        with Prober(path, runs=3) as prober:
            identical, head = prober.compare(out)
            tflm_head = prober.head
        assert identical, f"{path.name}: DMO plan changes TFLM's outputs"
        assert head == layout.realised.arena_bytes, path.name
        assert tflm_head == layout.own.arena_bytes, path.name  # the tflm strategy is TFLM
        assert head <= tflm_head, path.name
        if path in REAL:
            savings[path.stem] = 1 - head / tflm_head
    assert len(savings) >= 8
    assert {"float32", "int8"} <= {("int8" if "int8" in k else "float32") for k in savings}
    assert statistics.median(savings.values()) >= 0.20, savings
    assert max(savings.values()) >= 0.345, savings


# One operator of each kind the fixtures have, plus every operator of the zoo.
SAMPLE = [
    ("resnet_int8", (2, 6, 3)),  # 3x3 conv with a row margin, 1x1 stride-2 conv, ADD
    ("mobilenet_v2_int8", (3, 4)),  # expanding 1x1 conv, stride-2 depthwise
    ("mobilenet_v3_small_f32", None),  # MUL, HARD_SWISH, MEAN: first of each below
    ("inception_block_int8", None),  # CONCATENATION, MAX_POOL_2D
    ("ds_cnn_f32", None),  # AVERAGE_POOL_2D
    ("tiny_unet_int8", None),  # RESIZE_NEAREST_NEIGHBOR
]
KINDS = {"MUL", "HARD_SWISH", "MEAN", "CONCATENATION", "MAX_POOL_2D", "AVERAGE_POOL_2D",
         "RESIZE_NEAREST_NEIGHBOR"}  # fmt: skip


def _pick(proofs, ops):
    if ops is not None:
        return [p for p in proofs if p.op_index in ops]
    seen, out = set(), []
    for p in proofs:
        if p.op_type in KINDS and p.op_type not in seen:
            seen.add(p.op_type)
            out.append(p)
    return out


def _check_ordering(path: Path, picked):
    g = load_tflite(path, None)
    rows = []
    with Prober(path, runs=3) as prober:
        traced = {(p.op_index, p.input): p for p in prove(g, None, prober.tp.problem, ("traced",))}
        for a in picked:
            t = traced[(a.op_index, a.input)]
            e = search(prober, a.output, a.input)
            rows.append((a.op_type, a.max_bytes, t.max_bytes, e.max_bytes))
            assert a.max_bytes <= e.max_bytes, f"{path.name} op {a.op_index}: analytic > empirical"
            if t.distance is not None:
                assert a.max_bytes <= t.max_bytes <= e.max_bytes, (path.name, a.op_index)
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_every_zoo_operator_analytic_le_traced_le_empirical(path):
    g = load_tflite(path, None)
    from infermem.tflm.problem import build

    proofs = prove(g, None, build(path).problem)
    rows = _check_ordering(path, proofs)
    assert len(rows) == len(proofs) >= 9


@pytest.mark.slow
def test_fixture_operators_analytic_le_traced_le_empirical():
    from infermem.tflm.problem import build

    kinds = set()
    for name, ops in SAMPLE:
        path = FIX / f"{name}.tflite"
        picked = _pick(prove(load_tflite(path, None), None, build(path).problem), ops)
        assert picked, name
        kinds |= {r[0] for r in _check_ordering(path, picked)}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"} | KINDS <= kinds


@pytest.mark.slow
def test_one_byte_beyond_the_bound_breaks_a_3x3_convolution():
    """resnet op 2: 3x3 stride-1 SAME int8 conv.  At exactly the analytic
    distance TFLM's outputs are unchanged; one byte closer (and one alignment
    unit closer: TFLM offsets are multiples of 16) they differ.  Byte offsets
    are fine for TFLM: it never checks or aligns offline offsets."""
    path = FIX / "resnet_int8.tflite"
    g = load_tflite(path, None)
    with Prober(path, runs=3) as prober:
        p = next(p for p in prove(g, None, prober.tp.problem) if p.op_index == 2)
        assert g.operators[2].type == "CONV_2D" and p.distance % 16 != 0
        d = p.distance
        assert prober.identical(p.output, p.input, d)
        assert not prober.identical(p.output, p.input, d - 1)
        aligned = p.output_bytes - p.max_bytes  # the distance a plan can use
        assert aligned == -(-d // 16) * 16
        assert prober.identical(p.output, p.input, aligned)
        assert not prober.identical(p.output, p.input, aligned - 16)


@pytest.mark.slow
def test_cli_optimize_dmo_verified_in_tflm(tmp_path, capsys):
    import json

    from infermem.cli import main

    out = tmp_path / "ds_cnn_dmo.tflite"
    model = str(FIX / "ds_cnn_int8.tflite")
    assert main(["optimize", model, "-o", str(out), "--dmo", "--json", "--runs", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dmo"] and doc["verified"]
    assert doc["head_after"] == doc["planned_arena_bytes"] < doc["head_before"]
    assert doc["head_before"] == doc["tflm_arena_bytes"]
