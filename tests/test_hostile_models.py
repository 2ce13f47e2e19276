"""Hostile models get the same one-line refusal (exit 2) on every path:
the TFLM commands refuse what `profile` refuses before TFLM sees the file, and
window-operator attributes are validated by both frontends."""

import sys
import time
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.errors import BadInput
from infermem.tflm import measure, min_arena

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fuzz_cases import BAD_CONV, mutate_tflite, rank_model, small_net  # noqa: E402

SEED = "ds_cnn_int8.tflite"
TFLM_COMMANDS = [
    ["tflm", "measure", "{m}", "--no-bisect", "--timeout", "30"],
    ["optimize", "{m}", "-o", "{d}/out.tflite", "--runs", "1", "--timeout", "30"],
    ["fit", "{m}", "--device", "nrf52840", "--time-limit", "1"],
    ["report", "{m}", "-o", "{d}/out.html", "--time-limit", "1"],
]


def _refused(capsys, argv, *words) -> str:
    t0 = time.monotonic()
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infermem: error:"), err
    assert "Traceback" not in err and all(w in lines[0] for w in words), lines[0]
    assert time.monotonic() - t0 < 20  # refused up front, no TFLM child timing out
    return lines[0]


@pytest.mark.parametrize(("kind", "words"), [
    ("while", ["control flow"]),
    ("unknown-builtin", ["builtin code"]),
    ("self-cycle", ["before operator"]),
    ("absurd-shape", ["sane limit"]),
    ("stride0", ["stride"]),
    ("input-index", ["graph input"]),
])  # fmt: skip
def test_tflm_paths_refuse_what_profile_refuses(tmp_path, capsys, kind, words):
    model = tmp_path / "m.tflite"
    model.write_bytes(mutate_tflite(SEED, kind))
    expected = _refused(capsys, ["profile", str(model)], *words)
    for argv in TFLM_COMMANDS:
        got = _refused(capsys, [a.format(m=model, d=tmp_path) for a in argv], *words)
        assert got == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
    for call in (lambda: measure(model, bisect=False), lambda: min_arena(model, 1 << 20, 4096)):
        with pytest.raises(BadInput):
            call()


@pytest.mark.parametrize("attrs", BAD_CONV, ids=lambda a: "-".join(f"{k}" for k in a))
def test_bad_conv_attributes_name_node_and_attribute(tmp_path, capsys, attrs):
    model = tmp_path / "m.onnx"
    if "auto_pad" not in attrs:
        attrs = {"pads": [1, 1, 1, 1], **attrs}
    model.write_bytes(small_net(conv_attrs=attrs))
    for cmd in (["profile"], ["verify"], ["fit", "--no-measure"]):
        line = _refused(capsys, [cmd[0], str(model), *cmd[1:]], "'conv1' (Conv)")
        assert any(k in line for k in ("group", "auto_pad", "strides", "dilations", "pads",
                                       "kernel"))  # fmt: skip


def test_bad_pool_attributes_and_a_kernel_wider_than_its_input(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    cases = {
        "kernel_shape": {"kernel_shape": [0, 2]},
        "auto_pad": {"kernel_shape": [2, 2], "auto_pad": "X"},
        "padded input": {"kernel_shape": [64, 2]},
        "required": {},
    }
    for words, attrs in cases.items():
        model.write_bytes(small_net(pool_attrs=attrs))
        _refused(capsys, ["profile", str(model)], "'pool1' (MaxPool)", words)


@pytest.mark.parametrize("kind", ["stride0", "dilation0", "padding", "no-options", "filter-fit",
                                  "conv-input-rank"])
def test_tflite_window_options_are_checked(tmp_path, capsys, kind):
    model = tmp_path / "m.tflite"
    model.write_bytes(mutate_tflite(SEED, kind, __import__("random").Random(1)))
    line = _refused(capsys, ["profile", str(model)], "operator 0")
    assert any(w in line for w in ("stride", "dilation", "padding", "options", "filter"))
    _refused(capsys, ["plan", str(model), "--dmo"], "operator 0")


@pytest.mark.parametrize("kind, x", [("CONV_2D", (1, 8, 8, 0)), ("DEPTHWISE_CONV_2D", (1, 8, 8, 0)),
                                     ("CONV_2D", (1, 8, 8, 2))])
def test_tflite_conv_input_without_the_filters_channels_is_refused(kind, x):
    """Fuzz #7099 (a byte mutation): a CONV_2D input with 0 channels made the
    groups check divide by zero (a traceback); no channels is no fit."""
    from infermem.errors import BadInput
    from infermem.frontends.tflite_attrs import _check_filter

    with pytest.raises(BadInput, match="does not fit input channels"):
        _check_filter(kind, [x, (4, 3, 3, 4) if kind == "CONV_2D" else (1, 3, 3, 4)], "op 0")


@pytest.mark.parametrize("rank", [65, 1000])
def test_rank_beyond_numpy_is_refused_at_load(tmp_path, capsys, rank):
    model = tmp_path / "m.onnx"
    model.write_bytes(rank_model(rank))
    for cmd in ("profile", "verify", "fit"):
        _refused(capsys, [cmd, str(model)], f"rank {rank}", "64")


def test_huge_strides_are_a_clear_error_in_verify_fit_and_report(tmp_path, capsys):
    model = tmp_path / "m.onnx"
    model.write_bytes(small_net(conv_attrs={"strides": [1 << 62, 1], "pads": [1, 1, 1, 1]}))
    for argv in (["verify", str(model)], ["fit", str(model), "--no-measure"],
                 ["report", str(model), "-o", str(tmp_path / "r.html")]):  # fmt: skip
        _refused(capsys, argv, "strides", str(1 << 62))
    assert not (tmp_path / "r.html").exists()
