"""Run a program in a child process and watch its memory from outside.

The parent samples the child's RSS (and USS) with its own thread, so the
child pays nothing for sampling; the child's `Monitor`, if it has one, writes
phase and iteration events to a file named in its environment.  With each
sample the parent also reads the child's kernel high-water mark (`VmHWM`),
which catches a peak between two samples (not `wait4`'s at exit: that one
starts from the parent's own peak, inherited through fork).  Whatever happens (non-zero exit, crash,
timeout, Ctrl-C) the samples gathered so far are returned with the error,
so the partial timeline can still be saved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..errors import BadInput
from .events import ENV_VAR, read_events
from .leak import DEFAULT_MIN_RATE
from .result import MonitorResult, RunError, build_result
from .runtimes import RUNTIMES
from .sampler import Sampler

_PKG_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding `infermem`
_CHILD = str(Path(__file__).resolve().parent / "child.py")


class _Run:
    """The child and why it was stopped, shared with the timer and the
    SIGINT handler."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.stopped: list[str] = []

    def kill(self, why: str) -> None:
        self.stopped.append(why)
        if self.proc is not None:
            _kill_group(self.proc)


class _CtrlC:
    """While the child runs, Ctrl-C ends its process group instead of raising
    KeyboardInterrupt wherever the parent happens to be (inside Popen, the
    sampler's start ...), which could leave the group running.  Only the
    main thread can handle signals; elsewhere this does nothing."""

    def __init__(self, run: _Run):
        self._run, self._old = run, None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, lambda *_: self._run.kill("interrupted"))
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _wait(run: _Run, timeout_s: float | None) -> int:
    """Reap the child (its exit code); a timeout kills its group."""
    timer = None
    if timeout_s:
        timer = threading.Timer(timeout_s, run.kill, args=(f"timed out after {timeout_s:g} s",))
        timer.start()
    try:
        while True:
            try:
                _, status = os.waitpid(run.proc.pid, 0)
                break
            except KeyboardInterrupt:  # a SIGINT handler other than ours
                run.kill("interrupted")
    finally:
        if timer:
            timer.cancel()
    code = os.waitstatus_to_exitcode(status)
    run.proc.returncode = code  # tell Popen it has been reaped
    return code


def _kill_group(proc: subprocess.Popen) -> None:
    """End the child and everything it started: it leads its own process group
    (so a timeout or Ctrl-C also ends grandchildren); SIGKILL, as `timeout -s
    KILL` does, because a hung program may ignore anything gentler."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        try:
            proc.kill()
        except OSError:
            pass


def _exit_error(code: int, stopped: str | None, result: MonitorResult) -> RunError | None:
    if result.error is not None:
        return result.error
    if stopped is None and code == 0:
        return None
    where = _last_phase(result)
    at = f" during phase {where!r}" if where else ""
    if stopped:
        return RunError("failure", f"the program was stopped: {stopped}{at}", where)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        return RunError("failure", f"the program was killed by signal {name}{at}", where)
    return RunError("failure", f"the program exited with status {code}{at}", where)


def _last_phase(result: MonitorResult) -> str | None:
    """The innermost phase still open at the end, else the last one that ran."""
    open_ = [p for p in result.phases if not p.complete]
    pick = open_[-1] if open_ else (result.phases[-1] if result.phases else None)
    return pick.name if pick else None


def monitor_command(
    argv: list[str],
    *,
    interval_ms: float = 5.0,
    uss_interval_ms: float | None = 250.0,
    timeout_s: float | None = None,
    env: dict[str, str] | None = None,
    target: dict | None = None,
    leak_skip: int = 0,
    warmup_s: float | None = None,
    min_rate: float = DEFAULT_MIN_RATE,
    trace_allocations: bool = False,
    **leak_kwargs,
) -> MonitorResult:
    """Run `argv`, sample its memory, collect its phase events; never raises for
    the program's own failure (see `result.error`), only for a command that
    cannot be started at all.  If the program marked iterations, the leak
    verdict covers them, after the first `leak_skip`; otherwise it judges the
    sampled RSS (and USS) over time after `warmup_s` (see `leak.detect_trend`).
    `trace_allocations`: a Python program also reports where its growth was
    allocated (tracemalloc snapshots taken inside it, see `tracealloc`)."""
    if not argv:
        raise BadInput("no command given: use `infermem monitor -- CMD ARGS`")
    with tempfile.TemporaryDirectory(prefix="infermem-monitor-") as tmp:
        events_path = os.path.join(tmp, "events.jsonl")
        child_env = {**os.environ, **(env or {}), ENV_VAR: events_path}
        if trace_allocations:
            from .tracealloc import trace_env

            child_env.update(trace_env(tmp, child_env, warmup_s))
        t0 = time.monotonic()
        run = _Run()
        with _CtrlC(run):
            try:
                run.proc = proc = subprocess.Popen(argv, env=child_env, process_group=0)
            except (OSError, ValueError) as e:  # missing, not executable, bad format, E2BIG
                why = getattr(e, "strerror", None) or str(e)
                raise BadInput(f"cannot run {argv[0][:200]!r}: {why}") from None
            if run.stopped:  # Ctrl-C while Popen ran
                _kill_group(proc)
            uss = uss_interval_ms / 1e3 if uss_interval_ms else None
            sampler = Sampler(proc.pid, interval_ms / 1e3, uss).start()
            code = _wait(run, timeout_s)
            stopped = run.stopped[0] if run.stopped else None
        samples = sampler.stop()
        kernel_peak = sampler.hwm_bytes
        end_t = time.monotonic()
        events = read_events(events_path)
        growth = None
        if trace_allocations:
            from .tracealloc import read_growth

            warm = (end_t - t0) / 3 if warmup_s is None else warmup_s
            growth = read_growth(tmp, proc.pid, t0 + warm, t0)
    if events:
        first_pid = events[0].pid
        events = [e for e in events if e.pid == first_pid]
    result = build_result(samples, events, t0, kernel_peak=kernel_peak, end_t=end_t)
    result = replace(
        result,
        exit_code=code,
        error=_exit_error(code, stopped, result),
        target=target or {"command": list(argv)},
        allocations=growth,
    )
    if len(result.iterations) or "model" in result.target:
        return result.with_leak(leak_skip, **leak_kwargs)
    return result.with_trend(warmup_s, min_rate, confidence=leak_kwargs.get("confidence"))


def model_argv(
    model: str,
    runtime: str,
    *,
    runs: int,
    warmup: int,
    input_shapes: dict[str, tuple[int, ...]],
    arena_size: int | None = None,
    threads: int | None = None,
    tracemalloc: bool = False,
    python: str | None = None,
) -> list[str]:
    """The child command line that loads and runs `model` under `runtime`."""
    argv = [
        python or sys.executable,
        _CHILD,  # as a script: lighter than `-m` (see child.py)
        "--runtime",
        runtime,
        "--model",
        os.path.abspath(model),
        "--runs",
        str(runs),
        "--warmup",
        str(warmup),
    ]
    for name, shape in input_shapes.items():
        argv += ["--input-shape", f"{name}={'x'.join(map(str, shape))}"]
    if arena_size:
        argv += ["--arena-size", str(arena_size)]
    if threads:
        argv += ["--threads", str(threads)]
    if tracemalloc:
        argv.append("--tracemalloc")
    return argv


def monitor_model(
    model: str,
    runtime: str = "onnxruntime",
    *,
    runs: int = 100,
    warmup: int = 5,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    arena_size: int | None = None,
    threads: int | None = None,
    tracemalloc: bool = False,
    python: str | None = None,
    interval_ms: float = 5.0,
    uss_interval_ms: float | None = 250.0,
    timeout_s: float | None = None,
    **leak_kwargs,
) -> MonitorResult:
    """Load and run `model` `warmup + runs` times in a fresh process, monitored."""
    if runtime not in RUNTIMES:
        raise BadInput(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if not os.path.isfile(model):
        raise BadInput(f"no such model file: {model}")
    if runs < 1 or warmup < 0:
        raise BadInput(f"--runs must be >= 1 and --warmup >= 0, got {runs} and {warmup}")
    argv = model_argv(
        model,
        runtime,
        runs=runs,
        warmup=warmup,
        input_shapes=input_shapes or {},
        arena_size=arena_size,
        threads=threads,
        tracemalloc=tracemalloc,
        python=python,
    )
    path = os.pathsep.join(p for p in (_PKG_ROOT, os.environ.get("PYTHONPATH")) if p)
    result = monitor_command(
        argv,
        interval_ms=interval_ms,
        uss_interval_ms=uss_interval_ms,
        timeout_s=timeout_s,
        env={"PYTHONPATH": path},
        target={
            "model": os.path.abspath(model),
            "runtime": runtime,
            "runs": runs,
            "warmup": warmup,
        },
        **leak_kwargs,
    )
    return _hint(result, runtime, arena_size)


def _hint(result: MonitorResult, runtime: str, arena_size: int | None) -> MonitorResult:
    """TFLM crashes (rather than failing) when its arena is too small: say so."""
    err = result.error
    if runtime != "tflm" or err is None or "signal" not in err.message:
        return result
    size = f"{arena_size} bytes" if arena_size else "its default size (10x the model)"
    hint = f"; the TFLM arena ({size}) may be too small: try a larger --arena-size"
    return replace(result, error=replace(err, message=err.message + hint))
