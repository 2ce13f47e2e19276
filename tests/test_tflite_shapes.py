"""TFLite shapes as the runtimes see them: a -1 in a shape signature takes the
stored shape (what TFLM and LiteRT allocate) in every command, with a note;
--input-shape changes the batch consistently, and TFLM, which cannot resize,
refuses a batch other than the stored one.  The fixture is ds_cnn_int8 with
-1 batches written by scripts/make_edited_fixtures.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from infermem.cli import main
from infermem.errors import BadInput
from infermem.frontends import load
from infermem.tflm import optimize, run
from infermem.tflm._model import read_model
from infermem.tflm.inputs import random_inputs, tflm_input_shapes

FIXTURES = Path(__file__).parent / "fixtures"
PLAIN = FIXTURES / "ds_cnn_int8.tflite"
DYN = FIXTURES / "edited" / "ds_cnn_int8_dynbatch.tflite"
SHAPE = "input=4x49x10x1"


def _json(capsys, args: list[str]) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fixture_has_a_dynamic_batch_signature():
    from infermem.frontends.tflite_flatbuffer import parse

    fb = parse(DYN.read_bytes(), str(DYN))
    sig = fb.tensors[fb.inputs[0]].shape_signature
    assert sig is not None and sig[0] == -1 and fb.tensors[fb.inputs[0]].shape[0] == 1


@pytest.mark.parametrize("command", [["profile"], ["plan"], ["plan", "--dmo"]])
def test_stored_shape_default_matches_the_plain_model(command, capsys):
    dyn = _json(capsys, [*command, str(DYN)])
    plain = _json(capsys, [*command, str(PLAIN)])
    assert dyn["dynamic_dims_resolved"] == [
        {"tensor": "input", "signature": [-1, 49, 10, 1], "shape": [1, 49, 10, 1], "dims": [0]}]
    assert len(dyn["shape_notes"]) == 1 and "stored shape" in dyn["shape_notes"][0]
    assert plain["shape_notes"] == [] and plain["dynamic_dims_resolved"] == []
    key = "arena_bytes" if "arena_bytes" in dyn else "peak_bytes"
    assert dyn[key] == plain[key]


def test_table_output_says_so_in_one_line_on_stderr(capsys):
    assert main(["plan", str(DYN)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "[-1, 49, 10, 1] -> [1, 49, 10, 1]" in err[0]
    assert main(["plan", str(DYN), "--input-shape", "input=1x49x10x1"]) == 0
    assert capsys.readouterr().err == ""  # the user fixed it: nothing to say


def test_input_shape_changes_the_batch_of_every_tensor(capsys):
    one, four = load(DYN), load(DYN, {"input": (4, 49, 10, 1)})
    assert four.meta["batch"] == 4
    for name, t in one.tensors.items():
        if t.role.name in ("ACTIVATION", "OUTPUT", "INPUT"):
            assert four.tensors[name].nbytes == 4 * t.nbytes, name
    p1 = _json(capsys, ["plan", str(DYN)])
    p4 = _json(capsys, ["plan", str(DYN), "--input-shape", SHAPE])
    for t in p4["tensors"]:
        if t["name"] in four.tensors:
            assert t["bytes"] == -(-four.tensors[t["name"]].nbytes // 16) * 16, t["name"]
    assert p4["arena_bytes"] > 3 * p1["arena_bytes"]


def test_tflm_runs_the_dynamic_batch_file_as_stored():
    model = read_model(DYN)
    x = [random_inputs(model, 0)]
    a, b = run(DYN, x), run(PLAIN, x)
    assert a.head_bytes == b.head_bytes
    assert all(np.array_equal(p, q) for p, q in zip(a.outputs[0], b.outputs[0], strict=True))


def test_optimize_dmo_on_the_dynamic_batch_is_bit_identical(tmp_path, capsys):
    r = optimize(DYN, tmp_path / "dmo.tflite", dmo=True, runs=2)
    assert r.verified and r.verification.first_difference is None
    assert r.head_after < r.head_before
    doc = _json(capsys, ["optimize", str(DYN), "-o", str(tmp_path / "cli.tflite"), "--dmo",
                         "--runs", "1", "--input-shape", "input=1x49x10x1", "--align", "32"])
    assert doc["verified"] and doc["alignment"] == 32 and doc["shape_notes"] == []
    assert doc["planned_arena_bytes"] % 32 == 0


@pytest.mark.parametrize("command", [["optimize", "-o", "{out}"], ["tflm", "measure"]])
def test_tflm_commands_refuse_a_batch_tflm_cannot_run(command, tmp_path, capsys):
    args = [a.format(out=tmp_path / "o.tflite") for a in command]
    head, tail = (args[:2], []) if args[0] == "tflm" else (args[:1], args[1:])
    assert main([*head, str(DYN), *tail, "--input-shape", SHAPE]) == 2
    err = capsys.readouterr().err
    assert "cannot resize" in err and "--input-shape input=1x49x10x1" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.tflite").exists()
    with pytest.raises(BadInput, match="fixed at 49"):
        tflm_input_shapes(DYN, {"input": (1, 50, 10, 1)})


def test_tflm_commands_refuse_alignment_finer_than_tflm(capsys):
    assert main(["tflm", "measure", str(DYN), "--no-bisect", "--align", "8"]) == 2
    assert "16 bytes" in capsys.readouterr().err


def test_tflm_measure_reports_the_note():
    shapes = tflm_input_shapes(DYN, {})
    assert shapes["dynamic_dims_resolved"][0]["dims"] == [0]
    assert tflm_input_shapes(PLAIN, {}) == {"shape_notes": [], "dynamic_dims_resolved": []}


def test_fit_at_another_batch_does_not_quote_tflm_at_the_stored_one(capsys):
    doc = _json(capsys, ["fit", str(DYN), "--input-shape", SHAPE, "--device", "nrf52840"])
    assert "cannot resize to batch 4" in doc["persistent"]["source"]
    assert "measured" not in doc["levels"]["runtime"]["how"]
    assert doc["shape_notes"] == []
