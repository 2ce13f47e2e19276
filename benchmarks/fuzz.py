"""Fuzz infermem's model commands with hostile files and hostile paths.

    python benchmarks/fuzz.py --cases 10000 --workers 2 --seed 1     # the long run
    python benchmarks/fuzz.py --seed 1 --only 1234                   # replay one case

Cases come from `fuzz_cases.make_case(seed, number)` (structured ONNX and
TFLite mutations, resource bombs, byte-level mutations of the fixtures, output
path attacks) across profile, plan, plan --dmo, fit, verify, tflm measure,
optimize and report.  They run in parallel subprocess workers, each a warm
Python (imports done once) that runs one case at a time through
`infermem.cli.main` in a fresh folder.  This process watches every worker
and its children (TFLM): a case over the wall-time limit, or any process of
its worker over the peak-RSS limit, has its worker's process group killed and
counts as failed; a fresh worker takes the next case, and workers are
recycled every few hundred cases.  A case fails on an exit code other than
0/1/2 (exactly 2 for a path attack, with one line on stderr), a traceback, a
crash, a limit exceeded, a file that existed before the run changed, or a
stray temporary file left behind.  Prints a table; failures are listed with
their numbers (replay one with --only).
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


def rss_mb(pid: int) -> float:
    """The largest RSS of `pid` and its descendants (each one subprocess)."""
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


def _kill_group(proc) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_case_subprocess(case: Case, root: Path, limit_s: float = 60.0,
                        rss_limit_mb: float = 2048.0) -> Result:  # fmt: skip
    """Run one case as a real `python -m infermem` process (real exit code),
    killed over the time or memory limit."""
    import subprocess

    d = prepare(case, root)
    before = snapshot(d)
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        argv = [sys.executable, "-m", "infermem", *argv_of(case, d)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)  # fmt: skip
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, rss_mb(proc.pid))
            if time.monotonic() - t0 > limit_s or peak > rss_limit_mb:
                _kill_group(proc)
                break
            time.sleep(0.05)
        err.seek(0)
        text = err.read()
    rc = proc.returncode if proc.returncode is not None and proc.returncode >= 0 else None
    r = Result(case.number, case.title(), rc, time.monotonic() - t0, peak, stderr=text)
    judge(case, d, before, r, None, limit_s, rss_limit_mb)
    shutil.rmtree(d, ignore_errors=True)
    return r


# ------------------------------------------------------------------ workers


def worker(seed: int, heavy: bool, root: Path) -> None:
    """`--worker`: read case numbers on stdin, answer one JSON line each.  The
    protocol keeps the real stdout; fd 1 itself goes to /dev/null so nothing a
    library prints from C can corrupt it."""
    import importlib

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    from infermem.cli import build_parser

    build_parser()
    for mod in ("infermem.frontends", "infermem.planning", "infermem.profile", "infermem.fit",
                "infermem.tflm", "infermem.overlap", "onnxruntime"):  # fmt: skip
        with contextlib.suppress(ImportError):
            importlib.import_module(mod)
    for line in sys.stdin:
        case = make_case(seed, int(line), heavy_ok=heavy)
        r = run_case_inprocess(case, root, limit_s=1e6)  # the parent enforces the limits
        doc = asdict(r) | {"family": case.family, "command": case.command}
        proto.write(json.dumps(doc) + "\n")


class _Worker:
    """One `--worker` subprocess and the case it is running."""

    def __init__(self, seed: int, heavy: bool, root: Path) -> None:
        import subprocess

        argv = [sys.executable, __file__, "--worker", "--seed", str(seed), "--root", str(root)]
        self.proc = subprocess.Popen(argv + ([] if heavy else ["--no-heavy"]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, start_new_session=True)  # fmt: skip
        self.case: int | None = None
        self.t0 = self.peak = 0.0
        self.done = 0

    def start(self, number: int) -> None:
        self.case, self.t0, self.peak = number, time.monotonic(), 0.0
        self.proc.stdin.write(f"{number}\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        _kill_group(self.proc)


def run_pool(numbers, seed: int, heavy: bool, root: Path, workers: int, limit_s: float,
             rss_limit_mb: float, progress=None, recycle: int = 300) -> list[dict]:  # fmt: skip
    """Run case `numbers` in `workers` subprocess workers under the limits."""
    import selectors

    pending = list(numbers)
    results: list[dict] = []
    pool = [_Worker(seed, heavy, root) for _ in range(workers)]
    sel = selectors.DefaultSelector()
    for w in pool:
        sel.register(w.proc.stdout, selectors.EVENT_READ, w)

    def replace(w: _Worker) -> _Worker:
        sel.unregister(w.proc.stdout)
        w.close()
        fresh = _Worker(seed, heavy, root)
        sel.register(fresh.proc.stdout, selectors.EVENT_READ, fresh)
        pool[pool.index(w)] = fresh
        return fresh

    def finish(w: _Worker, doc: dict) -> None:
        doc["seconds"], doc["peak_rss_mb"] = time.monotonic() - w.t0, w.peak
        if doc["seconds"] > limit_s:
            doc["problems"].append(f"over the time limit ({doc['seconds']:.1f} s > {limit_s:g} s)")
        if w.peak > rss_limit_mb:
            doc["problems"].append(f"over the memory limit ({w.peak:.0f} MB > {rss_limit_mb:g})")
        results.append(doc)
        w.case = None
        w.done += 1
        if progress:
            progress(doc, len(results))

    try:
        while pending or any(w.case is not None for w in pool):
            for w in pool:
                if w.case is None and pending:
                    (replace(w) if w.done >= recycle else w).start(pending.pop(0))
            for key, _ in sel.select(timeout=0.1):
                w = key.data
                line = w.proc.stdout.readline()
                if line:
                    finish(w, json.loads(line))
                elif w.case is not None:  # the worker died under the case
                    code = w.proc.wait()
                    finish(w, _failed(seed, heavy, w.case, f"worker crashed (status {code})"))
                    replace(w)
            for w in list(pool):
                if w.case is None:
                    continue
                w.peak = max(w.peak, rss_mb(w.proc.pid))
                late = time.monotonic() - w.t0 > limit_s
                if late or w.peak > rss_limit_mb:
                    why = "over the time limit" if late else "over the memory limit"
                    finish(w, _failed(seed, heavy, w.case, f"killed: {why}"))
                    replace(w)
    finally:
        for w in pool:
            w.close()
    return sorted(results, key=lambda d: d["number"])


def _failed(seed: int, heavy: bool, number: int, why: str) -> dict:
    case = make_case(seed, number, heavy_ok=heavy)
    return {"number": number, "title": case.title(), "rc": None, "problems": [why],
            "stderr": "", "family": case.family, "command": case.command}  # fmt: skip


# ------------------------------------------------------------------ report


def summary(results: list[dict], seconds: float, workers: int) -> str:
    rows = [("cases", len(results)), ("wall time", f"{seconds:.0f} s ({workers} workers)")]
    for label, key in (("by family", "family"), ("by command", "command"), ("exit codes", "rc")):
        rows.append((label, dict(sorted(Counter(str(d[key]) for d in results).items()))))
    kinds = {"tracebacks": ("traceback",),
             "crashes (worker died, no exit code)": ("crash", "no exit"),
             "over the time limit": ("time limit",), "over the memory limit": ("memory limit",),
             "inputs changed": ("changed",), "stray files": ("stray",)}  # fmt: skip
    for label, keys in kinds.items():
        rows.append((label, sum(any(k in p for p in d["problems"] for k in keys)
                                for d in results)))  # fmt: skip
    rows.append(("failed cases", sum(bool(d["problems"]) for d in results)))
    if results:
        slow = max(results, key=lambda d: d["seconds"])
        big = max(results, key=lambda d: d["peak_rss_mb"])
        rows.append(("slowest case", f"{slow['seconds']:.1f} s ({slow['title']})"))
        rows.append(("largest peak RSS", f"{big['peak_rss_mb']:.0f} MB ({big['title']})"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--start", type=int, default=0, help="first case number")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=120.0, metavar="S", help="per case")
    ap.add_argument("--rss-limit", type=float, default=2048.0, metavar="MB", help="per process")
    ap.add_argument("--no-heavy", action="store_true", help="leave out the resource bombs")
    ap.add_argument("--only", type=int, metavar="N", help="replay case N in this process")
    ap.add_argument("--json", type=Path, help="write every result to this file")
    ap.add_argument("--log", type=Path, metavar="JSONL",
                    help="append each result as it completes (a cut-short run keeps its results)")
    ap.add_argument("--summarize", type=Path, metavar="JSONL",
                    help="print the table of a --log file and exit")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    heavy = not args.no_heavy
    if args.summarize:
        docs = [json.loads(line) for line in args.summarize.read_text().splitlines() if line]
        span = docs[-1]["finished"] - docs[0]["finished"] + docs[0]["seconds"] if docs else 0
        print(summary(docs, span, args.workers))
        return 1 if any(d["problems"] for d in docs) else 0
    if args.worker:
        worker(args.seed, heavy, args.root)
        return 0
    if args.only is not None:
        case = make_case(args.seed, args.only, heavy_ok=heavy)
        with tempfile.TemporaryDirectory(prefix="infermem-fuzz-") as tmp:
            print(case.title(), argv_of(case, Path(tmp) / f"case{case.number}"))
            r = run_case_inprocess(case, Path(tmp), args.time_limit)
        print(json.dumps(asdict(r), indent=2))
        return 1 if r.problems else 0
    t0 = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run_pool's cleanup runs

    def progress(d: dict, n: int) -> None:
        if args.log:
            with args.log.open("a") as f:
                row = d | {"finished": time.time(), "stderr": d["stderr"][-500:]}
                f.write(json.dumps(row) + "\n")
        if d["problems"]:
            print(f"FAIL {d['title']}: {'; '.join(d['problems'])}", flush=True)
        if n % 500 == 0:
            print(f"... {n}/{args.cases} cases, {time.monotonic() - t0:.0f} s", flush=True)

    numbers = range(args.start, args.start + args.cases)
    with tempfile.TemporaryDirectory(prefix="infermem-fuzz-") as tmp:
        results = run_pool(numbers, args.seed, heavy, Path(tmp), args.workers, args.time_limit,
                           args.rss_limit, progress)  # fmt: skip
    print(summary(results, time.monotonic() - t0, args.workers))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if any(d["problems"] for d in results) else 0


if __name__ == "__main__":
    sys.exit(main())
