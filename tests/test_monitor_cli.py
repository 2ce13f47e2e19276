"""`infermem monitor`: real child processes, real runtimes, real model files.

Models: the fixtures in tests/fixtures and onnx's bundled light SqueezeNet
(weights made at run time by ConstantOfShape, so the file is small but the
activations are full size).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, shape_inference

from infermem.cli import monitor as monitor_cli
from infermem.errors import InfermemError
from infermem.monitor.runner import monitor_model

FIXTURES = Path(__file__).parent / "fixtures"
SQUEEZENET = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
TFLITE = FIXTURES / "ds_cnn_int8.tflite"
PHASES = {"name", "start_s", "end_s", "peak_rss_bytes", "growth_bytes"}


def cli(*argv: str) -> int:
    """The monitor subcommand as `infermem` runs it: exit code, errors printed."""
    parser = argparse.ArgumentParser(prog="infermem")
    monitor_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["monitor", *argv])
    try:
        return args.func(args)
    except InfermemError as e:
        print(f"infermem: error: {e}", file=sys.stderr)
        return e.exit_code


def largest_working_set(path: Path) -> int:
    """Bytes of the largest operator's activation inputs + outputs (onnx shape
    inference): a first inference must allocate at least this much once."""
    m = shape_inference.infer_shapes(onnx.load(str(path)))
    size = {}
    for vi in [*m.graph.value_info, *m.graph.output]:
        t = vi.type.tensor_type
        dims = [d.dim_value for d in t.shape.dim]
        if dims and all(d > 0 for d in dims):
            item = helper.tensor_dtype_to_np_dtype(t.elem_type).itemsize
            size[vi.name] = int(np.prod(dims)) * item
    return max(sum(size.get(x, 0) for x in [*n.input, *n.output]) for n in m.graph.node)


def test_onnxruntime_phases_and_first_inference_extra(tmp_path, capsys):
    out, png = tmp_path / "m.json", tmp_path / "timeline.png"
    rc = cli(str(SQUEEZENET), "--runs", "12", "--warmup", "2", "--json-out", str(out), "--plot",
             str(png))  # fmt: skip
    assert rc == 0
    d = json.loads(out.read_text())
    names = [p["name"] for p in d["phases"]]
    assert names == ["import", "load", "session", "inputs", "first_inference", "warmup", "steady"]
    assert all(PHASES <= set(p) for p in d["phases"])
    assert {"detected", "slope_bytes_per_run", "ci_low", "ci_high"} <= set(d["leak"])
    ph = {p["name"]: p for p in d["phases"]}
    assert d["peak_rss_bytes"] >= max(p["peak_rss_bytes"] for p in d["phases"])
    assert ph["import"]["growth_bytes"] > 10 << 20  # onnxruntime's shared libraries
    # the first inference allocates onnxruntime's activation arena once ...
    ws = largest_working_set(SQUEEZENET)
    first = d["costs"]["first_inference_peak_delta_bytes"]
    assert 0.9 * ws <= first <= 2 * ws + (4 << 20), (first, ws)
    # ... and steady-state inferences reuse it
    assert d["costs"]["steady_peak_delta_bytes_median"] < 0.05 * ws
    assert d["iterations"]["count"] == 12 and len(d["iterations"]["post_rss_bytes"]) == 12
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(d["timeline"]["t_s"]) == d["samples"] > 20
    text = capsys.readouterr().out
    assert "first inference extra peak" in text and "no leak detected" in text


@pytest.mark.slow
def test_twenty_clean_onnxruntime_runs_are_never_flagged():
    """Twenty fresh processes, 100 steady inferences each; two at a time."""
    model = str(FIXTURES / "ds_cnn_f32.onnx")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: monitor_model(model, runs=100, warmup=5), range(20)))
    assert all(r.error is None for r in results)
    verdicts = [r.leak for r in results]
    assert all(v.assessed for v in verdicts)
    flagged = [v.reason for v in verdicts if v.detected]
    assert not flagged, flagged
    slopes = [round(v.slope_bytes_per_run) for v in verdicts]
    print("clean slopes, bytes/run:", slopes)


LEAKY_APP = """
    import sys
    import numpy as np
    import onnxruntime as ort
    import infermem

    kept = []
    with infermem.Monitor(interval_ms=2) as mon:
        with mon.phase("load"):
            sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
            x = np.zeros([d if isinstance(d, int) else 1 for d in sess.get_inputs()[0].shape],
                         np.float32)
        with mon.phase("steady"):
            for _ in range(200):
                with mon.iteration():
                    sess.run(None, {sess.get_inputs()[0].name: x})
                    kept.append(np.full(4096, 1.0, np.float32))  # 16 KiB leaked per run
        with mon.phase("postprocess"):
            total = sum(float(k[0]) for k in kept)
"""


def test_command_with_phases_and_a_16k_leak(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(LEAKY_APP))
    out = tmp_path / "cmd.json"
    model = FIXTURES / "ds_cnn_f32.onnx"
    rc = cli("--json-out", str(out), "--", sys.executable, str(app), str(model))
    assert rc == 0
    d = json.loads(out.read_text())
    assert [p["name"] for p in d["phases"]] == ["load", "steady", "postprocess"]
    assert d["iterations"]["count"] == 200
    assert d["leak"]["detected"], d["leak"]["reason"]
    assert 16 * 1024 <= d["leak"]["slope_bytes_per_run"] <= 17 * 1024
    steady = next(p for p in d["phases"] if p["name"] == "steady")
    assert steady["growth_bytes"] >= 200 * 16 * 1024 * 0.9


def test_litert_and_tflm_runs():
    for runtime in ("litert", "tflm"):
        r = monitor_model(str(TFLITE), runtime, runs=20, warmup=2)
        assert r.error is None, r.error
        assert [p.name for p in r.phases][:3] == ["import", "load", "session"]
        assert r.leak.assessed and not r.leak.detected
        assert r.info["runtime"] == runtime and "int8" in r.info["inputs"]


def test_dynamic_input_needs_a_shape():
    model = FIXTURES / "mobilenet_v1_dynbatch.onnx"
    inp = onnx.load(str(model)).graph.input[0]
    dims = [d.dim_value or 2 for d in inp.type.tensor_type.shape.dim]  # dynamic -> 2
    assert 2 in dims
    r = monitor_model(str(model), runs=3, warmup=0)
    assert r.error.kind == "bad_input" and "--input-shape" in r.error.message
    ok = monitor_model(str(model), runs=3, warmup=0, input_shapes={inp.name: tuple(dims)})
    assert ok.error is None and str(dims) in ok.info["inputs"]


# -- bad input: clear message, non-zero exit, partial timeline saved ---------------


def test_failing_command_keeps_its_partial_timeline(tmp_path, capsys):
    out, png = tmp_path / "f.json", tmp_path / "f.png"
    code = "import sys, time; x = bytearray(30_000_000); time.sleep(0.1); sys.exit(3)"
    rc = cli("--json-out", str(out), "--plot", str(png), "--", sys.executable, "-c", code)
    assert rc == 1
    err = capsys.readouterr().err
    assert "exited with status 3" in err and "partial timeline saved" in err
    d = json.loads(out.read_text())
    assert d["ok"] is False and d["exit_code"] == 3 and d["samples"] > 5
    assert d["peak_rss_bytes"] >= 30_000_000
    assert png.exists()


def test_model_that_fails_to_load(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" * 40)
    out = tmp_path / "b.json"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from infermem.cli import main; sys.exit(main())",
         "monitor", str(bad), "--json-out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "could not load the model" in proc.stderr and "Traceback" not in proc.stderr
    d = json.loads(out.read_text())
    assert [p["name"] for p in d["phases"]] == ["import", "load", "session"]
    assert d["error"]["phase"] == "session" and d["samples"] > 0


def test_tflite_runtime_on_a_non_tflite_file_and_a_crashing_arena(tmp_path, capsys):
    assert cli(str(FIXTURES / "ds_cnn_f32.onnx"), "--runtime", "tflm") == 2
    assert "tflm runs .tflite files" in capsys.readouterr().err
    assert cli(str(TFLITE), "--runtime", "tflm", "--arena-size", "64", "--runs", "3") == 1
    err = capsys.readouterr().err
    assert "signal SIGSEGV" in err and "--arena-size" in err


def test_runtime_not_installed(tmp_path):
    """A bare virtual environment (no onnxruntime) as the model's Python."""
    env = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    out = tmp_path / "n.json"
    rc = cli(str(FIXTURES / "ds_cnn_f32.onnx"), "--python", str(python), "--json-out", str(out))
    assert rc == 2
    d = json.loads(out.read_text())
    assert (
        "not installed" in d["error"]["message"]
        and "pip install onnxruntime" in (d["error"]["message"])
    )
    assert d["error"]["phase"] == "import" and d["phases"][0]["complete"]


def test_usage_errors(tmp_path, capsys):
    assert cli(str(tmp_path / "missing.onnx")) == 2
    assert cli("--", "no-such-program-infermem") == 2
    assert cli("--runtime", "tflm", "--", "true") == 2
    assert cli("--interval-ms", "0.2", "--", "true") == 2
    assert cli() == 2
    err = capsys.readouterr().err
    assert "no such model file" in err and "cannot run" in err and "apply to a model" in err


def test_timeout_stops_a_hanging_command(tmp_path, capsys):
    rc = cli("--timeout", "1", "--", sys.executable, "-c", "import time; time.sleep(60)")
    assert rc == 1
    assert "timed out after 1 s" in capsys.readouterr().err


@pytest.mark.parametrize("interval", ["1", "20"])
def test_interval_sets_the_sampling_period(interval, tmp_path):
    out = tmp_path / "i.json"
    code = "import time; time.sleep(0.4)"
    assert (
        cli("--interval-ms", interval, "--json-out", str(out), "--", sys.executable, "-c", code)
        == 0
    )
    t = np.asarray(json.loads(out.read_text())["timeline"]["t_s"])
    period = float(np.median(np.diff(t)))
    assert float(interval) / 1e3 * 0.8 <= period <= float(interval) / 1e3 * 2.5
