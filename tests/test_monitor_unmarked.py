"""`infermem monitor -- CMD` on programs with no infermem code in them: the
leak verdict over time, allocation sites, and process hygiene (group kill,
exec errors).  Real child processes, real onnxruntime."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_monitor_cli import cli

from infermem.monitor.runner import monitor_command

FIXTURES = Path(__file__).parent / "fixtures"
MODEL = FIXTURES / "ds_cnn_f32.onnx"

# 16 KiB kept per inference, one inference every PERIOD seconds by the clock
# (deadline pacing: a late iteration is caught up, so the rate holds on a
# loaded machine as long as one inference takes less than PERIOD).
PACED_LEAK = """
    import sys, time
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    i = sess.get_inputs()[0]
    x = np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
    kept, period = [], float(sys.argv[3])
    t = time.monotonic()
    for _ in range(int(sys.argv[2])):
        sess.run(None, {i.name: x})
        kept.append(np.full(4096, 1.0, np.float32))  # the leak: 16 KiB per inference
        t += period
        time.sleep(max(t - time.monotonic(), 0))
"""

CLEAN_LOOP = """
    import sys, time
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    i = sess.get_inputs()[0]
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        sess.run(None, {i.name: x})
"""


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_unmarked_16k_leak_is_flagged_with_its_rate(tmp_path, capsys):
    period, runs = 0.01, 500  # 1.6 MB/s for 5 s
    app = _script(tmp_path, "leaky.py", PACED_LEAK)
    rc = cli("--json", "--", sys.executable, str(app), str(MODEL), str(runs), str(period))
    assert rc == 0
    d = json.loads(capsys.readouterr().out)  # --json: the document on stdout, nothing else
    leak = d["leak"]
    assert leak["detected"], leak["reason"]
    rate = 16384 / period
    assert abs(leak["slope_bytes_per_s"] - rate) <= 0.10 * rate, (leak["slope_bytes_per_s"], rate)
    assert leak["ci_low"] > 0 and leak["window_s"][0] > 0
    assert "grows" in leak["reason"] and "/s" in leak["reason"]


def test_trace_allocations_names_the_leaking_line(tmp_path, capsys):
    period, runs = 0.05, 120  # 320 KiB/s for 6 s: slack to keep pace under load
    app = _script(tmp_path, "leaky.py", PACED_LEAK)
    argv = [sys.executable, str(app), str(MODEL), str(runs), str(period)]
    assert cli("--trace-allocations", "--json", "--", *argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["leak"]["detected"], d["leak"]["reason"]
    top = d["allocations"]["sites"][0]
    leak_line = 1 + next(k for k, s in enumerate(app.read_text().splitlines()) if "the leak" in s)
    assert (top["file"], top["line"]) == (str(app), leak_line), top
    assert "numpy" in top["via"]
    rate = 16384 / period
    span = {k: v for k, v in d["allocations"].items() if k != "sites"}
    assert abs(top["growth_bytes_per_s"] - rate) <= 0.10 * rate, (top, rate, span, d["duration_s"])


def test_trace_allocations_on_a_program_that_is_not_python(capsys):
    assert cli("--trace-allocations", "--", "sleep", "0.3") == 0
    assert "allocation sites: no Python process" in capsys.readouterr().out


@pytest.mark.slow
def test_twenty_clean_unmarked_runs_are_never_flagged(tmp_path):
    """20 plain onnxruntime loops and 20 sleeping processes, two at a time (so
    the machine is loaded by the test itself), none flagged."""
    app = _script(tmp_path, "clean.py", CLEAN_LOOP)
    onnx = [[sys.executable, str(app), str(MODEL), "4"]] * 20
    sleeps = [["sleep", "2"]] * 20
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(monitor_command, onnx + sleeps))
    assert all(r.error is None for r in results)
    assert all(r.leak.assessed and r.leak.per == "s" for r in results)
    flagged = [r.leak.reason for r in results if r.leak.detected]
    flagged += [r.leak_uss.reason for r in results if r.leak_uss and r.leak_uss.detected]
    assert not flagged, flagged


def test_clean_loop_and_sleep_are_not_flagged(tmp_path):
    """The quick version of the above: one of each."""
    app = _script(tmp_path, "clean.py", CLEAN_LOOP)
    for argv in ([sys.executable, str(app), str(MODEL), "2"], ["sleep", "1.5"]):
        r = monitor_command(argv)
        assert r.leak.assessed and not r.leak.detected, r.leak.reason


def test_peak_is_the_commands_own_not_the_parents():
    """The kernel's peak from `wait4` starts at the parent's own (inherited
    through fork): a `sleep` started from a 200 MiB process must still report
    a few MiB, and a 50 MiB spike between samples must still be caught."""
    import numpy as np

    ballast = np.ones(200 << 20, np.uint8)
    r = monitor_command(["sleep", "0.3"], interval_ms=20)
    assert r.peak_rss_bytes < 50 << 20, r.peak_rss_bytes
    spike = "import time; x = bytearray(50 << 20); del x; time.sleep(0.3)"
    r = monitor_command([sys.executable, "-c", spike], interval_ms=50)
    assert 50 << 20 <= r.peak_rss_bytes < 150 << 20, r.peak_rss_bytes
    del ballast


# -- process hygiene -------------------------------------------------------------


def test_timeout_ends_the_whole_process_group(tmp_path, capsys):
    """The command starts a grandchild that would outlive it; on timeout both end."""
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(pidfile)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    rc = cli("--timeout", "2", "--", sys.executable, "-c", code)
    assert rc == 1 and "timed out after 2 s" in capsys.readouterr().err
    pid = int(pidfile.read_text())
    for _ in range(50):  # the grandchild was SIGKILLed; wait for init to reap it
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid), f"grandchild {pid} survived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def test_exec_errors_are_one_line(tmp_path, capsys):
    not_exe = tmp_path / "data.bin"
    not_exe.write_bytes(b"\x00\x01garbage" * 10)
    not_exe.chmod(0o755)  # executable, but no valid format
    assert cli("--", str(not_exe)) == 2
    assert cli("--", "echo", "x" * (4 << 20)) == 2  # past ARG_MAX: E2BIG
    assert cli("--", str(tmp_path / "missing")) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln]
    assert len(lines) == 3 and all(ln.startswith("infermem: error: cannot run") for ln in lines)
    assert "Exec format error" in lines[0] and "too long" in lines[1]
    assert "Traceback" not in err


def test_ctrl_c_ends_the_group(tmp_path):
    """SIGINT to `infermem monitor` (as Ctrl-C sends it) ends the child's group."""
    import subprocess

    pidfile = tmp_path / "child.pid"
    code = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-m", "infermem", "monitor", "--", sys.executable, "-c", code],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background
    )  # fmt: skip  (job inherits SIGINT ignored; a terminal's Ctrl-C does not)
    for _ in range(300):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "interrupted" in err, err
    assert not _alive(int(pidfile.read_text()))
