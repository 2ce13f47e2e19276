"""Resource budgets: small files never make infermem allocate what the machine
cannot hold, and every refusal is one line with exit 2.

Each command runs in a child process whose peak RSS is sampled with psutil
(and whose CPU time is read from the child's own accounting), so a bomb that
slips through shows up as memory, not as a flaky timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx
import psutil
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import scale_models as S  # noqa: E402

MB = 1 << 20
RSS_LIMIT = 400 * MB  # a ~200-byte file must not drive memory past a few hundred MB
TIMEOUT = 180  # s of wall time, generous for a loaded 2-core machine


def run_cli(*args: str, timeout: float = TIMEOUT) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in bytes) of `infermem ARGS` in a child."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    # stderr to a file and stdout dropped: a pipe nobody reads while the child
    # runs fills at 64 KiB (a 20,000-row table) and blocks the child for good.
    with tempfile.TemporaryFile("w+") as errfile:
        p = subprocess.Popen([sys.executable, "-m", "infermem", *args],
                             stdout=subprocess.DEVNULL, stderr=errfile, text=True, env=env)
        proc, peak, start = psutil.Process(p.pid), 0, time.monotonic()
        while p.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            if time.monotonic() - start > timeout:
                p.kill()
                p.wait()
                raise AssertionError(f"infermem {' '.join(args)} ran past {timeout} s")
            time.sleep(0.02)
        p.wait()
        errfile.seek(0)
        return p.returncode, errfile.read(), peak


def one_line_refusal(rc: int, err: str, *words: str) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("infermem: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("budgets")
    for kind in S.BOMBS:
        onnx.save(S.bomb(kind), d / f"{kind}.onnx")
    onnx.save(S.big_input_onnx(4), d / "big.onnx")
    (d / "big.tflite").write_bytes(S.big_input_tflite(4))
    return d


@pytest.mark.parametrize("kind", S.BOMBS)
def test_folding_bomb_is_profiled_without_materialising_it(models, kind):
    """The bomb's tensor keeps its declared size in the profile (a weight when the
    fold is a free broadcast view, else an unfolded activation) and nothing of
    that size is ever allocated."""
    import json

    path = models / f"{kind}.onnx"
    assert path.stat().st_size < 300
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    rc, err, peak = run_cli("profile", str(path), "--json")
    assert rc == 0, err
    assert peak < RSS_LIMIT, f"{kind}: peak RSS {peak / MB:.0f} MB"
    out = subprocess.run([sys.executable, "-m", "infermem", "profile", str(path), "--json"],
                         capture_output=True, text=True, env=env, check=True).stdout
    doc = json.loads(out)
    biggest = max(t["bytes"] for t in doc["tensors"])
    assert biggest >= 1 << 30, f"{kind}: the GiB-sized tensor vanished from the profile"


@pytest.mark.parametrize("kind", S.BOMBS)
def test_folding_bomb_refused_by_verify_before_allocating(models, kind):
    rc, err, peak = run_cli("verify", str(models / f"{kind}.onnx"), "--max-memory", "2GiB")
    one_line_refusal(rc, err, "memory budget", "--max-memory")
    assert peak < RSS_LIMIT


@pytest.mark.parametrize("cmd", [
    ("verify", "big.onnx"),
    ("fit", "big.tflite"),
    ("tflm", "measure", "big.tflite"),
    ("optimize", "big.tflite", "-o", "OUT"),
])
def test_4gib_input_refused_before_allocating(models, tmp_path, cmd):
    args = [str(models / a) if a.startswith("big") else a for a in cmd]
    args = [str(tmp_path / "out.tflite") if a == "OUT" else a for a in args]
    rc, err, peak = run_cli(*args, "--max-memory", "2GiB")
    one_line_refusal(rc, err, "memory budget", "4,294,967,296 B")
    assert peak < RSS_LIMIT
    assert not (tmp_path / "out.tflite").exists()


def test_4gib_input_planned_with_dmo_without_allocating_it(models):
    """plan --dmo allocates nothing of the tensor's size (the ONNX DMO rules
    answer from strides, and a rule too long to walk gives none)."""
    rc, err, peak = run_cli("plan", "--dmo", str(models / "big.onnx"), "--max-memory", "2GiB")
    assert rc == 0, err
    assert peak < RSS_LIMIT


def test_max_memory_is_read_as_a_size_and_enforced(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "ds_cnn_f32.onnx"
    rc, err, _ = run_cli("verify", str(fixture), "--max-memory", "12QB")
    assert rc == 2 and "--max-memory" in err and "Traceback" not in err
    rc, err, _ = run_cli("verify", str(fixture), "--max-memory", "64KiB")
    one_line_refusal(rc, err, "65,536 B")
    rc, err, _ = run_cli("verify", str(fixture), "--max-memory", "1GB")
    assert rc == 0, err


def test_budget_default_is_half_the_available_ram():
    from infermem.budget import DEFAULT_SHARE, default_budget, memory_budget, use_budget

    avail = psutil.virtual_memory().available
    assert DEFAULT_SHARE == 0.5
    assert 0.3 * avail < default_budget() < 0.7 * avail
    with use_budget(12345):
        assert memory_budget() == 12345


def test_planner_refuses_a_clique_beyond_its_work_budget():
    """30,000 buffers live at once (450 million pairs): refused at once."""
    from infermem.errors import BadInput
    from infermem.planners import Buffer, Problem, plan

    p = Problem(tuple(Buffer(f"b{k}", 16, 0, 0) for k in range(30_000)), 16)
    t = time.process_time()
    with pytest.raises(BadInput, match="work budget"):
        plan(p, "best")
    assert time.process_time() - t < 5
    assert plan(p, "linear").arena_bytes == 16 * 30_000


def small_net(dims: tuple[int, ...]) -> onnx.ModelProto:
    """The fuzz harness's small network (Conv, Relu, MaxPool, Conv, Add, pool)."""
    from fuzz_cases import small_net as build

    return onnx.load_from_string(build(dims))


def verify_need(path: Path) -> int:
    """`verify`'s memory estimate for the model at `path`, read from its refusal."""
    rc, err, _ = run_cli("verify", str(path), "--max-memory", "1MiB")
    one_line_refusal(rc, err, "memory budget")
    return int(err.split("MiB (")[1].split(" B)")[0].replace(",", ""))


def test_verify_estimate_covers_what_verify_allocates(tmp_path):
    """Fuzz #9742: verify of a 1x4x1048576x8 input passed the budget and went
    past 2 GiB: the estimate missed the file-order arena, onnxruntime's value
    of every tensor, the snapshot of every tensor and the kernels' scratch.
    Measured on the same network 16x smaller: what verify adds to the RSS of
    verifying a tiny one stays under the estimate; the original is refused
    up front, at the budget the harness gives."""
    big, tiny = tmp_path / "big.onnx", tmp_path / "tiny.onnx"
    onnx.save(small_net((1, 4, 65536, 8)), big)
    onnx.save(small_net((1, 4, 8, 8)), tiny)
    need = verify_need(big)
    rc, err, peak_big = run_cli("verify", str(big), "--time-limit", "1", "--max-memory", "4GiB")
    assert rc == 0, err
    rc, err, peak_tiny = run_cli("verify", str(tiny), "--time-limit", "1")
    assert rc == 0, err
    assert peak_big - peak_tiny <= need, (peak_big - peak_tiny, need)
    onnx.save(small_net((1, 4, 1048576, 8)), big)
    rc, err, peak = run_cli("verify", str(big), "--max-memory", "1536MiB")
    one_line_refusal(rc, err, "memory budget", "tensors in their own bytes")
    assert peak < RSS_LIMIT


@pytest.mark.slow
def test_profile_of_20000_branches_keeps_to_the_budget(tmp_path):
    """Fuzz #8358: `profile` on 20,000 parallel branches went past 2 GiB (the
    per-step lists of live tensor names: 200 million entries).  The table needs
    only their counts; `--json`, which prints the names, is refused up front
    from its estimate."""
    path = tmp_path / "branches.onnx"
    onnx.save(S.branches(20_000), path)
    rc, err, peak = run_cli("profile", str(path), "--max-memory", "1536MiB", timeout=600)
    assert rc == 0, err
    assert peak < RSS_LIMIT, f"peak RSS {peak / MB:.0f} MB"
    rc, err, peak = run_cli("profile", "--json", str(path), "--max-memory", "1536MiB",
                            timeout=600)
    one_line_refusal(rc, err, "live-tensor lists", "memory budget")
    assert peak < RSS_LIMIT
