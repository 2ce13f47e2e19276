"""A `.tflite` that already carries an offline plan: `tflm measure`, `profile`
and `plan` recognise it and predict TFLM's arena with it; and the naive arena
has one definition (the `linear` plan of the runtime's problem).

The DMO model is written by `infermem optimize --dmo` (verified in TFLM);
heads are measured in the tflite-micro interpreter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.frontends import load
from infermem.planners import plan
from infermem.planning import build_problem
from infermem.profile import profile
from infermem.tflm import build, optimize, write_offline_plan
from infermem.tflm.stored import stored_plan

FIXTURES = Path(__file__).parent / "fixtures"
MOBILENET = FIXTURES / "mobilenet_v1_int8.tflite"


@pytest.fixture(scope="module")
def dmo_model(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("stored") / "mobilenet_dmo.tflite"
    r = optimize(MOBILENET, dst, dmo=True, runs=1)
    assert r.verified
    return dst


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_tflm_measure_predicts_the_measured_head_of_a_dmo_model(dmo_model, capsys):
    doc = _json(capsys, ["tflm", "measure", str(dmo_model), "--json", "--no-bisect"])
    stored = doc["stored_offline_plan"]
    assert stored["proven"] and stored["fixed_tensors"] == stored["planned_tensors"]
    assert doc["predicted_head_bytes"] == doc["head_bytes"]
    # TFLM's own greedy plan of the same model (what was predicted before) is larger
    own = plan(build(dmo_model).problem, "tflm").arena_bytes
    assert own > doc["head_bytes"]


def test_measure_without_a_stored_plan_predicts_tflm_s_greedy_head(capsys):
    doc = _json(capsys, ["tflm", "measure", str(MOBILENET), "--json", "--no-bisect"])
    assert doc["stored_offline_plan"] is None
    assert doc["predicted_head_bytes"] == doc["head_bytes"]


def test_profile_and_plan_report_the_stored_plan(dmo_model, capsys):
    prof = _json(capsys, ["profile", str(dmo_model), "--json"])
    planned = _json(capsys, ["plan", str(dmo_model), "--json"])
    expected = stored_plan(dmo_model).to_json()
    assert prof["stored_offline_plan"] == planned["stored_offline_plan"] == expected
    assert expected["predicted_head_bytes"] < planned["arena_bytes"]  # DMO beats no-overlap
    assert _json(capsys, ["profile", str(MOBILENET), "--json"])["stored_offline_plan"] is None
    assert main(["plan", str(dmo_model)]) == 0
    assert "offline plan in the file" in capsys.readouterr().out


def test_a_stored_plan_that_shares_unproven_bytes_is_not_trusted(tmp_path):
    """Every planned tensor at offset 0: TFLM would run it (and compute garbage);
    infermem says the plan is not proven and predicts nothing."""
    tp = build(MOBILENET)
    bad = tmp_path / "all_zero.tflite"
    write_offline_plan(MOBILENET, bad, {i: 0 for i in tp.tensor_buffers.values()})
    s = stored_plan(bad)
    assert s is not None and not s.proven and s.predicted_head_bytes is None
    assert "clash" in s.note


STATIC = [p for p in sorted(FIXTURES.glob("*.tflite")) + sorted(FIXTURES.glob("*.onnx"))
          if "dynbatch" not in p.name]


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.name)
def test_naive_arena_is_the_linear_plan(path):
    graph = load(path)
    naive = profile(graph).naive_bytes
    assert naive == plan(build_problem(graph, graph.file_order), "linear").arena_bytes
