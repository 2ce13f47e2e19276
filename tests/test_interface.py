"""The command line as a user meets it: --version, --quiet, strategy choices,
tables that stay whole when piped, honest help and labels, one --inputs format.

Every command runs in-process through `infermem.cli.main` on real fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from infermem import __version__
from infermem.cli import main
from infermem.frontends import load
from infermem.runtime.verify import random_inputs

FIXTURES = Path(__file__).parent / "fixtures"
DS_CNN = FIXTURES / "ds_cnn_int8.tflite"


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"infermem {__version__}"


def test_strategy_choices_are_listed_and_checked(capsys):
    from infermem.planners import STRATEGIES

    assert main(["plan", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ", ".join(sorted(STRATEGIES)) in text
    assert main(["plan", str(DS_CNN), "--strategy", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_quiet_prints_nothing_but_the_json_asked_for(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["plan", str(DS_CNN), "-o", str(out), "--quiet"]) == 0
    got = capsys.readouterr()
    assert got.out == "" and got.err == "" and out.exists()
    assert main(["plan", str(DS_CNN), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["arena_bytes"] > 0
    # errors still reach the user
    assert main(["plan", str(tmp_path / "missing.tflite"), "-q"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_piped_tables_are_never_wrapped(capsys):
    """Piped output (capsys is not a terminal) prints at full width: operator
    names and long lines stay whole, so `grep` finds them."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    r = subprocess.run([sys.executable, "-m", "infermem", "profile", str(DS_CNN)],
                       capture_output=True, text=True, env=env, check=True)
    lines = r.stdout.splitlines()
    rows = [ln for ln in lines if "DEPTHWISE_CONV_2D" in ln and "KiB" in ln and "peak:" not in ln]
    assert len(rows) == sum(op.type == "DEPTHWISE_CONV_2D" for op in load(DS_CNN).operators)
    assert not any("DEPTHWI" in ln and "DEPTHWISE_CONV_2D" not in ln for ln in lines)
    assert any(len(ln) > 80 for ln in lines)  # not cut at 80 columns


def test_fit_device_names_are_never_cut(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal
    names = ["STM32F401RE", "Arduino Nano 33 BLE Sense", "Raspberry Pi Pico"]
    argv = ["fit", str(DS_CNN), "--no-measure"]
    for n in ("stm32f401", "Arduino Nano 33 BLE Sense", "pico"):
        argv += ["--device", n]
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = out[out.index("device"):]
    for name in names:
        assert any(ln.strip().startswith(name) for ln in table.splitlines()), name


def test_fit_labels_onnx_dmo_as_executor_only_and_flash_without_runtime_code(capsys):
    assert main(["fit", str(FIXTURES / "resnet_f32.onnx"), "--device", "pico"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "+DMO (executor)" in out and "infermem's arena executor only" in out
    assert "runtime's own code" in out and "not included" in out
    assert main(["fit", str(DS_CNN), "--device", "pico", "--no-measure", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "TFLM's kernels" in doc["levels"]["dmo"]["how"]


def test_plan_reorder_says_whether_the_order_changed(capsys):
    for model, changed in (("inception_block_int8.tflite", True), ("resnet_int8.tflite", False)):
        assert main(["plan", str(FIXTURES / model), "--reorder", "--json"]) == 0
        ch = json.loads(capsys.readouterr().out)["order_change"]
        assert ch["changed"] is changed
        assert (ch["peak_bytes"] < ch["file_peak_bytes"]) is changed
        assert main(["plan", str(FIXTURES / model), "--reorder"]) == 0
        text = capsys.readouterr().out
        assert ("operator order: changed" in text) is changed
        assert ("already memory-optimal" in text) is (not changed)


def test_verify_help_says_onnx_only(capsys):
    assert main(["verify", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ".onnx only" in text and ".tflite or" not in text


def test_verify_inputs_from_a_folder_of_npy(tmp_path, capsys):
    model = FIXTURES / "resnet_f32.onnx"
    g = load(model)
    folder = tmp_path / "set"
    folder.mkdir()
    for name, x in random_inputs(g, 3).items():
        np.save(folder / f"{name}.npy", x)
    assert main(["verify", str(model), "--inputs", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]
    np.save(folder / "stray.npy", np.zeros(3, np.float32))
    assert main(["verify", str(model), "--inputs", str(folder)]) == 2
    assert "match no graph input" in capsys.readouterr().err


@pytest.mark.parametrize("arena", ["4096", "10000"])
def test_too_small_tflm_arena_in_monitor_gives_the_hint(arena, capsys):
    """However TFLM fails (an allocation error, or a crash in `session` when the
    arena cannot even hold its own structures), the message says --arena-size."""
    rc = main(["monitor", str(DS_CNN), "--runtime", "tflm", "--arena-size", arena,
               "--runs", "1", "--warmup", "0"])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert rc in (1, 2) and "--arena-size" in last and "too small" in last
    assert "RuntimeError" not in last
