"""`infermem fit`: the device catalog, RAM/flash per optimisation level on real
models (the planners' and TFLM's own figures), device verdicts, and the
largest batch under a budget checked against direct plans."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest

from infermem.batch import batch_inputs, max_batch
from infermem.cli import main
from infermem.devices import Device, bundled, find, load_catalog, parse_catalog
from infermem.errors import BadInput
from infermem.fit import LEVELS, estimate_persistent, fit, model_needs, to_json
from infermem.frontends import load
from infermem.planning import plan_model
from infermem.sizes import parse_size
from infermem.whatif import WhatIf

FIX = Path(__file__).parent / "fixtures"
EXAMPLE = Path(str(resources.files("infermem") / "examples" / "mobilenet_v1_int8.tflite"))
KIB = 1024

# One name per target the issue asks for (F4/F7/H7/L4/U5, nRF52840, nRF5340, ...).
REQUIRED = ["f401", "stm32f7", "stm32h7", "stm32l4", "stm32u5", "nrf52840", "nrf5340", "esp32",
            "esp32-s3", "rp2040", "rp2350", "samd51", "imxrt1060", "apollo3", "apollo4",
            "nano33ble", "portenta", "spresense", "max78000", "pi-zero-2w", "coral-micro"]


def test_catalog_holds_the_targets_users_deploy_to():
    devices = bundled()
    assert len(devices) >= 25
    for d in devices:
        assert d.source and d.sram_bytes > 0
        assert d.flash_bytes is not None or d.kind == "sbc"
    found = {find(devices, n).name for n in REQUIRED}
    assert len(found) == len(REQUIRED)  # each name finds a different device
    # Datasheet figures, spot-checked.
    assert find(devices, "nrf52840").sram_bytes == 256 * KIB
    assert find(devices, "nrf52840").flash_bytes == 1024 * KIB
    assert find(devices, "RP2040").sram_bytes == 264 * KIB
    assert find(devices, "portenta").external_ram_bytes == 8 * KIB * KIB


def test_user_file_adds_and_replaces(tmp_path):
    f = tmp_path / "my.toml"
    f.write_text(
        '[[device]]\nname = "My Board"\naliases = ["mine"]\nkind = "board"\n'
        'sram_bytes = 65536\nflash = "1.5MB"\nsource = "my schematic"\n\n'
        '[[device]]\nname = "stm32f401re"\nkind = "mcu"\nsram = "64 KiB"\nflash = "256KiB"\n'
        'source = "a smaller variant"\n'
    )
    merged = load_catalog([f])
    assert len(merged) == len(bundled()) + 1
    mine = find(merged, "MINE")
    assert (mine.sram_bytes, mine.flash_bytes) == (65536, 1536 * KIB)
    assert find(merged, "f401").sram_bytes == 64 * KIB  # the user's entry wins


@pytest.mark.parametrize("text, says", [
    ('[[device]]\nname = "x"\nkind = "mcu"\nflash = "1MB"\nsource = "s"\n', "missing 'sram'"),
    ('[[device]]\nname = "x"\nkind = "mcu"\nsram = "1MB"\nflash = "1MB"\nsource = "s"\n'
     'ram = 5\n', "unknown field"),
    ('[[device]]\nname = "x"\nkind = "phone"\nsram = "1MB"\nflash = "1MB"\nsource = "s"\n',
     "kind must be"),
    ('[[device]]\nname = "x"\nkind = "mcu"\nsram = "lots"\nflash = "1MB"\nsource = "s"\n',
     "cannot read 'lots'"),
    ('[[device]]\nname = "x"\nkind = "mcu"\nsram = "1MB"\nflash = "1MB"\n', "'source'"),
    ('[[device]\nname = "x"', "not valid TOML"),
    ('title = "no devices"\n', "unknown top-level"),
    ('[[device]]\nname = "a"\naliases = ["z"]\nkind = "mcu"\nsram = 1\nflash = 1\nsource = "s"\n'
     '[[device]]\nname = "b"\naliases = ["z"]\nkind = "mcu"\nsram = 1\nflash = 1\nsource = "s"\n',
     "names both"),
])
def test_bad_device_files_are_refused_clearly(text, says):
    with pytest.raises(BadInput, match=says):
        parse_catalog(text, "my.toml")


def test_unknown_device_lists_close_matches():
    with pytest.raises(BadInput, match="did you mean.*nRF52840 DK"):
        find(bundled(), "nrf52804")
    with pytest.raises(BadInput, match="ambiguous"):
        find(bundled(), "esp")


@pytest.fixture(scope="module")
def example_needs():
    """The bundled example, with TFLM run once to measure its head and tail."""
    graph = load(EXAMPLE)
    return graph, model_needs(graph, measure=True, time_limit=5.0)


def test_example_levels_use_the_planners_and_tflm_figures(example_needs):
    graph, needs = example_needs
    lv = {n: needs.level(n) for n in LEVELS}
    tflm_plan = plan_model(graph, "tflm").plan.arena_bytes
    best_plan = plan_model(graph, "best").plan.arena_bytes
    assert "measured in TFLM" in lv["runtime"].how
    assert lv["runtime"].arena_bytes == tflm_plan  # TFLM's measured head = its planner
    assert lv["infermem"].arena_bytes == best_plan < tflm_plan
    assert needs.persistent.source.startswith("measured")
    for level in needs.levels:
        assert level.ram_bytes == level.arena_bytes + needs.persistent.bytes
        assert level.flash_bytes == os.path.getsize(EXAMPLE)  # a .tflite goes to flash whole
    rams = [lv[n].ram_bytes for n in LEVELS if lv[n].available]
    assert rams == sorted(rams, reverse=True)  # each level keeps what the one before had


def test_persistent_estimate_is_close_to_the_measured_tail(example_needs):
    graph, needs = example_needs
    est = estimate_persistent(graph).bytes
    assert abs(est - needs.persistent.bytes) <= 0.05 * needs.persistent.bytes


def test_example_fits_a_96k_target_only_with_infermem(example_needs):
    _, needs = example_needs
    f401 = find(bundled(), "STM32F401RE")
    (result,) = fit(needs, [f401]).devices
    assert needs.level("runtime").ram_bytes > f401.sram_bytes >= needs.level("infermem").ram_bytes
    assert result.fits == {"runtime": False, "infermem": True, "reorder": True, "dmo": True,
                           "int8": True}
    assert result.verdict == "fits only with infermem (infermem's best plan)"


def test_float_mobilenet_fits_256k_with_infermem_plan_but_not_tflms():
    needs = model_needs(load(FIX / "mobilenet_v1_f32.tflite"), time_limit=5.0)
    nano = find(bundled(), "Arduino Nano 33 BLE Sense")  # 256 KiB SRAM, 1 MiB flash
    assert needs.level("runtime").ram_bytes > nano.sram_bytes >= needs.level("infermem").ram_bytes
    (result,) = fit(needs, [nano]).devices
    assert result.verdict.startswith("fits only with infermem")


def test_model_fits_a_256k_target_only_with_dmo():
    graph = load(FIX / "mobilenet_v3_small_f32.tflite")
    needs = model_needs(graph, time_limit=5.0)
    xg24 = find(bundled(), "xG24 Dev Kit")  # 256 KiB SRAM, 1.5 MiB flash
    assert xg24.sram_bytes == 256 * KIB
    dmo = needs.level("dmo")
    assert dmo.available, dmo.how
    for name in ("runtime", "infermem", "reorder"):
        assert needs.level(name).ram_bytes > xg24.sram_bytes
    assert dmo.ram_bytes <= xg24.sram_bytes and dmo.flash_bytes <= xg24.flash_bytes
    direct = {plan_model(graph, "best", dmo=True, reorder=r).plan.arena_bytes for r in (0, 1)}
    assert dmo.arena_bytes in direct
    (result,) = fit(needs, [xg24]).devices
    assert result.verdict == "fits only with infermem (+ DMO)"


def test_onnx_levels_are_stand_ins_or_na_never_guessed():
    needs = model_needs(load(FIX / "mobilenet_v1_f32.onnx"), time_limit=5.0)
    assert "stand-in" in needs.level("runtime").how
    assert needs.persistent.source.startswith("estimate")
    doc = to_json(fit(needs, bundled()[:3]))
    for lv in needs.levels:
        if lv.available:
            assert None not in (lv.arena_bytes, lv.ram_bytes, lv.flash_bytes)
        else:
            assert (lv.arena_bytes, lv.ram_bytes, lv.flash_bytes) == (None, None, None)
            assert "not available yet" in lv.how
            assert all(d["levels"][lv.name]["fits"] is None for d in doc["devices"])


def test_int8_whatif_on_a_float_model():
    graph = load(FIX / "mobilenet_v1_f32.onnx")
    plain = model_needs(graph, time_limit=5.0)
    what = model_needs(graph, WhatIf(weights="int8"), time_limit=5.0)
    ratio = plain.level("infermem").weights_bytes / what.level("infermem").weights_bytes
    assert 3.5 < ratio <= 4.0
    assert what.whatif and "what-if" in what.whatif
    assert what.level("infermem").arena_bytes == plain.level("infermem").arena_bytes
    int8 = plain.level("int8")
    assert int8.changes_model
    assert all(lv.ram_bytes > int8.ram_bytes for lv in plain.levels[:-1] if lv.available)
    tight = Device("tight", "board", "", int8.ram_bytes, 8 << 20, "test")
    (result,) = fit(plain, [tight]).devices
    assert result.verdict.startswith("fits only with int8 weights and activations (what-if")


def test_fit_json_schema(example_needs):
    _, needs = example_needs
    doc = json.loads(json.dumps(to_json(fit(needs, bundled()))))
    assert len(doc["devices"]) == len(bundled())
    for d in doc["devices"]:
        assert {"name", "sram_bytes", "flash_bytes", "levels", "verdict", "source"} <= set(d)
        assert set(d["levels"]) == set(LEVELS)
        for lv in d["levels"].values():
            assert {"ram_bytes", "flash_bytes", "fits"} <= set(lv)


def test_cli_fit_json_and_errors(capsys):
    assert main(["fit", str(EXAMPLE), "--device", "f401", "--device", "nano33ble",
                 "--budget", "100KB", "--json", "--no-measure"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = [d["name"] for d in doc["devices"]]
    assert names == ["STM32F401RE", "Arduino Nano 33 BLE Sense", "budget 100KB"]
    assert doc["devices"][2]["sram_bytes"] == 102400
    assert main(["fit", str(EXAMPLE), "--device", "nosuchboard"]) == 2
    assert "unknown device" in capsys.readouterr().err
    assert main(["fit", "--list-devices", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(bundled())


def test_cli_fit_table_on_a_fixture(capsys):
    assert main(["fit", str(FIX / "ds_cnn_int8.tflite"), "--kind", "mcu", "--no-measure",
                 "--time-limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "as the runtime plans it today" in out and "STM32F401RE" in out


@pytest.mark.parametrize("text, n", [("512MB", 512 << 20), ("256KiB", 256 << 10),
                                     ("1.5GB", 3 << 29), ("65536", 65536), ("2 m", 2 << 20)])
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "lots", "-5", "1.5B", "12 XB", "KiB"])
def test_parse_size_refuses(text):
    with pytest.raises(BadInput):
        parse_size(text, "--budget")


def test_max_batch_agrees_with_direct_plans(capsys):
    path = FIX / "mobilenet_v1_dynbatch.onnx"
    budget = parse_size("48MB")
    r = max_batch(path, budget, time_limit=2.0)
    assert r.batch >= 2 and not r.capped

    def need(b: int) -> int:
        g = load(path, {"input": (b, 3, 96, 96)})
        return plan_model(g, "best", 2.0).plan.arena_bytes + g.weights_bytes

    assert need(r.batch) == r.at.total_bytes <= budget < need(r.batch + 1) == r.above.total_bytes
    assert main(["fit", str(path), "--budget", "48MB", "--max-batch", "--json",
                 "--time-limit", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["max_batch"] == r.batch


def test_max_batch_refuses_a_fixed_batch_and_bad_budgets(capsys):
    with pytest.raises(BadInput, match="symbolic batch"):
        batch_inputs(FIX / "mobilenet_v1_f32.onnx")
    with pytest.raises(BadInput, match="symbolic batch"):
        batch_inputs(EXAMPLE)
    dyn = str(FIX / "mobilenet_v1_dynbatch.onnx")
    assert main(["fit", dyn, "--budget", "lots", "--max-batch"]) == 2
    assert main(["fit", dyn, "--max-batch"]) == 2
    assert "needs --budget" in capsys.readouterr().err
    r = max_batch(dyn, 1000, time_limit=1.0)  # not even batch 1
    assert r.batch == 0 and r.at is None and not r.above.fits
