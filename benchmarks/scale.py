"""Scale: the paths that were quadratic, and the folding bombs, timed.

Builds each model of `scale_models` in a temporary folder and runs the
command line on it in a fresh process (imports included, as a user sees it),
reporting the exit code, wall seconds, CPU seconds (user + system of the child:
the figure that depends least on what else the machine does) and the child's
peak RSS.  Targets from issue 14: `profile --json` on a 30,000-node chain
< 3 s; `plan` on a Concat of 20,000 graph inputs < 10 s and < 500 MB; `plan
--dmo` on 100,000-input Concat/Sum and on 3,000 parallel branches bounded;
every bomb within a few hundred MB.  Prints a table; a benchmark, not a test.

    python benchmarks/scale.py            # everything (a few minutes)
    python benchmarks/scale.py --quick    # the four issue-14 targets only
    python benchmarks/scale.py --only verify   # rows whose model or command say so
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
import scale_models as S  # noqa: E402

SRC = Path(__file__).parents[1] / "src"


def measure(args: list[str], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, src: Path = SRC) -> tuple[int, float, float, int]:
    """(exit code, wall s, CPU s, peak RSS bytes) of `infermem ARGS` (or of
    `python ARGS` when ARGS starts with "-c"); its output goes to the given
    files (default: discarded); `src` is the infermem source it runs."""
    env = dict(os.environ, PYTHONPATH=str(src))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    cmd = [sys.executable, *args] if args[:1] == ["-c"] else \
        [sys.executable, "-m", "infermem", *args]
    p = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr)
    proc, peak = psutil.Process(p.pid), 0
    while p.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return p.returncode, wall, cpu, peak


VERIFY = ["verify", "--max-memory", "2GiB"]


def cases(quick: bool) -> list[tuple[str, object, list[str], str]]:
    """(label, model builder, command, target)."""
    out = [
        ("chain of 30,000 Relu", lambda: S.chain(30_000), ["profile", "--json"], "< 3 s"),
        ("Concat of 20,000 inputs", lambda: S.wide("Concat", 20_000), ["plan"],
         "< 10 s, < 500 MB"),
        ("Sum of 100,000 inputs", lambda: S.wide("Sum", 100_000), ["plan", "--dmo"], "bounded"),
        ("3,000 parallel branches", lambda: S.branches(3_000), ["plan", "--dmo"], "bounded"),
    ]
    if quick:
        return out
    out.insert(3, ("Concat of 100,000 inputs", lambda: S.wide("Concat", 100_000),
                   ["plan", "--dmo"], "bounded"))
    out += [(f"bomb: {k}", lambda k=k: S.bomb(k), ["profile"], "< 400 MB") for k in S.BOMBS]
    # verify may run what fits the budget: 2 GiB here, so that the bombs are refused
    out += [(f"bomb: {k}", lambda k=k: S.bomb(k), VERIFY, "exit 2, < 400 MB")
            for k in S.BOMBS]
    out += [("4 GiB input", lambda: S.big_input_onnx(4), VERIFY, "exit 2, < 400 MB"),
            ("4 GiB input", lambda: S.big_input_onnx(4), ["plan", "--dmo"], "< 400 MB")]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the issue-14 targets")
    ap.add_argument("--only", metavar="TEXT", help="only the rows whose model or command has TEXT")
    args = ap.parse_args()
    print(f"{'model':28} {'command':16} {'exit':>4} {'wall s':>7} {'CPU s':>7} "
          f"{'peak RSS':>9}  target")
    with tempfile.TemporaryDirectory() as tmp:
        for label, build, cmd, target in cases(args.quick):
            if args.only and args.only not in f"{label} {' '.join(cmd)}":
                continue
            path = Path(tmp, "m.onnx")
            onnx.save(build(), path)
            rc, wall, cpu, peak = measure([*cmd, str(path)])
            print(f"{label:28} {' '.join(cmd):16} {rc:>4} {wall:>7.1f} {cpu:>7.1f} "
                  f"{peak / 2**20:>6.0f} MB  {target}", flush=True)
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
