"""Fuzz infermem's model commands with hostile files and hostile paths.

    python benchmarks/fuzz.py --cases 10000 --workers 2 --seed 1     # the long run
    python benchmarks/fuzz.py --seed 1 --only 1234                   # replay one case

Cases come from `fuzz_cases.make_case(seed, number)` (structured ONNX and
TFLite mutations, resource bombs, byte-level mutations of the fixtures, output
path attacks) across profile, plan, plan --dmo, fit, verify, tflm measure,
optimize and report.  Each case gets a fresh folder and runs in a child forked
from this warm process (imports done once), in its own process group, under a
wall-time limit and a peak-RSS limit: every process of the group is polled
and the group is killed over either limit; the child's own peak is checked
again from `wait4`.  A case fails on an exit code other than 0/1/2 (exactly 2
for a path attack, with one line on stderr), a traceback, a signal, a limit
exceeded, a file that existed before the run changed, or a stray temporary
file left behind.  Prints a table; failures are listed with their numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_cases import Case, make_case  # noqa: E402

MB = 1 << 20


@dataclass
class Result:
    number: int
    title: str
    rc: int | None = None
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)
    stderr: str = ""


class CaseTimeout(BaseException):
    """Raised by the alarm in an in-process run (BaseException: no `except Exception` eats it)."""


# ------------------------------------------------------------------ one case


def prepare(case: Case, root: Path) -> Path:
    d = root / f"case{case.number}"
    d.mkdir(parents=True)
    for name, data in case.files.items():
        (d / name).write_bytes(data)
    for kind, target, name in case.links:
        if kind == "mkdir":
            (d / name).mkdir()
        elif kind == "symlink":
            os.symlink(d / target, d / name)
        else:
            os.link(d / target, d / name)
    return d


def argv_of(case: Case, d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) for a in case.argv]


def snapshot(d: Path) -> dict[str, str]:
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(d))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_inprocess(argv: list[str], limit_s: float) -> tuple[int | None, str | None, str]:
    """(exit code, traceback or None, stderr) of `infermem.cli.main(argv)` here."""
    from infermem.cli import main

    err = io.StringIO()

    def alarm(*_):
        raise CaseTimeout

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    rc, tb = None, None
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            rc = main(argv)
    except SystemExit as e:  # argparse
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except CaseTimeout:
        tb = None
        rc = None
    except BaseException:  # noqa: BLE001 - this is what the harness looks for
        tb = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return rc, tb, err.getvalue()


def judge(case: Case, d: Path, before: dict[str, str], r: Result, tb: str | None,
          limit_s: float, rss_limit_mb: float) -> None:  # fmt: skip
    """Fill `r.problems` from what the run left."""
    if tb is not None:
        r.problems.append("traceback: " + tb.strip().splitlines()[-1][:200])
    elif r.rc is None:
        r.problems.append(f"no exit code (killed or over {limit_s:g} s)")
    elif r.rc not in ((2,) if case.must_fail else (0, 1, 2)):
        r.problems.append(f"exit code {r.rc}")
    if "Traceback (most recent call last)" in r.stderr:
        r.problems.append("traceback printed")
    if r.seconds > limit_s:
        r.problems.append(f"over the time limit ({r.seconds:.1f} s > {limit_s:g} s)")
    if r.peak_rss_mb > rss_limit_mb:
        r.problems.append(f"over the memory limit ({r.peak_rss_mb:.0f} MB > {rss_limit_mb:g})")
    after = snapshot(d)
    changed = [n for n, h in before.items() if after.get(n) != h]
    if changed:
        r.problems.append(f"changed or removed: {changed}")
    stray = [n for n in after if ".part" in n or (case.must_fail and n not in before)]
    if stray:
        r.problems.append(f"stray files: {stray}")
    if case.must_fail and r.rc == 2:
        lines = r.stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("infermem: error:"):
            r.problems.append(f"not one error line: {r.stderr.strip()[:200]!r}")


def run_case_inprocess(case: Case, root: Path, limit_s: float = 30.0) -> Result:
    """Run one case in this process (the test suite's way); no RSS limit."""
    d = prepare(case, root)
    before = snapshot(d)
    t0 = time.monotonic()
    rc, tb, err = run_inprocess(argv_of(case, d), limit_s)
    r = Result(case.number, case.title(), rc, time.monotonic() - t0, stderr=err)
    judge(case, d, before, r, tb, limit_s, float("inf"))
    shutil.rmtree(d, ignore_errors=True)
    return r


def run_case_subprocess(case: Case, root: Path, limit_s: float = 60.0) -> Result:
    """Run one case as a real `python -m infermem` process (real exit code)."""
    import resource
    import subprocess

    d = prepare(case, root)
    before = snapshot(d)
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "infermem", *argv_of(case, d)],
                           capture_output=True, text=True, timeout=limit_s)  # fmt: skip
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, ""
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest so far
    r = Result(case.number, case.title(), rc, time.monotonic() - t0, peak, stderr=err)
    judge(case, d, before, r, None, limit_s, float("inf"))
    shutil.rmtree(d, ignore_errors=True)
    return r


# ------------------------------------------------------------------ forked, in parallel


def warm() -> None:
    """Import what the commands import, once, before forking."""
    import importlib

    from infermem.cli import build_parser

    build_parser()
    for mod in ("infermem.frontends", "infermem.planning", "infermem.profile", "infermem.fit",
                "infermem.runtime.verify", "infermem.report.gather", "infermem.report.html",
                "infermem.tflm", "infermem.overlap", "onnxruntime", "ortools.sat.python.cp_model",
                "matplotlib.pyplot"):  # fmt: skip
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)


def _child(case: Case, d: Path, limit_s: float, out: Path) -> None:
    os.setpgrp()
    rc, tb, err = run_inprocess(argv_of(case, d), limit_s)
    out.write_text(json.dumps({"rc": rc, "tb": tb, "stderr": err[-4000:]}))


def _group_rss_mb(pid: int) -> float:
    """The largest RSS of any process in the case's tree (each is one subprocess)."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0.0
    peak = 0.0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, q.memory_info().rss / MB)
    return peak


def run_forked(cases, root: Path, workers: int, limit_s: float, rss_limit_mb: float,
               progress=None) -> list[Result]:  # fmt: skip
    """Run `cases`, `workers` at a time, each in a forked child with limits."""
    warm()
    pending = list(cases)
    running: dict[int, tuple[Case, Path, dict, float, float, Path]] = {}
    results: list[Result] = []
    while pending or running:
        while pending and len(running) < workers:
            case = pending.pop(0)
            d = prepare(case, root)
            before = snapshot(d)
            out = root / f"result{case.number}.json"
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the child
                try:
                    _child(case, d, limit_s, out)
                finally:
                    os._exit(0)
            running[pid] = (case, d, before, time.monotonic(), 0.0, out)
        time.sleep(0.05)
        for pid, (case, d, before, t0, peak, out) in list(running.items()):
            peak = max(peak, _group_rss_mb(pid))
            over = time.monotonic() - t0 > limit_s + 5 or peak > rss_limit_mb
            if over:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            running[pid] = (case, d, before, t0, peak, out)
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == 0:
                continue
            del running[pid]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # nothing of the case outlives it
            peak = max(peak, usage.ru_maxrss / 1024)
            got = json.loads(out.read_text()) if out.exists() else {"rc": None, "tb": None,
                                                                    "stderr": ""}  # fmt: skip
            r = Result(case.number, case.title(), got["rc"], time.monotonic() - t0, peak,
                       stderr=got["stderr"])  # fmt: skip
            if os.WIFSIGNALED(status):
                r.problems.append(f"killed by signal {os.WTERMSIG(status)}")
            judge(case, d, before, r, got["tb"], limit_s, rss_limit_mb)
            results.append(r)
            if not r.problems:
                shutil.rmtree(d, ignore_errors=True)
            out.unlink(missing_ok=True)
            if progress:
                progress(r, len(results))
    return sorted(results, key=lambda r: r.number)


# ------------------------------------------------------------------ report


def summary(cases: list[Case], results: list[Result], seconds: float) -> str:
    by_number = {c.number: c for c in cases}
    rows = [("cases", len(results)), ("wall time", f"{seconds:.0f} s")]
    fam = Counter(by_number[r.number].family for r in results)
    cmd = Counter(by_number[r.number].command for r in results)
    codes = Counter(str(r.rc) for r in results)
    rows += [("by family", dict(sorted(fam.items()))), ("by command", dict(sorted(cmd.items()))),
             ("exit codes", dict(sorted(codes.items())))]  # fmt: skip
    kinds = {"tracebacks": "traceback", "crashes (signals, no exit code)": ("signal", "no exit"),
             "over the time limit": "time limit", "over the memory limit": "memory limit",
             "inputs changed": "changed", "stray files": "stray"}  # fmt: skip
    for label, key in kinds.items():
        keys = key if isinstance(key, tuple) else (key,)
        rows.append((label, sum(any(k in p for p in r.problems for k in keys) for r in results)))
    rows.append(("failed cases", sum(bool(r.problems) for r in results)))
    slow = max(results, key=lambda r: r.seconds, default=None)
    if slow:
        rows.append(("slowest case", f"{slow.seconds:.1f} s ({slow.title})"))
    big = max(results, key=lambda r: r.peak_rss_mb, default=None)
    if big and big.peak_rss_mb:
        rows.append(("largest peak RSS", f"{big.peak_rss_mb:.0f} MB ({big.title})"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--start", type=int, default=0, help="first case number")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=60.0, metavar="S", help="per case")
    ap.add_argument("--rss-limit", type=float, default=2048.0, metavar="MB", help="per process")
    ap.add_argument("--no-heavy", action="store_true", help="leave out the resource bombs")
    ap.add_argument("--only", type=int, metavar="N", help="replay case N in this process")
    ap.add_argument("--json", type=Path, help="write every result to this file")
    args = ap.parse_args(argv)
    if args.only is not None:
        case = make_case(args.seed, args.only, heavy_ok=not args.no_heavy)
        with tempfile.TemporaryDirectory(prefix="infermem-fuzz-") as tmp:
            print(case.title(), argv_of(case, Path(tmp) / f"case{case.number}"))
            r = run_case_inprocess(case, Path(tmp), args.time_limit)
        print(json.dumps(asdict(r), indent=2))
        return 1 if r.problems else 0
    numbers = range(args.start, args.start + args.cases)
    cases = [make_case(args.seed, n, heavy_ok=not args.no_heavy) for n in numbers]
    t0 = time.monotonic()

    def progress(r: Result, n: int) -> None:
        if r.problems:
            print(f"FAIL {r.title}: {'; '.join(r.problems)}", flush=True)
        if n % 500 == 0:
            print(f"... {n}/{len(cases)} cases, {time.monotonic() - t0:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="infermem-fuzz-") as tmp:
        results = run_forked(cases, Path(tmp), args.workers, args.time_limit, args.rss_limit,
                             progress)  # fmt: skip
    print(summary(cases, results, time.monotonic() - t0))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
