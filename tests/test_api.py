"""The Python API: one function per command, typed frozen results whose
`.to_json()` is exactly what the command's `--json` prints, and a package
import that stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import infermem
import infermem.api
from infermem.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
DS_CNN = FIXTURES / "ds_cnn_int8.tflite"
RESNET_ONNX = FIXTURES / "resnet_f32.onnx"


def _cli_json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _frozen(result) -> None:
    assert dataclasses.is_dataclass(result)
    field = dataclasses.fields(result)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(result, field, None)


def test_api_names_are_callable_and_their_modules_still_import():
    """`infermem.profile` is the API function and `infermem/profile.py` a module:
    the module stays a module (every import form works) and is callable."""
    import infermem.fit  # noqa: F401  (the submodules of the same name)
    import infermem.report.html as html_module
    from infermem.profile import profile as profile_of_graph

    for name in ("load", "profile", "plan", "optimize", "verify", "fit", "monitor", "report",
                 "measure", "quantize", "demo"):
        assert callable(getattr(infermem, name)), name
        assert getattr(infermem.api, name).__doc__, f"infermem.api.{name} has no docstring"
    assert callable(html_module.render) and callable(profile_of_graph)
    assert infermem.profile(DS_CNN).profile.peak_bytes == infermem.api.profile(
        DS_CNN).profile.peak_bytes


def test_importing_infermem_loads_nothing_heavy():
    code = ("import sys, infermem; heavy = [m for m in ('numpy', 'onnx', 'rich', 'infermem.api')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_building_the_cli_loads_nothing_heavy():
    """`infermem --help` builds every subcommand's parser; the strategy choices
    are read lazily, so numpy, onnx and the planners stay unimported."""
    code = ("import sys; from infermem.cli import build_parser; build_parser(); "
            "print([m for m in ('numpy', 'onnx', 'infermem.api', 'infermem.planners', "
            "'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_profile_plan_fit_match_the_cli(capsys):
    g = infermem.load(DS_CNN)
    p = infermem.profile(g)
    _frozen(p)
    assert p.to_json() == _cli_json(capsys, ["profile", str(DS_CNN), "--json"])
    r = infermem.plan(DS_CNN, dmo=True, explain=True)
    _frozen(r)
    cli = _cli_json(capsys, ["plan", str(DS_CNN), "--dmo", "--explain", "--json"])
    ours = r.to_json()
    for doc in (ours, cli):  # planning time differs from run to run
        doc.pop("seconds", None)
    assert ours == cli and r.arena_bytes < p.profile.peak_bytes  # DMO goes below the bound
    assert "INFERMEM_ARENA_BYTES" in r.to_header()
    f = infermem.fit(DS_CNN, devices=["pico", "stm32f401"], measure=False)
    _frozen(f)
    assert f.to_json() == _cli_json(capsys, ["fit", str(DS_CNN), "--device", "pico", "--device",
                                             "stm32f401", "--no-measure", "--json"])


def test_whatif_and_errors_are_the_cli_s():
    from infermem.errors import BadInput

    p = infermem.profile(DS_CNN, weights_dtype="fp32")
    assert p.to_json()["whatif"]["weights_dtype"] == "float32"
    with pytest.raises(BadInput, match="what-if"):
        infermem.profile(DS_CNN, prune="150%")
    with pytest.raises(BadInput, match="power of two"):
        infermem.plan(DS_CNN, alignment=3)


def test_verify_measure_and_optimize(tmp_path, capsys):
    v = infermem.verify(RESNET_ONNX, dmo=True)
    _frozen(v)
    assert v.ok and v.to_json()["ok"]
    m = infermem.measure(DS_CNN, bisect=False)
    assert m.predicted_head_bytes == m.arena.head_bytes
    o = infermem.optimize(DS_CNN, tmp_path / "o.tflite", dmo=True, runs=1)
    _frozen(o)
    doc = o.to_json()
    assert doc["verified"] and doc["head_after"] == doc["planned_arena_bytes"] < doc["head_before"]


def test_monitor_is_the_cli_s(tmp_path, capsys):
    m = infermem.monitor(DS_CNN, runtime="tflm", runs=12, warmup=1, prediction=False)
    _frozen(m)
    assert not m.errors and m.result.peak_rss_bytes > 0
    doc = m.to_json()
    assert doc["peak_rss_bytes"] == m.result.peak_rss_bytes and "first inference" in m.text
    cli = _cli_json(capsys, ["monitor", str(DS_CNN), "--runtime", "tflm", "--runs", "12",
                             "--warmup", "1", "--no-prediction", "--json"])
    assert set(cli) == set(doc)


def test_report_and_demo_json(tmp_path, capsys):
    r = infermem.report(DS_CNN, tmp_path / "r.html", measure=False)
    _frozen(r)
    assert Path(r.output).read_text(encoding="utf-8") == r.html
    doc = r.to_json()
    assert doc["summary"]["peak_bytes"] == infermem.profile(DS_CNN).profile.peak_bytes
    cli = _cli_json(capsys, ["report", str(DS_CNN), "--json", "--no-measure"])
    assert cli["summary"] == doc["summary"] and cli["output"] is None
    d = infermem.demo(quick=True)
    assert [p["strategy"] for p in d.to_json()["plans"]][-1] == "best"
    assert _cli_json(capsys, ["demo", "--quick", "--json"])["plans"][0]["strategy"] == "linear"
