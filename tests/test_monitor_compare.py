"""`infermem monitor MODEL --runtime all`: one model on every runtime, beside
infermem's prediction and onnxruntime's own allocator counters.  Real runtimes,
the bundled example and fixture models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_monitor_cli import cli

from infermem.monitor.ortprofile import parse_profile, profile_allocator
from infermem.report.runtimes_section import runtimes_section
from infermem.sidebyside.compare import compare_runtimes, comparison_dict, parse_runtimes
from infermem.sidebyside.predict import static_figures

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLE = Path(__file__).parents[1] / "src/infermem/examples/mobilenet_v1_int8.tflite"
ONNX = FIXTURES / "inception_block_f32.onnx"


def test_runtime_all_on_the_bundled_example(capsys, tmp_path):
    out = tmp_path / "all.json"
    assert cli(str(EXAMPLE), "--runtime", "all", "--runs", "5", "--warmup", "1",
               "--json-out", str(out)) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "side by side" in text and "onnxruntime: not run: onnxruntime runs .onnx" in text
    d = json.loads(out.read_text())
    table = {r["runtime"]: r for r in d["table"]}
    assert set(table) == {"onnxruntime", "litert", "tflm"}
    assert table["onnxruntime"]["unavailable"]
    for rt in ("litert", "tflm"):
        row = table[rt]
        assert row["ok"] and row["peak_rss_bytes"] > row["load_bytes"] > 0
        assert row["steady_inference_s"] > 0 and row["first_inference_bytes"] is not None
    # TFLM: arena sized from infermem's plan + TFLM's tail; the head TFLM planned
    # is infermem's `tflm` plan exactly, and the arena it got holds head + tail
    static = static_figures(str(EXAMPLE))
    tflm = d["runs"]["tflm"]
    assert table["tflm"]["tflm_head_bytes"] == static.arena_bytes
    assert tflm["arena_size"] >= table["tflm"]["tflm_head_bytes"] + table["tflm"]["tflm_tail_bytes"]
    assert tflm["arena_size"] < 2 * (static.arena_bytes + table["tflm"]["tflm_tail_bytes"])
    pred = tflm["prediction"]
    assert pred["parts"]["planned_arena_bytes"] == static.arena_bytes
    assert pred["parts"]["runtime_baseline_bytes"] > 10 << 20
    m, e = pred["measured_peak_rss_bytes"], pred["expected_peak_rss_bytes"]
    assert pred["unexplained_bytes"] == m - e and abs(m - e) < 0.5 * m
    # the HTML report's section takes the same document
    html = runtimes_section(d)
    assert html.count("<tr>") == 3 and "onnxruntime: not run" in html and "tflm" in html


def test_runtime_list_on_an_onnx_model_with_the_allocator_profile(capsys):
    comp = compare_runtimes(str(ONNX), ["onnxruntime", "tflm"], runs=5, warmup=1)
    d = comparison_dict(comp)
    table = {r["runtime"]: r for r in d["table"]}
    assert table["tflm"]["unavailable"] and table["onnxruntime"]["ok"]
    alloc = d["runs"]["onnxruntime"]["allocator"]
    assert alloc["ops"], alloc["note"]
    # the allocator's peak is at least the largest single activation (its output)
    assert alloc["peak_in_use_bytes"] >= max(o["output_bytes"] for o in alloc["ops"])
    assert alloc["peak_node"] and alloc["arena_held_bytes"] >= alloc["peak_in_use_bytes"]
    pred = d["runs"]["onnxruntime"]["prediction"]
    assert pred["parts"]["weights_copy_bytes"] == static_figures(str(ONNX)).weights_bytes


def test_allocator_profile_finds_kernel_scratch():
    """A 3x3 convolution (30 channels: onnxruntime keeps it in NCHW, where MLAS
    builds im2col tiles): its scratch raises the allocator's peak above the
    output, all a static plan puts in the runtime's arena for it."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((30, 30, 3, 3), np.float32), "w")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], group=1)], "c",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 30, 56, 56])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 30, 56, 56])], [w],
    )  # fmt: skip
    path = Path(__file__).parent / ".conv_scratch.onnx"
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    try:
        onnx.save(model, str(path))
        p = profile_allocator(str(path))
    finally:
        path.unlink(missing_ok=True)
    assert p.ops, p.note
    conv = next(o for o in p.ops if o.op_type == "Conv")
    assert conv.output_bytes == 30 * 56 * 56 * 4  # the graph input is the caller's buffer
    assert conv.transient_bytes >= 16 << 10, conv
    assert conv.peak_after_bytes >= conv.output_bytes + conv.transient_bytes, conv


def test_profile_without_allocator_counters_is_said_plainly():
    events = [{"cat": "Node", "name": "n_kernel_time", "ts": 1, "args": {"op_name": "Conv",
               "output_size": "4"}}]  # fmt: skip
    p = parse_profile(events, "1.0")
    assert not p.ops and "records no allocator counters" in p.note and "output_size" in p.note


def test_parse_runtimes():
    assert parse_runtimes("all", "m.onnx") == ["onnxruntime", "litert", "tflm"]
    assert parse_runtimes("tflm, litert", "m.tflite") == ["tflm", "litert"]
    assert parse_runtimes(None, "m.tflite") == ["tflm"]
    with pytest.raises(Exception, match="unknown runtime"):
        parse_runtimes("onnxruntime,bogus", "m.onnx")


def test_json_goes_to_stdout_and_nothing_else_does(tmp_path):
    """--json prints the document alone on stdout (no runtime chatter, such as
    TFLM's "Input index 1 out of range"); files only with --json-out."""
    proc = subprocess.run(
        [sys.executable, "-m", "infermem", "monitor", str(EXAMPLE), "--runs", "3", "--json",
         "--no-prediction"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["info"]["runtime"] == "tflm" and int(d["info"]["tflm_head_bytes"]) > 0
    assert "out of range" not in proc.stdout + proc.stderr and list(tmp_path.iterdir()) == []


def test_outputs_go_through_the_guard(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    model.write_bytes(EXAMPLE.read_bytes())
    before = model.read_bytes()
    for opt in ("--json-out", "--csv", "--plot"):
        assert cli(str(model), opt, str(model)) == 2  # the model itself
    assert cli(str(model), "--json-out", str(tmp_path)) == 2  # a folder
    assert cli(str(model), "--csv", str(tmp_path / "no" / "t.csv")) == 2  # missing folder
    assert cli(str(model), "--plot", str(tmp_path / "t.txt")) == 2  # not an image name
    script = tmp_path / "app.py"
    script.write_text("print(1)\n")
    assert cli("--json-out", str(script), "--", sys.executable, str(script)) == 2
    err = capsys.readouterr().err
    assert err.count("infermem: error:") == 7 and "Traceback" not in err
    assert model.read_bytes() == before and script.read_text() == "print(1)\n"
    out = tmp_path / "t.csv"
    out.write_text("keep")
    assert cli("--csv", str(out), "--", "true") == 2 and out.read_text() == "keep"
    assert cli("--csv", str(out), "--force", "--", "sleep", "0.2") == 0
    assert out.read_text().startswith("t_s,rss_bytes")
    assert f"infermem: wrote {out}" in capsys.readouterr().err
