"""TFLite Micro as ground truth: measured arenas, TFLM's planning problem,
offline plans written into models and verified by running them in TFLM.

Every number here is measured in the `tflite-micro` Python interpreter (in
child processes) on the committed fixtures; nothing is hard-coded.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from infermem.cli import main
from infermem.errors import BadInput, Failure
from infermem.frontends import load
from infermem.outputs import write_bytes
from infermem.planners import plan, validate
from infermem.tflm import (
    build,
    measure,
    optimize,
    run,
    tflm_problem,
    verify,
    write_offline_plan,
)
from infermem.tflm._model import OFFLINE_PLAN_NAME, read_model, schema
from infermem.tflm.inputs import random_inputs
from infermem.tflm.offline import _pack, plan_words

FIXTURES = sorted(Path(__file__).parent.joinpath("fixtures").glob("*.tflite"))
IDS = [p.stem for p in FIXTURES]
MOBILENET = Path(__file__).parent / "fixtures" / "mobilenet_v1_int8.tflite"
_RESULTS: dict[str, tuple] = {}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _optimized(path: Path, tmp: Path):
    """optimize() once per fixture (verification included), shared by the tests."""
    if path.stem not in _RESULTS:
        before = _sha(path)
        dst = tmp / f"{path.stem}.planned.tflite"
        r = optimize(path, dst, runs=2)
        _RESULTS[path.stem] = (r, before, _sha(path), dst)
    return _RESULTS[path.stem]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tflm")


def _tflm_offsets(path: Path) -> tuple[dict[int, int], object]:
    tp = build(path)
    p = plan(tp.problem, "tflm")
    return {tp.tensor_buffers[n]: o for n, o in p.offsets.items() if n in tp.tensor_buffers}, tp


def test_fixtures_present():
    assert len(FIXTURES) >= 6


# ---- measure ---------------------------------------------------------------------------


def test_measure_matches_the_interpreters_own_report():
    """Our child process reports what TFLM itself prints, and the bisected minimum
    arena is within 16 bytes of the total (here: equal)."""
    script = (
        "import sys, numpy as np\n"
        "from tflite_micro.python.tflite_micro import runtime\n"
        "it = runtime.Interpreter.from_file(sys.argv[1], arena_size=4 << 20)\n"
        "d = it.get_input_details(0)\n"
        "it.set_input(np.zeros(d['shape'], d['dtype']), 0)\n"
        "it.invoke(); it.print_allocations()\n"
    )
    p = subprocess.run([sys.executable, "-c", script, str(MOBILENET)], capture_output=True,
                       text=True, timeout=120, check=True)  # fmt: skip
    own = {k: int(v) for k, v in re.findall(r"allocation (total|head|tail) (\d+)", p.stderr)}
    a = measure(MOBILENET)
    assert (a.head_bytes, a.tail_bytes, a.total_bytes) == (own["head"], own["tail"], own["total"])
    assert a.head_bytes + a.tail_bytes == a.total_bytes
    assert abs(a.min_arena_bytes - a.total_bytes) <= 16
    assert a.min_arena_bytes == a.total_bytes


@pytest.mark.slow
def test_min_arena_is_the_smallest_that_runs():
    """The bisected size runs, 16 bytes less does not.  On a model whose head is
    tiny (autoencoder_int8) the minimum is above the reported total: while
    preparing, TFLM needs temporary head memory (planner scratch, temp tensors)
    beyond the final plan."""
    path = Path(__file__).parent / "fixtures" / "autoencoder_int8.tflite"
    a = measure(path)
    assert a.min_arena_bytes % 16 == 0 and a.min_arena_bytes >= a.total_bytes
    x = [random_inputs(read_model(path), 0)]
    assert run(path, x, arena=a.min_arena_bytes).head_bytes == a.head_bytes
    with pytest.raises(Failure, match="arena_size"):
        run(path, x, arena=a.min_arena_bytes - 16)


def test_too_small_arena_is_a_clear_failure(capsys):
    """One line with the --arena-size hint, not TFLM's C-level messages."""
    with pytest.raises(Failure) as e:
        measure(MOBILENET, bisect=False, arena=4096)
    msg = str(e.value)
    assert "arena_size=4,096 B is too small" in msg and "--arena-size" in msg
    assert "\n" not in msg and "Failed to allocate" not in msg
    assert main(["tflm", "measure", str(MOBILENET), "--arena-size", "4096", "--no-bisect"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--arena-size" in err


def test_corrupt_model_is_bad_input(tmp_path):
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(MOBILENET.read_bytes()[:3000])
    with pytest.raises(BadInput):
        measure(bad)
    assert main(["tflm", "measure", str(bad)]) == 2


def _overlapping_vectors() -> bytes:
    """A small file whose 3000 operators all share one 100k-entry inputs and
    outputs vector: an unbudgeted reader converts 6e8 indices (minutes)."""
    import flatbuffers

    fb, b = schema(), flatbuffers.Builder(0)
    vec = b.CreateNumpyVector(np.zeros(100_000, dtype=np.int32))
    shape = b.CreateNumpyVector(np.ones(1, dtype=np.int32))
    fb.TensorStart(b)
    fb.TensorAddShape(b, shape)
    tensor = fb.TensorEnd(b)
    ops = []
    for _ in range(3000):
        fb.OperatorStart(b)
        fb.OperatorAddInputs(b, vec)
        fb.OperatorAddOutputs(b, vec)
        ops.append(fb.OperatorEnd(b))

    def vector(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for x in reversed(items):
            b.PrependUOffsetTRelative(x)
        return b.EndVector()

    tensors, operators = vector([tensor]), vector(ops)
    fb.SubGraphStart(b)
    fb.SubGraphAddTensors(b, tensors)
    fb.SubGraphAddOperators(b, operators)
    subgraphs = vector([fb.SubGraphEnd(b)])
    fb.OperatorCodeStart(b)
    fb.OperatorCodeAddBuiltinCode(b, fb.BuiltinOperator.ADD)
    codes = vector([fb.OperatorCodeEnd(b)])
    fb.BufferStart(b)
    buffers = vector([fb.BufferEnd(b)])
    fb.ModelStart(b)
    fb.ModelAddVersion(b, 3)
    fb.ModelAddSubgraphs(b, subgraphs)
    fb.ModelAddOperatorCodes(b, codes)
    fb.ModelAddBuffers(b, buffers)
    b.Finish(fb.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _huge_shape() -> bytes:
    """MobileNet with its input tensor's shape vector claiming 2**30 entries."""
    data = bytearray(MOBILENET.read_bytes())
    sg = schema().Model.GetRootAs(data, 0).Subgraphs(0)
    tab = sg.Tensors(sg.Inputs(0))._tab
    start = tab.Vector(tab.Offset(4))  # field 0 (shape): its length precedes the data
    data[start - 4 : start] = (1 << 30).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("make", [_overlapping_vectors, _huge_shape])
def test_hostile_model_is_bad_input_quickly(tmp_path, make):
    """TFLM's view reads the file through the frontend's guarded walk: lengths
    checked against the file, work bounded by its size."""
    bad = tmp_path / "hostile.tflite"
    bad.write_bytes(make())
    for call in (tflm_problem, measure):
        t0 = time.monotonic()
        with pytest.raises(BadInput, match="hostile.tflite"):
            call(bad)
        assert time.monotonic() - t0 < 2.0
    assert main(["tflm", "measure", str(bad), "--no-bisect"]) == 2


def test_a_model_that_crashes_tflm_is_reported_not_hung(tmp_path):
    """A plan that puts the largest tensor 64 bytes before the arena makes TFLM
    write outside its buffer: the child dies, we report it, promptly."""
    offsets, tp = _tflm_offsets(MOBILENET)
    big = max(offsets, key=lambda i: tp.model.main.tensors[i].nbytes)
    offsets[big] = -64  # write_offline_plan refuses this; pack the bytes by hand
    words = plan_words([len(s.tensors) for s in tp.model.subgraphs], offsets, set(offsets))
    crash = tmp_path / "crash.tflite"
    write_bytes(crash, _pack(MOBILENET.read_bytes(), words))
    t0 = time.monotonic()
    with pytest.raises(Failure, match="TFLM"):
        measure(crash, bisect=False)
    assert time.monotonic() - t0 < 60


def test_timeout_is_a_failure_not_a_hang():
    with pytest.raises(Failure, match="did not finish"):
        measure(MOBILENET, bisect=False, timeout=0.05)


# ---- TFLM's planning problem ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_tflm_strategy_predicts_the_measured_head(path, outdir):
    """Byte for byte: TFLM's greedy planner replayed on TFLM's problem gives the
    head TFLM measured on the original model."""
    r, *_ = _optimized(path, outdir)
    assert plan(tflm_problem(path), "tflm").arena_bytes == r.head_before
    assert plan(tflm_problem(load(path)), "tflm").arena_bytes == r.head_before


def test_problem_sizes_and_lifetimes_follow_tflm():
    tp = build(MOBILENET)
    m = tp.model.main
    by_index = {b.index: b for b in tp.problem.buffers if b.index is not None}
    assert set(by_index) == {t.index for t in m.tensors if t.planned}
    for b in by_index.values():
        assert b.size % 16 == 0 and b.size - 16 < m.tensors[b.index].nbytes <= b.size
    (inp,), (out,) = m.inputs, m.outputs
    assert by_index[inp].first == 0 and by_index[out].last == len(m.ops)
    assert not any(t.planned for t in m.tensors if t.constant)
    # int8 MEAN requests an int32 accumulator per output element, live in its scope
    (s,) = [tp.problem.by_name[n] for n in tp.scratch_buffers]
    mean = next(op for op in m.ops if op.type == "MEAN")
    assert s.first == s.last == mean.index + 1
    assert s.size == 4 * int(np.prod(m.tensors[mean.outputs[0]].shape))


def test_multi_subgraph_and_bad_order_refused(tmp_path):
    """TFLM indexes offline offsets by in-subgraph tensor index, so only
    single-subgraph models are planned; a bad operator order is refused."""
    import copy

    import flatbuffers

    with pytest.raises(BadInput, match="order"):
        tflm_problem(MOBILENET, order=[0, 0])
    fb = schema()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(MOBILENET.read_bytes(), 0))
    m.subgraphs.append(copy.deepcopy(m.subgraphs[0]))
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    two = tmp_path / "two.tflite"
    two.write_bytes(bytes(b.Output()))
    with pytest.raises(BadInput, match="2 subgraphs"):
        tflm_problem(two)
    with pytest.raises(BadInput, match="subgraphs"):
        optimize(two, tmp_path / "out.tflite")


# ---- optimize: offline plans verified in TFLM ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_optimize_verifies_and_never_loses(path, outdir):
    r, before, after, dst = _optimized(path, outdir)
    assert r.verified and r.verification.first_difference is None
    assert r.head_after == r.planned_arena_bytes  # TFLM uses exactly the planned head
    assert r.head_after <= r.head_before
    assert r.planned_arena_bytes >= r.lower_bound_bytes
    assert before == after  # the input file is never modified
    written = read_model(dst)
    assert len(written.offline_plan) == written.tensor_count
    for t in written.main.tensors:
        got = written.offline_plan[t.index]
        assert got == (r.offsets[t.index] if t.planned else -1)


def test_optimize_saves_arena_on_mobilenet(outdir):
    r, *_ = _optimized(MOBILENET, outdir)
    assert r.head_after < r.head_before
    assert r.head_after == r.lower_bound_bytes


def _wrong_plan(path: Path, dst: Path) -> tuple[int, int]:
    """TFLM's own plan with one 3x3 convolution's output moved onto its input."""
    offsets, tp = _tflm_offsets(path)
    m = tp.model.main
    conv = next(
        op for op in m.ops
        if op.type == "CONV_2D" and m.tensors[op.inputs[1]].shape[1] > 1
        and m.tensors[op.inputs[0]].planned
    )  # fmt: skip
    src, out = conv.inputs[0], conv.outputs[0]
    offsets[out] = offsets[src]
    names = {i: n for n, i in tp.tensor_buffers.items()}
    with pytest.raises(Failure):  # infermem's validator would never let this through
        validate(tp.problem, {**plan(tp.problem, "tflm").offsets, names[out]: offsets[src]})
    write_offline_plan(path, dst, offsets)
    return src, out


def test_verify_catches_a_wrong_plan(tmp_path):
    bad = tmp_path / "wrong.tflite"
    _wrong_plan(MOBILENET, bad)
    v = verify(MOBILENET, bad, runs=2)
    assert not v.verified
    d = v.first_difference
    assert d is not None and d.input_set == 0 and d.output == 0
    assert d.differing > 0 and d.max_abs_diff > 0


def test_optimize_writes_nothing_when_outputs_differ(tmp_path, capsys):
    """A model that already carries a wrong plan computes something else than the
    freshly planned copy: optimize refuses, exit 1, no file."""
    bad = tmp_path / "wrong.tflite"
    _wrong_plan(MOBILENET, bad)
    out = tmp_path / "out.tflite"
    assert main(["optimize", str(bad), "-o", str(out), "--runs", "1"]) == 1
    assert not out.exists() and not list(tmp_path.glob(".out.tflite*"))
    assert "differ" in capsys.readouterr().err


def test_refuses_to_overwrite_the_input(tmp_path):
    copy = tmp_path / "m.tflite"
    copy.write_bytes(MOBILENET.read_bytes())
    h = _sha(copy)
    with pytest.raises(BadInput):
        write_offline_plan(copy, copy, {})
    with pytest.raises(BadInput):
        optimize(copy, tmp_path / "." / "m.tflite")
    assert main(["optimize", str(copy), "-o", str(copy)]) == 2
    assert _sha(copy) == h


def test_writer_rejects_offsets_for_constants_and_unaligned(tmp_path):
    m = read_model(MOBILENET)
    const = next(t.index for t in m.main.tensors if t.constant)
    with pytest.raises(BadInput, match="not planned"):
        write_offline_plan(MOBILENET, tmp_path / "x.tflite", {const: 0})
    with pytest.raises(BadInput, match="multiple of 16"):
        write_offline_plan(MOBILENET, tmp_path / "x.tflite", {m.main.inputs[0]: 8})


def test_rewriting_replaces_the_entry_and_keeps_buffers_aligned(tmp_path, outdir):
    _, _, _, dst = _optimized(MOBILENET, outdir)
    offsets, _ = _tflm_offsets(MOBILENET)
    again = tmp_path / "again.tflite"
    write_offline_plan(dst, again, offsets)
    fb = schema()
    for path, n_meta in ((dst, 1), (again, 1)):
        model = fb.Model.GetRootAs(path.read_bytes(), 0)
        names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
        assert names.count(OFFLINE_PLAN_NAME.encode()) == n_meta
        for i in range(model.BuffersLength()):
            b = model.Buffers(i)
            if b.DataLength():
                assert b._tab.Vector(b._tab.Offset(4)) % 16 == 0
    assert (
        fb.Model.GetRootAs(again.read_bytes(), 0).BuffersLength()
        == fb.Model.GetRootAs(dst.read_bytes(), 0).BuffersLength()
    )
    assert read_model(again).offline_plan == tuple(
        offsets.get(t.index, -1) for t in read_model(again).main.tensors
    )
    assert (
        measure(again, bisect=False).head_bytes == plan(tflm_problem(MOBILENET), "tflm").arena_bytes
    )


def _with_inputs_as_outputs(src: Path, dst: Path) -> None:
    """A copy whose graph inputs are also graph outputs, to read them back after invoke."""
    import flatbuffers

    fb = schema()
    m = fb.ModelT.InitFromObj(fb.Model.GetRootAs(src.read_bytes(), 0))
    sg = m.subgraphs[0]
    sg.outputs = list(sg.outputs) + list(sg.inputs)
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))


def test_preserve_inputs_keeps_inputs_intact(tmp_path):
    kept, plain = tmp_path / "kept.tflite", tmp_path / "plain.tflite"
    r = optimize(MOBILENET, kept, preserve_inputs=True, runs=1)
    optimize(MOBILENET, plain, runs=1)
    assert r.verified and r.head_after == r.planned_arena_bytes
    x = random_inputs(read_model(MOBILENET), 7)
    results = {}
    for name, path in (("kept", kept), ("plain", plain)):
        probe = tmp_path / f"{name}.probe.tflite"
        _with_inputs_as_outputs(path, probe)
        (outs,) = run(probe, [x]).outputs
        results[name] = np.array_equal(outs[-1], x[0])
    assert results == {"kept": True, "plain": False}


def test_user_inputs_are_compared_and_checked(tmp_path, capsys):
    m = read_model(MOBILENET)
    x = random_inputs(m, 3)[0]
    (tmp_path / "set").mkdir()
    np.save(tmp_path / "set" / "0.npy", x)  # a folder of .npy, named by position
    out = tmp_path / "o.tflite"
    args = ["optimize", str(MOBILENET), "-o", str(out), "--runs", "0", "--json", "--force"]
    assert main([*args, "--inputs", str(tmp_path / "set")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verified"] and doc["input_sets_compared"] == 1
    np.savez(tmp_path / "x.npz", anything=x)  # the same set as an .npz (single input)
    assert main([*args, "--inputs", str(tmp_path / "x.npz")]) == 0
    capsys.readouterr()
    np.savez(tmp_path / "bad.npz", x=x[..., :2])
    assert main([*args, "--inputs", str(tmp_path / "bad.npz")]) == 2
    assert "shape" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", x)  # one bare .npy is neither format
    assert main([*args, "--inputs", str(tmp_path / "x.npy")]) == 2
    assert "folder of .npy" in capsys.readouterr().err


def test_cli_json_keys(tmp_path, capsys):
    assert main(["tflm", "measure", str(MOBILENET), "--json", "--no-bisect"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["head_bytes"] + doc["tail_bytes"] == doc["total_bytes"]
    assert doc["min_arena_bytes"] is None and doc["predicted_head_bytes"] == doc["head_bytes"]
    out = tmp_path / "o.tflite"
    assert main(["optimize", str(MOBILENET), "-o", str(out), "--json", "--runs", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("planned_arena_bytes", "head_before", "head_after", "verified"):
        assert key in doc
    assert doc["verified"] and doc["head_after"] == doc["planned_arena_bytes"] < doc["head_before"]
    assert main(["optimize", str(MOBILENET), "-o", str(out), "--no-verify", "--json",
                 "--force"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verified"] is False and doc["head_after"] is None


@pytest.mark.slow
def test_reorder_lowers_the_head_of_a_branching_model(tmp_path):
    """Inception block: running the branches in the lowest-peak order (operators
    rewritten in the file) beats the best plan for the file's own order."""
    path = Path(__file__).parent / "fixtures" / "inception_block_int8.tflite"
    plain = optimize(path, tmp_path / "plain.tflite", runs=1)
    r = optimize(path, tmp_path / "reordered.tflite", runs=1, reorder=True)
    assert r.verified and r.head_after == r.planned_arena_bytes
    assert r.head_after < plain.head_after <= r.head_before
    written = [op.outputs for op in read_model(tmp_path / "reordered.tflite").main.ops]
    assert written != [op.outputs for op in read_model(path).main.ops]


def test_prober_survives_a_model_that_crashes_tflm(tmp_path):
    """The DMO prober's long-lived TFLM child dies on a crashing plan: the probe
    counts as 'not identical' and the next probe runs in a fresh child."""
    from infermem.tflm.empirical import Prober

    offsets, tp = _tflm_offsets(MOBILENET)
    big = max(offsets, key=lambda i: tp.model.main.tensors[i].nbytes)
    offsets[big] = -64
    words = plan_words([len(s.tensors) for s in tp.model.subgraphs], offsets, set(offsets))
    crash = tmp_path / "crash.tflite"
    write_bytes(crash, _pack(MOBILENET.read_bytes(), words))
    with Prober(MOBILENET, runs=1) as prober:
        assert prober.compare(crash) == (False, None)
        ok, head = prober.compare(MOBILENET)
        assert ok and head == prober.head
