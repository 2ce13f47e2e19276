"""Weights never copied: every weight of an .onnx (inline or external data) and
of a .tflite is a read-only view over a memory map of the file, equal to what
onnx (or LiteRT's schema) reads; bad lengths and truncated files are still
refused in one line; and profiling a ~100 MB model does not cost its size."""

from __future__ import annotations

import json
import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from infermem.cli import main
from infermem.errors import BadInput
from infermem.frontends import load
from infermem.frontends.onnx_weights import open_model
from infermem.frontends.onnx_wire import MIN_MAPPED_BYTES, strip_weights
from infermem.graph import Role

TESTS = Path(__file__).parent
ONNX_FILES = sorted([*TESTS.glob("fixtures/*.onnx"), *TESTS.glob("corpus/*.onnx")])
TFLITE = TESTS / "fixtures" / "mobilenet_v1_int8.tflite"


def mapped(a: np.ndarray) -> bool:
    """A read-only array whose memory is a map of a file, not its own."""
    base = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap) and not a.flags.writeable and not a.flags.owndata


@pytest.mark.parametrize("path", ONNX_FILES, ids=lambda p: p.name)
def test_inline_weights_equal_onnx_and_large_ones_are_mapped(path):
    model, weights = open_model(path)
    ref = {t.name: t for t in onnx.load(str(path)).graph.initializer}
    assert [t.name for t in model.graph.initializer] == list(ref)
    for t in model.graph.initializer:
        got, want = weights.array(t), numpy_helper.to_array(ref[t.name])
        assert got.dtype == want.dtype and np.array_equal(got, want), t.name
        if len(ref[t.name].raw_data) >= MIN_MAPPED_BYTES:
            assert mapped(got), t.name
    assert model.ByteSize() < path.stat().st_size or not weights.spans


ALL_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint16,
              np.int32, np.uint32, np.int64, np.uint64, np.bool_, np.complex64]


def dtype_model(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """One large initializer per dtype, a large Constant, and a large Constant
    that is a graph output (its node stays: its tensor is read in)."""
    rng = np.random.default_rng(0)
    arrays = {f"w_{np.dtype(d).name}": (rng.standard_normal((33, 64)) * 50).astype(d)
              for d in ALL_DTYPES}
    arrays["w_bfloat16"] = numpy_helper.to_array(helper.make_tensor(
        "w_bfloat16", TP.BFLOAT16, [40, 40], rng.standard_normal(1600).astype(np.float32)))
    inits = [numpy_helper.from_array(a, n) for n, a in arrays.items()
             if n != "w_bfloat16"]
    inits.append(helper.make_tensor("w_bfloat16", TP.BFLOAT16, [40, 40],
                                    arrays["w_bfloat16"].tobytes(), raw=True))
    inits.append(helper.make_tensor("w_int4", TP.INT4, [64, 64], rng.integers(-8, 8, 4096)))
    arrays["w_int4"] = numpy_helper.to_array(inits[-1])
    arrays["c"] = rng.standard_normal((64, 64)).astype(np.float32)
    arrays["c_out"] = rng.standard_normal((32, 32)).astype(np.float32)
    nodes = [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(arrays["c"])),
             helper.make_node("Constant", [], ["c_out"],
                              value=numpy_helper.from_array(arrays["c_out"])),
             helper.make_node("MatMul", ["x", "c"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", TP.FLOAT, [1, 64]),
               helper.make_tensor_value_info("c_out", TP.FLOAT, [32, 32])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 64])],
                          outputs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    path = tmp_path / "dtypes.onnx"
    onnx.save(model, str(path))
    return path, arrays


def test_every_dtype_and_constants_are_mapped_views(tmp_path):
    path, arrays = dtype_model(tmp_path)
    model, weights = open_model(path)
    g = load(path)  # the initializers are unused: only the Constants are tensors
    (writer,) = [op for op in g.operators if op.type == "Constant"]  # c_out's: it stays
    got_all = {**{t.name: weights.array(t) for t in model.graph.initializer},
               "c": g.tensors["c"].data, "c_out": writer.attrs["value"]}
    for name, want in arrays.items():
        got = got_all[name]
        assert got.dtype == want.dtype and np.array_equal(got, want), name
        assert mapped(got) == (name not in ("w_int4", "c_out")), name  # packed: decoded
    assert g.tensors["c_out"].role is Role.OUTPUT and writer.outputs == ("c_out",)
    assert sum(s.length for s in strip_weights(path.read_bytes()).spans) > 0.9 * sum(
        a.nbytes for n, a in arrays.items() if n not in ("w_int4", "c_out"))


def test_external_data_is_mapped_after_the_size_checks(tmp_path):
    src = TESTS / "fixtures" / "ds_cnn_f32.onnx"
    model = onnx.load(str(src))
    onnx.save(model, str(tmp_path / "m.onnx"), save_as_external_data=True,
              location="m.data", size_threshold=0)
    g, ref = load(tmp_path / "m.onnx"), load(src)
    weights = [n for n, t in ref.tensors.items() if t.role is Role.WEIGHT]
    assert weights
    for n in weights:
        assert np.array_equal(g.tensors[n].data, ref.tensors[n].data), n
        assert mapped(g.tensors[n].data) or g.tensors[n].data.size == 0, n
    with open(tmp_path / "m.data", "r+b") as f:  # the data file loses its last bytes
        f.truncate(f.seek(0, 2) - 4)
    with pytest.raises(BadInput, match="external data of tensor"):
        load(tmp_path / "m.onnx")


def one_weight_model(tmp_path: Path, raw: bytes, dims=(32, 32)) -> Path:
    t = TP(name="w", data_type=TP.FLOAT, dims=list(dims))
    t.raw_data = raw  # unchecked: the bytes a hostile file may hold
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TP.FLOAT, [1, dims[0]])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, None)], [t])
    path = tmp_path / "w.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize("nbytes", [4095, 4092, 4100, 8192])
def test_raw_data_of_the_wrong_length_is_refused(tmp_path, capsys, nbytes):
    path = one_weight_model(tmp_path, bytes(nbytes))
    assert main(["profile", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'w'" in err[0] and "Traceback" not in err[0], err


def test_truncated_files_are_refused_in_one_line(tmp_path, capsys):
    data = one_weight_model(tmp_path, np.ones(1024, np.float32).tobytes()).read_bytes()
    for cut in (len(data) - 1, len(data) - 100, len(data) // 2, 40, 3):
        bad = tmp_path / f"cut{cut}.onnx"
        bad.write_bytes(data[:cut])
        assert main(["profile", str(bad)]) == 2, cut
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("infermem: error:"), (cut, err)


def test_stripped_model_marks_only_the_spans_it_recorded(tmp_path):
    """A file naming the stripper's own location is refused, not obeyed."""
    path = one_weight_model(tmp_path, np.ones(1024, np.float32).tobytes())
    stripped = strip_weights(path.read_bytes())
    (span,) = stripped.spans
    assert path.read_bytes()[span.offset:span.offset + span.length] == bytes(
        np.ones(1024, np.float32))
    m = onnx.ModelProto.FromString(stripped.data)
    m.graph.initializer[0].external_data[1].value = str(span.offset - 4)  # forged offset
    onnx.save(m, str(tmp_path / "forged.onnx"))
    with pytest.raises(BadInput, match="not allowed"):
        load(tmp_path / "forged.onnx")


def appended_tflite(src: Path, dst: Path) -> None:
    """`src` rewritten in the >2 GB layout: every buffer's bytes after the
    flatbuffer, found by (offset, size) from the file's start."""
    model = schema_fb.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    blobs = {i: bytes(b.data) for i, b in enumerate(model.buffers) if b.data is not None
             and len(b.data)}

    def pack(offsets: dict[int, int]) -> bytes:
        for i, b in enumerate(model.buffers):
            if i in blobs:
                b.data, b.offset, b.size = None, offsets[i], len(blobs[i])
        import flatbuffers

        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    head = len(pack({i: 1 << 40 for i in blobs}))  # the same size whatever the offsets
    offsets, at = {}, head
    for i, blob in blobs.items():
        at = (at + 15) // 16 * 16
        offsets[i], at = at, at + len(blob)
    out = bytearray(pack(offsets))
    assert len(out) == head
    for i, blob in blobs.items():
        out += bytes(offsets[i] - len(out)) + blob
    dst.write_bytes(bytes(out))


def test_tflite_weights_are_views_over_the_map_inline_and_appended(tmp_path):
    ref = load(TFLITE)
    appended = tmp_path / "appended.tflite"
    appended_tflite(TFLITE, appended)
    got = load(appended)
    weights = [n for n, t in ref.tensors.items() if t.role is Role.WEIGHT]
    assert len(weights) > 20
    for n in weights:
        assert mapped(ref.tensors[n].data) and mapped(got.tensors[n].data), n
        assert np.array_equal(got.tensors[n].data, ref.tensors[n].data), n
    assert got.weights_bytes == ref.weights_bytes


# VmHWM, not ru_maxrss: Linux hands a child its parent's ru_maxrss at fork
CHILD = """
import sys
from infermem.cli import main
code = main(sys.argv[1:])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(int(hwm.split()[1]) * 1024, file=sys.stderr)
sys.exit(code)
"""


def peak_rss(args: list[str]) -> tuple[int, str]:
    """Peak RSS (bytes) and stdout of `infermem ARGS` in a fresh process,
    imports included."""
    p = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return int(p.stderr.strip().splitlines()[-1]), p.stdout


def test_profile_of_a_100_mb_model_costs_far_less_than_the_file(tmp_path):
    """The old loader (onnx.load, then numpy copies) peaked near 3x the file;
    mapped, a 100 MB model costs what a tiny one costs plus a little."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((1024, 1024), dtype=np.float32)
    n = 24  # 24 x 4 MiB = 100.7 MB
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"y{i - 1}", f"w{i}"], [f"y{i}"])
             for i in range(n)]
    inits = [numpy_helper.from_array(w, f"w{i}") for i in range(n)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TP.FLOAT, [1, 1024])],
                          [helper.make_tensor_value_info(f"y{n - 1}", TP.FLOAT, None)], inits)
    big = tmp_path / "big.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(big))
    del inits, g
    size = big.stat().st_size
    assert size > 100e6
    small = one_weight_model(tmp_path, np.ones(1024, np.float32).tobytes())
    (base, _), (peak, out) = peak_rss(["profile", str(small)]), peak_rss(["profile", "--json",
                                                                             str(big)])
    assert peak < base + 0.25 * size, (base, peak, size)
    assert json.loads(out)["weights_bytes"] == n * w.nbytes
