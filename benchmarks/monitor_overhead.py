"""Wall-time overhead of the memory monitor: monitored vs unmonitored, same work.

    python benchmarks/monitor_overhead.py [--repeats 15] [--runs 50] [--interval-ms 5]

Three scenarios, monitored and unmonitored runs interleaved (so machine load
hits both alike), onnxruntime on one intra-op thread in both (its spinning
worker threads make CPU time meaningless otherwise).  Columns: median wall
times and their ratio; "paired", the median ratio of adjacent pairs (robust
to slow drifts in load); the ratio of the fastest runs (the least disturbed);
the ratio of CPU seconds (this process, its threads and its children:
sampler, child, runtime), which a busy machine disturbs less.

- in-process: an onnxruntime inference loop bare vs inside `Monitor()` with a
  phase and one `iteration()` per inference (light SqueezeNet, ~15-30 ms/run);
- in-process, tiny model: the same with a 0.1 ms model, where the two
  synchronous measurements per iteration (~20-40 us each) are what shows;
- in-process, Python loop: `for i in range(N): s += i` bare vs inside
  `Monitor()` (about 1 s with --runs 50), where a sampler thread's GIL
  take-overs would show;
- per inference: the median time of one SqueezeNet inference, bare vs
  monitored (sampler running, iteration marks included);
- child process: a plain script that imports onnxruntime, loads the model and
  runs it, vs `monitor_model` on the same model (fresh child, parent sampling,
  phase events, exact peaks, leak verdict), wall time end to end;
- the child alone: the same plain script vs the monitored child started
  directly (events to a file, no parent sampling): its own start-up cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from infermem.monitor import Monitor
from infermem.monitor.runner import monitor_model

SQUEEZENET = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
TINY = Path(__file__).resolve().parents[1] / "tests/fixtures/ds_cnn_f32.onnx"

PLAIN = """
import sys
import numpy as np
import onnxruntime as ort
o = ort.SessionOptions()
o.intra_op_num_threads = 1
s = ort.InferenceSession(open(sys.argv[1], "rb").read(), o, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
x = np.random.default_rng(0).standard_normal(i.shape).astype(np.float32)
for _ in range(int(sys.argv[2]) + 1):
    s.run(None, {i.name: x})
"""


def _session(path: Path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    return s, {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32)}


def _cpu() -> float:
    """CPU seconds of this process and its reaped children (all threads)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn) -> tuple[float, float]:
    t, c = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - t, _cpu() - c


def _bare(sess, feed, runs: int, interval_ms: float) -> None:
    for _ in range(runs):
        sess.run(None, feed)


def _monitored(sess, feed, runs: int, interval_ms: float) -> None:
    with Monitor(interval_ms=interval_ms) as mon:
        with mon.phase("steady"):
            for _ in range(runs):
                with mon.iteration():
                    sess.run(None, feed)
    mon.result()


def _interleaved(a, b, repeats: int):
    """(wall s, cpu s) of a and of b, run alternately first: medians and minima."""
    ta, tb = [], []
    for k in range(repeats):
        if k % 2 == 0:
            ta.append(_timed(a))
            tb.append(_timed(b))
        else:
            tb.append(_timed(b))
            ta.append(_timed(a))

    def stats(xs):
        walls, cpus = [x[0] for x in xs], [x[1] for x in xs]
        return statistics.median(walls), statistics.median(cpus), min(walls)

    paired = statistics.median(b[0] / a[0] for a, b in zip(ta, tb, strict=True))
    return stats(ta), stats(tb), paired


def in_process(path: Path, runs: int, repeats: int, interval_ms: float):
    sess, feed = _session(path)
    _bare(sess, feed, 5, interval_ms)  # warm the arena
    return _interleaved(
        lambda: _bare(sess, feed, runs, interval_ms),
        lambda: _monitored(sess, feed, runs, interval_ms),
        repeats,
    )


def _py_loop(n: int) -> None:
    s = 0
    for i in range(n):
        s += i


def python_loop(n: int, repeats: int, interval_ms: float):
    """A pure-Python loop bare vs inside `Monitor()`: what sampling costs a
    program that holds the GIL (an in-process sampler thread would take it
    every interval; the helper process never does)."""

    def monitored() -> None:
        with Monitor(interval_ms=interval_ms):
            _py_loop(n)

    return _interleaved(lambda: _py_loop(n), monitored, repeats)


def per_inference(path: Path, runs: int, repeats: int, interval_ms: float) -> tuple[float, float]:
    """Median time of one inference (with its iteration marks when monitored):
    preemption by other jobs inflates some inferences, not the median."""
    sess, feed = _session(path)
    _bare(sess, feed, 5, interval_ms)
    bare, monitored = [], []
    for _ in range(repeats):
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feed)
            bare.append(time.perf_counter() - t)
        with Monitor(interval_ms=interval_ms) as mon, mon.phase("steady"):
            for _ in range(runs):
                t = time.perf_counter()
                with mon.iteration():
                    sess.run(None, feed)
                monitored.append(time.perf_counter() - t)
    return statistics.median(bare), statistics.median(monitored)


def child(path: Path, runs: int, repeats: int, interval_ms: float, uss_ms: float | None = 250.0):
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plain.py"
        script.write_text(PLAIN)

        def plain() -> None:
            subprocess.run([sys.executable, str(script), str(path), str(runs)], check=True)

        def monitored() -> None:
            r = monitor_model(str(path), runs=runs, warmup=0, interval_ms=interval_ms, threads=1,
                              uss_interval_ms=uss_ms)  # fmt: skip
            assert r.error is None, r.error

        return _interleaved(plain, monitored, repeats)


def child_alone(path: Path, runs: int, repeats: int, interval_ms: float):
    """The monitored child's own cost: `child.py` (events to a file, exact
    peaks at every boundary) started directly, no parent sampling it, vs the
    plain script.  Separates the child's start-up from the parent's work."""
    from infermem.monitor.runner import model_argv

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plain.py"
        script.write_text(PLAIN)
        env = dict(os.environ, INFERMEM_MONITOR_EVENTS=str(Path(tmp) / "events.jsonl"))
        argv = model_argv(str(path), "onnxruntime", runs=runs, warmup=0, input_shapes={},
                          threads=1)  # fmt: skip

        def plain() -> None:
            subprocess.run([sys.executable, str(script), str(path), str(runs)], check=True)

        def monitored() -> None:
            subprocess.run(argv, check=True, env=env)

        return _interleaved(plain, monitored, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument(
        "--only", choices=("squeezenet", "tiny", "pyloop", "child", "childalone"), default=None
    )
    ap.add_argument(
        "--uss-interval-ms",
        type=float,
        default=250.0,
        help="child scenario: USS period, 0 for none (default 250, as the CLI)",
    )
    args = ap.parse_args()
    n, r, iv = args.runs, args.repeats, args.interval_ms
    scenarios = {
        "squeezenet": ("in-process, SqueezeNet", lambda: in_process(SQUEEZENET, n, r, iv)),
        "tiny": ("in-process, DS-CNN (tiny)", lambda: in_process(TINY, n * 20, r, iv)),
        "pyloop": ("in-process, Python loop", lambda: python_loop(n * 200_000, r, iv)),
        "child": (
            "child process, SqueezeNet",
            lambda: child(SQUEEZENET, n, r, iv, args.uss_interval_ms or None),
        ),
        "childalone": ("the child alone, SqueezeNet", lambda: child_alone(SQUEEZENET, n, r, iv)),
    }
    rows = [(name, run()) for key, (name, run) in scenarios.items() if args.only in (None, key)]
    print(f"interval {args.interval_ms:g} ms, {args.repeats} repeats, medians; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    print(
        f"{'scenario':<28}{'bare s':>9}{'monitored s':>13}{'wall ratio':>12}"
        f"{'paired':>9}{'min ratio':>11}{'CPU ratio':>11}"
    )
    for name, ((bw, bc, bmin), (mw, mc, mmin), paired) in rows:
        print(
            f"{name:<28}{bw:>9.3f}{mw:>13.3f}{mw / bw:>12.3f}{paired:>9.3f}"
            f"{mmin / bmin:>11.3f}{mc / bc:>11.3f}"
        )
    if args.only in (None, "squeezenet"):
        b, m = per_inference(SQUEEZENET, n, r, iv)
        print(f"median SqueezeNet inference: bare {b * 1e3:.2f} ms, monitored {m * 1e3:.2f} ms "
              f"(with its iteration marks), ratio {m / b:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
