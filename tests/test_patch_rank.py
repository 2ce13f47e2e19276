"""Patch candidates ranked by the plan the user gets (`optimize --patch --dmo`
ranks by infermem's best plan + DMO, not TFLM's greedy planner), and the patch
figures in `report --json`."""

from __future__ import annotations

import json

import infermem
from infermem.cli import main
from infermem.rewrite.choose import choose

POOL_STEM = "tests/fixtures/patch/pool_stem_int8.tflite"


def test_dmo_ranking_changes_the_choice(tmp_path, capsys):
    # TFLM's planner sees 16,128 B -> 9,808 B with 6x6 patches of operators 0..1 ...
    tflm = choose(POOL_STEM, [(6, 6)])
    assert tflm.result is not None and tflm.ranked_by == "TFLM's own planner"
    # ... but DMO alone already beats every patched candidate planned with DMO
    r = infermem.plan_patched(POOL_STEM, patch="6x6", dmo=True)
    assert r.after is None and r.choice.ranked_by == "infermem's best plan + DMO"
    planned = [c.arena_bytes for c in r.choice.tried if c.arena_bytes is not None]
    assert planned and min(planned) >= r.before.arena_bytes == r.choice.arena_before
    assert "infermem's best plan + DMO" in r.choice.reason
    # without DMO the best plan is what is ranked, and the rewrite wins
    plain = infermem.plan_patched(POOL_STEM, patch="6x6")
    assert plain.after is not None and plain.choice.ranked_by == "infermem's best plan"
    assert plain.after.arena_bytes < plain.before.arena_bytes
    assert plain.choice.arena_after == min(c.arena_bytes for c in plain.choice.tried
                                           if c.arena_bytes is not None)
    # optimize states the ranking; with --dmo it keeps the graph (planned, not patched)
    out = tmp_path / "o.tflite"
    assert main(["optimize", POOL_STEM, "-o", str(out), "--patch", "6x6", "--dmo",
                 "--no-verify", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not doc["patched"] and doc["patch_ranked_by"] == "infermem's best plan + DMO"
    assert doc["planned_arena_bytes"] <= min(planned)


def test_report_json_carries_the_patch_figures(capsys):
    assert main(["report", POOL_STEM, "--json", "--no-measure", "--patch", "6x6",
                 "--patch-until", "1", "--device", "stm32f401"]) == 0
    doc = json.loads(capsys.readouterr().out)["patch"]
    p = infermem.profile_patched(POOL_STEM, patch="6x6", patch_until=1)
    assert doc == json.loads(json.dumps(p.patch_json()))
    assert doc["patched"] and doc["grid"] == [6, 6] and doc["stage_ops"] == [0, 1]
    b, a = doc["stage_before"], doc["stage_after"]
    assert a["stage_peak_bytes"] < b["stage_peak_bytes"] == doc["peak_before"]
    assert a["rest_peak_bytes"] == b["rest_peak_bytes"]  # the rest is untouched
    assert doc["peak_after"] == max(doc["live_after"]) < doc["peak_before"]
    assert len(doc["live_before"]) == doc["ops_before"]
    assert len(doc["live_after"]) == doc["ops_after"]
    assert doc["macs_after"] > doc["macs_before"]
    assert doc["mac_overhead"] == round(doc["macs_after"] / doc["macs_before"] - 1, 6)


def test_patch_composes_with_reorder_and_dmo(tmp_path, capsys):
    # the rewrite's operators reordered, then planned with DMO: verified in TFLM,
    # and smaller than the patched file order's plan the candidates were ranked by
    model = "tests/corpus/resnet8_int8.tflite"
    out = tmp_path / "r8.tflite"
    assert main(["optimize", model, "-o", str(out), "--patch", "2x2", "--patch-until", "7",
                 "--reorder", "--dmo", "--runs", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["patched"] and doc["verified"] and doc["reordered"]
    assert doc["head_after"] == doc["planned_arena_bytes"]
    assert doc["planned_arena_bytes"] < doc["patch_ranked_arena"] < doc["head_before"]
