"""Method 3: the safe overlap of one operator, bounded on the real runtime.

For one (output, input) pair of a `.tflite` model: lay out the model as TFLM's
own planner would, except that the output is pinned `D` bytes below the
input; write that as an offline plan; run it in TFLM on several seeded random
inputs; compare with the original model's outputs bit for bit.  A binary
search over D finds the smallest distance at which the outputs still agree.

This cannot prove safety (a clobbered byte may happen to hold the same value,
or not change the result), so it is an *upper* bound on the safe overlap:
a proven bound (analytic, traced) must never exceed it, and the gap between
them shows where a proof is loose.  Every probe is one TFLM run in a child
process, so this is slow: a dozen runs per operator.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import Failure
from ..graph import align_up
from ..planners import Overlap, Problem, plan
from ..tflm import run, write_offline_plan
from ..tflm._model import read_model
from ..tflm.inputs import random_inputs
from ..tflm.problem import TflmProblem, build


@dataclass(frozen=True)
class EmpiricalBound:
    output: str
    input: str
    distance: int  # smallest D (multiple of `step`) with identical outputs
    max_bytes: int  # output size - distance
    probes: tuple[tuple[int, bool], ...]  # (D, identical) in probe order


def pinned_layout(tp: TflmProblem, out: str, inp: str, distance: int) -> dict[int, int]:
    """Tensor offsets (by tensor index): `out` at 0, `inp` at `distance`, every other
    buffer (scratch included) placed around them by TFLM's greedy planner."""
    by = tp.problem.by_name
    size = by[out].size
    overlap = Overlap(out, inp, max(0, size - distance))
    bufs = tuple(
        replace(b, offset=0 if b.name == out else distance) if b.name in (out, inp) else b
        for b in tp.problem.buffers
    )
    p = plan(Problem(bufs, tp.problem.alignment, (overlap,)), "tflm")
    return {tp.tensor_buffers[n]: o for n, o in p.offsets.items() if n in tp.tensor_buffers}


class _Prober:
    """Runs `src` with one pinned pair and compares against the original."""

    def __init__(self, src: Path, tp: TflmProblem, sets, timeout: float) -> None:
        self.src, self.tp, self.sets, self.timeout = src, tp, sets, timeout
        self.reference = run(src, sets, timeout=timeout).outputs

    def identical(self, out: str, inp: str, distance: int) -> bool:
        offsets = pinned_layout(self.tp, out, inp, distance)
        with tempfile.TemporaryDirectory(prefix="infermem-dmo-") as tmp:
            path = Path(tmp, "probe.tflite")
            write_offline_plan(self.src, path, offsets)
            try:
                got = run(path, self.sets, timeout=self.timeout).outputs
            except Failure:
                return False  # a crash counts as "not the same outputs"
        return all(
            a.tobytes() == b.tobytes()
            for sa, sb in zip(self.reference, got, strict=True)
            for a, b in zip(sa, sb, strict=True)
        )


def search(prober: _Prober, out: str, inp: str, step: int) -> EmpiricalBound:
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
    timeout: float = 120.0,
) -> list[EmpiricalBound]:
    """Empirical bound for each (output buffer, input buffer) pair of `src`'s
    TFLM problem (names as in `tflm.problem.build(src)`)."""
    src = Path(src)
    tp = build(src)
    model = read_model(src)
    sets = [random_inputs(model, seed + k) for k in range(runs)]
    prober = _Prober(src, tp, sets, timeout)
    return [search(prober, out, inp, step) for out, inp in pairs]
