"""Every command that writes refuses a hostile output path the same way: exit 2,
one line on stderr, no traceback, nothing overwritten and nothing written."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.examples import example_path

FIX = Path(__file__).parent / "fixtures"
TFLITE = FIX / "ds_cnn_int8.tflite"
ONNX = FIX / "ds_cnn_f32.onnx"

# command, the model it reads, the output option(s) under test
WRITERS = [
    ("plan", TFLITE, "-o", []),
    ("plan", TFLITE, "--header", []),
    ("plan", TFLITE, "--plot", []),
    ("optimize", TFLITE, "-o", []),
    ("quantize", ONNX, "-o", ["--calibration", "2"]),
    ("report", TFLITE, "-o", ["--no-tflm", "--time-limit", "1"]),
]


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _argv(cmd, model, opt, out, extra):
    return [cmd, str(model), opt, str(out), *extra]


@pytest.fixture
def work(tmp_path):
    """A copy of each model, a sub-folder, a symlink and a hard link to each."""
    for src in (TFLITE, ONNX):
        m = tmp_path / f"model{src.suffix}"
        m.write_bytes(src.read_bytes())
        os.symlink(m, tmp_path / f"link{src.suffix}")
        os.link(m, tmp_path / f"hard{src.suffix}")
    (tmp_path / "sub").mkdir()
    return tmp_path


def _refused(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infermem: error:"), err
    assert match in lines[0] and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("cmd", "src", "opt", "extra"), WRITERS)
def test_output_onto_the_input_is_refused_by_name_dotdot_symlink_and_hardlink(
    work, capsys, cmd, src, opt, extra
):
    model = work / f"model{src.suffix}"
    before = _sha(model)
    for out in (model, work / "sub" / ".." / model.name, work / f"link{src.suffix}",
                work / f"hard{src.suffix}"):
        _refused(capsys, _argv(cmd, model, opt, out, extra), "refusing to overwrite")
        _refused(capsys, [*_argv(cmd, model, opt, out, extra), "--force"], "refusing")
    assert _sha(model) == before and (work / f"link{src.suffix}").is_symlink()
    assert not list(work.glob(".*part*"))


@pytest.mark.parametrize(("cmd", "src", "opt", "extra"), WRITERS)
def test_directory_missing_parent_and_existing_file_are_refused(work, capsys, cmd, src, opt,
                                                                extra):
    model = work / f"model{src.suffix}"
    suffix = ".png" if opt == "--plot" else ".out"
    _refused(capsys, _argv(cmd, model, opt, work / "sub", extra), "directory")
    assert list((work / "sub").iterdir()) == []
    _refused(capsys, _argv(cmd, model, opt, work / "no" / f"x{suffix}", extra), "does not exist")
    assert not (work / "no").exists()  # parents are never created
    old = work / f"old{suffix}"
    old.write_bytes(b"keep me")
    _refused(capsys, _argv(cmd, model, opt, old, extra), "--force")
    assert old.read_bytes() == b"keep me"


def test_demo_out_is_guarded(work, capsys):
    ex = example_path("tflite")
    before = _sha(ex)
    _refused(capsys, ["demo", "--out", str(ex)], "refusing to overwrite")
    _refused(capsys, ["demo", "--out", str(work / "sub")], "directory")
    _refused(capsys, ["demo", "--out", str(work / "no" / "x.tflite")], "does not exist")
    (work / "old.tflite").write_bytes(b"keep")
    _refused(capsys, ["demo", "--out", str(work / "old.tflite")], "--force")
    assert _sha(ex) == before and (work / "old.tflite").read_bytes() == b"keep"


def test_plot_extension_and_two_outputs_onto_one_file(work, capsys):
    model = work / "model.tflite"
    line = _refused(capsys, ["plan", str(model), "--plot", str(work / "layout.txt")], ".png")
    assert ".svg" in line and ".pdf" in line
    _refused(capsys, ["plan", str(model), "--plot", str(work / "layout")], ".png")
    same = work / "plan.out"
    _refused(capsys, ["plan", str(model), "-o", str(same), "--header", str(same)], "same file")
    assert not same.exists() and not (work / "layout").exists()


def test_force_replaces_with_the_users_mode_and_confirms_each_file(work, capsys):
    model = work / "model.tflite"
    outs = {"-o": work / "p.json", "--header": work / "p.h", "--plot": work / "p.svg"}
    for p in outs.values():
        p.write_bytes(b"old")
        p.chmod(0o600)
    argv = ["plan", str(model)] + [x for opt, p in outs.items() for x in (opt, str(p))]
    mask = os.umask(0o022)
    try:
        assert main([*argv, "--force"]) == 0
    finally:
        os.umask(mask)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"infermem: wrote {p}" for p in outs.values()]
    assert json.loads(outs["-o"].read_text())["arena_bytes"] > 0
    assert outs["--plot"].read_bytes().lstrip().startswith(b"<?xml")
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in outs.values())
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []
