"""Method 3: the safe overlap of one operator, bounded on the real runtime.

For one (output, input) pair of a `.tflite` model: lay out the model as TFLM's
own planner would, except that the output is pinned `D` bytes below the
input; write that as an offline plan; run it in TFLM on several seeded random
inputs; compare with the original model's outputs bit for bit.  A binary
search over D finds the smallest distance at which the outputs still agree.

This cannot prove safety (a clobbered byte may happen to hold the same value,
or not change the result), so it is an *upper* bound on the safe overlap: a
proven bound (analytic, traced) must never exceed it, and the gap between
them shows where a proof is loose.  Probes run in one long-lived TFLM child
process (`tflm._child`), restarted if a plan crashes it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import Failure
from ..planners import Overlap, Problem, plan
from ..planners.problem import align_up
from ._child import command
from ._model import read_model
from .inputs import random_inputs
from .measure import default_arena
from .offline import write_offline_plan
from .problem import TflmProblem, build


@dataclass(frozen=True)
class EmpiricalBound:
    output: str
    input: str
    distance: int  # smallest D (multiple of `step`) with identical outputs
    max_bytes: int  # output size - distance
    probes: tuple[tuple[int, bool], ...]  # (D, identical) in probe order


def pinned_layout(tp: TflmProblem, out: str, inp: str, distance: int) -> dict[int, int]:
    """Tensor offsets (by tensor index): `out` at 0, `inp` at `distance`, every other
    buffer (scratch included) placed around them by TFLM's greedy planner.  A
    distance off the 16-byte grid is allowed (byte-exact probes): the rest is
    then planned with alignment 1, which TFLM's planner also does (it only
    ever adds aligned sizes)."""
    size = tp.problem.by_name[out].size
    overlap = Overlap(out, inp, max(0, size - distance))
    bufs = tuple(
        replace(b, offset=0 if b.name == out else distance) if b.name in (out, inp) else b
        for b in tp.problem.buffers
    )
    alignment = tp.problem.alignment if distance % tp.problem.alignment == 0 else 1
    p = plan(Problem(bufs, alignment, (overlap,)), "tflm")
    return {tp.tensor_buffers[n]: o for n, o in p.offsets.items() if n in tp.tensor_buffers}


class Worker:
    """One TFLM child process serving many runs; restarted after a crash."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        cmd, env = command()
        return subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env,
        )  # fmt: skip

    def _answer(self, proc: subprocess.Popen) -> dict | None:
        """The child's RESULT, or None if it died or did not answer in time."""
        box: list[dict] = []

        def read() -> None:
            for line in proc.stdout:
                if line.startswith("RESULT "):
                    box.append(json.loads(line[7:]))
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(self.timeout)
        return box[0] if box else None

    def run(self, model: Path, sets_npz: Path, arena: int, tmp: Path):
        """(outputs as bytes by name, head bytes), or None if TFLM failed or crashed."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        out = tmp / "out.npz"
        req = {"mode": "run", "model": str(model), "arena": arena, "inputs": str(sets_npz),
               "outputs": str(out)}  # fmt: skip
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = self._answer(self.proc)
        if answer is None or not answer.get("ok"):
            if answer is None:
                self.close()
            return None
        with np.load(out) as z:
            return {k: z[k].tobytes() for k in z.files}, answer.get("head", -1)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class Prober:
    """Runs `src` with one pinned pair at a time and compares with the original."""

    def __init__(self, src: str | Path, runs: int = 3, seed: int = 0, timeout: float = 60.0):
        self.src = Path(src)
        self.tp = build(self.src)
        model = read_model(self.src)
        self.arena = default_arena(model)
        self._tmp = tempfile.TemporaryDirectory(prefix="infermem-dmo-")
        self.dir = Path(self._tmp.name)
        sets = [random_inputs(model, seed + k) for k in range(runs)]
        self.sets = self.dir / "in.npz"
        np.savez(
            self.sets, **{f"s{s}_i{j}": x for s, xs in enumerate(sets) for j, x in enumerate(xs)}
        )
        self.worker = Worker(timeout)
        self.reference = self.worker.run(self.src, self.sets, self.arena, self.dir)
        if self.reference is None:
            raise Failure(f"{self.src}: TFLM cannot run the original model")

    @property
    def head(self) -> int:
        """TFLM's measured head for the original model."""
        return self.reference[1]

    def compare(self, path: str | Path) -> tuple[bool, int | None]:
        """(outputs bit-identical to the original's, measured head) for another
        version of the same model, e.g. one with an offline plan."""
        got = self.worker.run(Path(path), self.sets, self.arena, self.dir)
        return (got is not None and got[0] == self.reference[0]), (got[1] if got else None)

    def identical(self, out: str, inp: str, distance: int) -> bool:
        path = self.dir / "probe.tflite"
        offsets = pinned_layout(self.tp, out, inp, distance)
        write_offline_plan(self.src, path, offsets, alignment=1, force=True)  # our probe file
        got = self.worker.run(path, self.sets, self.arena, self.dir)
        return got is not None and got[0] == self.reference[0]

    def close(self) -> None:
        self.worker.close()
        self._tmp.cleanup()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def search(prober: Prober, out: str, inp: str, step: int = 16) -> EmpiricalBound:
    """Smallest D in [0, size(out)] (multiples of `step`) with identical outputs,
    assuming the outcome is monotone in D (D = size(out): no overlap at all)."""
    size = prober.tp.problem.by_name[out].size
    lo, hi = -step, align_up(size, step)  # lo fails (virtually), hi is known safe
    probes = []
    while hi - lo > step:
        mid = lo + ((hi - lo) // (2 * step)) * step
        ok = prober.identical(out, inp, mid)
        probes.append((mid, ok))
        lo, hi = (lo, mid) if ok else (mid, hi)
    return EmpiricalBound(out, inp, hi, max(0, size - hi), tuple(probes))


def empirical_bounds(
    src: str | Path,
    pairs: Sequence[tuple[str, str]],
    runs: int = 3,
    seed: int = 0,
    step: int = 16,
) -> list[EmpiricalBound]:
    """Empirical bound for each (output buffer, input buffer) pair of `src`'s
    TFLM problem (names as in `tflm.problem.build(src)`)."""
    with Prober(src, runs, seed) as prober:
        return [search(prober, out, inp, step) for out, inp in pairs]
