"""`infermem sweep`: a zoo of real fixture models evaluated on the local pool
and through a Dask cluster (same results), resumed from the cache after an
interruption, with a corrupt file and a timeout becoming failed rows."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.devices import bundled, find
from infermem.fit import model_needs
from infermem.frontends import load
from infermem.sweep import Cache, SweepOptions, close_workers, run_task, sweep
from infermem.sweep.task import Task, evaluate, make_task

FIX = Path(__file__).parent / "fixtures"
MODELS = ("tiny_unet_int8.tflite", "ds_cnn_int8.tflite", "inception_block_f32.onnx")
DEVICES = "f401,pico,nrf52840"
# Timing and provenance, which differ between two runs of the same sweep.
VOLATILE = {"seconds", "cached"}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Three real models in nested folders, a corrupt .tflite and a truncated .onnx."""
    root = tmp_path_factory.mktemp("zoo")
    (root / "kws").mkdir()
    for i, m in enumerate(MODELS):
        shutil.copy(FIX / m, (root / "kws" if i == 1 else root) / m)
    (root / "broken.tflite").write_bytes(b"\x00" * 4 + b"TFL3" + b"\xff" * 400)
    (root / "kws" / "cut.onnx").write_bytes((FIX / MODELS[2]).read_bytes()[:700])
    (root / "notes.txt").write_text("not a model")
    yield root
    close_workers(kill=True)


def _sweep_json(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["sweep", *args, "--json", "--no-cache", "--no-measure",
                 "--devices", DEVICES]) == 0
    return json.loads(capsys.readouterr().out)


def _stable(doc: dict) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in VOLATILE} for m in doc["models"]]


@pytest.fixture(scope="module")
def local_doc(zoo, tmp_path_factory):
    """The local pool's JSON (2 jobs), shared by several tests."""
    out = tmp_path_factory.mktemp("out")
    files = [out / "r.json", out / "r.csv", out / "r.html"]
    assert main(["sweep", str(zoo), "--no-cache", "--no-measure", "--devices", DEVICES,
                 "--jobs", "2", *(x for f in files for x in ("-o", str(f)))]) == 0
    return json.loads(files[0].read_text()), files


def test_every_model_is_a_row_and_failures_say_why(zoo, local_doc):
    doc, _ = local_doc
    assert doc["summary"] == {**doc["summary"], "models": 5, "done": 5, "failed": 2,
                              "complete": True}
    by_name = {Path(m["model"]).name: m for m in doc["models"]}
    assert set(by_name) == {*MODELS, "broken.tflite", "cut.onnx"}
    assert [m["model"] for m in doc["models"]] == sorted(m["model"] for m in doc["models"])
    for bad in ("broken.tflite", "cut.onnx"):
        m = by_name[bad]
        assert m["status"] == "failed" and m["error_kind"] == "bad-input"
        assert bad in m["error"] and m["levels"] == {} and m["devices"] == {}


def test_levels_and_fits_are_fits_own_figures(zoo, local_doc):
    doc, _ = local_doc
    m = next(m for m in doc["models"] if m["name"] == "ds_cnn_int8")
    needs = model_needs(load(FIX / "ds_cnn_int8.tflite"), measure=False)
    for lv in needs.levels:
        assert m["levels"][lv.name]["arena_bytes"] == lv.arena_bytes
        assert m["levels"][lv.name]["ram_bytes"] == lv.ram_bytes
    f401 = find(bundled(), "f401")
    fits = m["devices"][f401.name]["fits"]
    assert fits == {lv.name: lv.ram_bytes <= f401.sram_bytes and lv.flash_bytes <= f401.flash_bytes
                    for lv in needs.levels}
    first = next((k for k, v in fits.items() if v), None)
    assert m["devices"][f401.name]["smallest_level"] == first


def test_csv_and_html_outputs(local_doc):
    doc, (_, csv_path, html_path) = local_doc
    rows = list(csv.DictReader(csv_path.open()))
    ok = [m for m in doc["models"] if m["status"] == "ok"]
    assert len(rows) == 5 * len(ok) + 2  # one row per model × level, one per failed model
    failed = [r for r in rows if r["status"] == "failed"]
    assert {Path(r["model"]).name for r in failed} == {"broken.tflite", "cut.onnx"}
    r = next(r for r in rows if r["model"].endswith("unet_int8.tflite") and r["level"] == "dmo")
    m = next(m for m in ok if m["name"] == "tiny_unet_int8")
    assert int(r["ram_bytes"]) == m["levels"]["dmo"]["ram_bytes"]
    assert r["fits:STM32F401RE"] == ("yes" if m["devices"]["STM32F401RE"]["fits"]["dmo"] else "no")
    page = html_path.read_text()
    assert page.count("<tr class=\"failed\">") == 2 and "<script>" in page
    assert "http" not in page.split("<script>")[0].replace("http-equiv", "")  # self-contained
    for m in ok:
        lv = m["devices"]["Raspberry Pi Pico"]["smallest_level"]
        assert m["name"] in page and (lv is None or f'data-sort="{list(m["levels"]).index(lv)}"'
                                      in page)


def test_dask_cluster_gives_the_local_pools_results(zoo, local_doc, capsys):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        remote = _sweep_json(capsys, str(zoo), "--scheduler", cluster.scheduler_address)
    assert _stable(remote) == _stable(local_doc[0])
    assert remote["summary"]["failed"] == 2


def test_interrupted_sweep_resumes_from_the_cache(zoo, tmp_path):
    cache = Cache(tmp_path / "cache")
    options = SweepOptions(measure=False)
    seen = []

    def stop_after_first(partial):
        seen.append(partial)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep([zoo], options, jobs=1, cache=cache, on_result=stop_after_first)
    first = seen[0].models[0]
    assert len(seen) == 1 and not first["cached"]
    again = sweep([zoo], options, jobs=1, cache=cache)
    cached = [m["model"] for m in again.models if m["cached"]]
    assert cached == [first["model"]]  # only the missing four ran
    third = sweep([zoo], options, jobs=1, cache=cache)
    assert all(m["cached"] for m in third.models)  # bad input is kept too
    assert [m["needs"] for m in third.models] == [m["needs"] for m in again.models]
    # Other options are another key: nothing comes from the cache.
    other = sweep([zoo / "kws"], SweepOptions(measure=False, time_limit=2.0), cache=cache)
    assert not any(m["cached"] for m in other.models)


def test_shipped_bytes_serve_a_worker_without_the_file(tmp_path):
    """What a Dask worker on another machine does: the path is missing (or
    holds other bytes), so the bytes that travelled with the task are used."""
    data = (FIX / "ds_cnn_int8.tflite").read_bytes()
    here = make_task(str(FIX / "ds_cnn_int8.tflite"), SweepOptions(measure=False))
    elsewhere = Task(str(tmp_path / "gone" / "ds_cnn_int8.tflite"), here.sha256, here.options,
                     data)
    other = tmp_path / "ds_cnn_int8.tflite"
    other.write_bytes((FIX / "tiny_unet_int8.tflite").read_bytes())
    stale = Task(str(other), here.sha256, here.options, data)
    want = evaluate(here)["needs"]
    assert evaluate(elsewhere)["needs"] == want and evaluate(stale)["needs"] == want
    lost = evaluate(Task(elsewhere.path, here.sha256, here.options))
    assert lost["status"] == "failed" and "no such file on this worker" in lost["error"]


def test_timeout_is_a_failed_row_and_the_next_model_runs(tmp_path, capsys):
    slow = make_task(str(FIX / "mobilenet_v2_f32.onnx"), SweepOptions(measure=False, timeout=0.05))
    r = run_task(slow)
    assert r["status"] == "failed" and r["error_kind"] == "timeout"
    assert "timed out after 0.05 s" in r["error"]
    ok = run_task(make_task(str(FIX / "ds_cnn_int8.tflite"), SweepOptions(measure=False)))
    assert ok["status"] == "ok" and ok["needs"]["levels"]["dmo"]["available"]
    out = tmp_path / "t.csv"
    assert main(["sweep", str(FIX / "mobilenet_v2_f32.onnx"), "--timeout", "0.05", "--no-cache",
                 "--no-measure", "--devices", "pico", "-o", str(out)]) == 0
    (row,) = csv.DictReader(out.open())
    assert row["status"] == "failed" and "timed out" in row["error"]
    err = capsys.readouterr().err
    assert "sweep: 1/1 models, 1 failed" in err and "1 of 1 models failed" in err


@pytest.mark.slow
def test_verify_proves_each_level(tmp_path, capsys):
    """TFLM for the .tflite, the arena executor for the ONNX model; the int8
    what-if of a float model has nothing to run and says so."""
    for m in ("tiny_unet_int8.tflite", "inception_block_f32.onnx"):
        shutil.copy(FIX / m, tmp_path)
    doc = _sweep_json(capsys, str(tmp_path), "--verify", "--levels", "infermem,dmo,int8")
    for m in doc["models"]:
        assert list(m["levels"]) == ["infermem", "dmo", "int8"]
        for name, lv in m["levels"].items():
            if lv["changes_model"]:
                assert lv["verified"] is None and "what-if" in lv["verify_how"]
                continue
            assert lv["verified"] is True, (m["name"], name, lv["verify_how"])
            assert lv["verified_arena_bytes"] <= lv["arena_bytes"]
    onnx = next(m for m in doc["models"] if m["format"] == "onnx")
    assert "onnxruntime" in onnx["levels"]["dmo"]["verify_how"]
    assert onnx["levels"]["int8"]["verified"] is None


@pytest.mark.parametrize(("args", "says"), [
    (["--levels", "fast"], "available: runtime, infermem, reorder, dmo, fuse, patch, int8"),
    (["--devices", "nosuchboard"], "unknown device"),
    (["--jobs", "0"], "--jobs"),
    (["-o", "r.xlsx"], "unknown format"),
    (["--timeout", "0"], "--timeout"),
    (["--cache-dir", "m.tflite/c"], "cannot create the sweep cache"),
])
def test_bad_options_are_one_line_errors(args, says, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.tflite").write_bytes(b"a file, so no folder can be made under it")
    cache = [] if "--cache-dir" in args else ["--no-cache"]
    assert main(["sweep", str(FIX / "ds_cnn_int8.tflite"), *cache, *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_outputs_are_guarded(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    assert main(["sweep", str(FIX / "ds_cnn_int8.tflite"), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep me"
    model = tmp_path / "m.tflite"
    shutil.copy(FIX / "ds_cnn_int8.tflite", model)
    assert main(["sweep", str(tmp_path), "-o", str(tmp_path / "x.json"), "-o",
                 str(tmp_path / "x.json")]) == 2
