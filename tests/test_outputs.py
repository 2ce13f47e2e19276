"""The one output-path guard and the atomic writer every command uses."""

import os

import pytest

from infermem.errors import BadInput
from infermem.outputs import atomic_write, check_output, write_bytes


@pytest.fixture
def model(tmp_path):
    m = tmp_path / "model.tflite"
    m.write_bytes(b"MODEL")
    return m


def test_refuses_the_input_by_name_dotdot_symlink_and_hardlink(tmp_path, model):
    (tmp_path / "sub").mkdir()
    os.symlink(model, tmp_path / "link")
    os.link(model, tmp_path / "hard")
    for out in (model, tmp_path / "sub" / ".." / "model.tflite", tmp_path / "link",
                tmp_path / "hard"):
        with pytest.raises(BadInput, match="refusing to overwrite"):
            check_output(out, [model], force=True)
    assert model.read_bytes() == b"MODEL"


def test_refuses_directory_missing_parent_and_existing_without_force(tmp_path, model):
    with pytest.raises(BadInput, match="directory"):
        check_output(tmp_path, [model])
    with pytest.raises(BadInput, match="does not exist"):
        check_output(tmp_path / "nope" / "x.json", [model])
    existing = tmp_path / "old.json"
    existing.write_text("keep")
    with pytest.raises(BadInput, match="--force"):
        check_output(existing, [model])
    assert check_output(existing, [model], force=True) == existing


def test_atomic_write_leaves_nothing_on_failure_and_uses_umask_mode(tmp_path):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(out) as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    mask = os.umask(0o022)
    try:
        write_bytes(tmp_path / "new.bin", b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o644


def test_symlinked_output_replaces_the_link_not_its_target(tmp_path, model):
    other = tmp_path / "other.txt"
    other.write_text("target")
    link = tmp_path / "link.txt"
    os.symlink(other, link)
    write_bytes(check_output(link, [model], force=True), b"new")
    assert other.read_text() == "target" and not link.is_symlink()
