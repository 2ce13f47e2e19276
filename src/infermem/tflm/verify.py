"""Prove a planned model computes what the original computes, in TFLM itself.

TFLM trusts offline offsets without any check, so a wrong plan gives wrong
outputs silently.  `verify` runs the original and the planned model in TFLM
(each in a child process) on the same seeded random inputs, plus any inputs
the user gives, and requires every output to be bit-identical.  It also
reports the head TFLM measured for both models, which is where a plan's
saving shows.

Bit-identical outputs prove something only if the outputs depend on the
input: an int8 model whose outputs saturate to one constant "verifies" with
any plan.  So each output of the original must differ between the input
sets (int8 inputs drawn over their whole quantized range; more sets are
drawn, up to `MAX_SETS`, while an output still agrees across them); a
constant output fails verification unless the caller allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime.compare import MAX_SETS, constant_outputs
from ._model import read_model
from .inputs import random_inputs
from .measure import check_memory, run


@dataclass(frozen=True)
class Difference:
    input_set: int  # which input set (random ones first, then the user's)
    output: int  # graph output index
    differing: int  # elements that differ (or -1 for a shape/dtype mismatch)
    max_abs_diff: float

    def __str__(self) -> str:
        if self.differing < 0:
            return f"output {self.output} on input set {self.input_set}: shape or dtype differs"
        return (
            f"output {self.output} on input set {self.input_set}: {self.differing} "
            f"element(s) differ, max |diff| = {self.max_abs_diff:g}"
        )


@dataclass(frozen=True)
class VerifyResult:
    verified: bool
    input_sets: int
    head_before: int
    head_after: int
    tail_before: int
    tail_after: int
    first_difference: Difference | None
    constant_outputs: tuple[int, ...] = ()  # outputs equal for every input set
    sets_for_variation: int = 0
    constant_allowed: bool = False
    seconds_before: float | None = None  # fastest TFLM invoke of the original (wall time)
    seconds_after: float | None = None

    def constant_message(self) -> str:
        which = ", ".join(map(str, self.constant_outputs))
        return (f"output(s) {which} of the original model are the same for all "
                f"{self.sets_for_variation} input sets in TFLM, so bit-identical outputs prove "
                "nothing about the plan (a saturated or input-independent model); "
                "--allow-constant-outputs accepts it")


def compare(a: Sequence[np.ndarray], b: Sequence[np.ndarray], input_set: int) -> Difference | None:
    """First output whose bytes differ between two runs on the same input set."""
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.shape != y.shape or x.dtype != y.dtype:
            return Difference(input_set, k, -1, float("inf"))
        if x.tobytes() != y.tobytes():
            xf, yf = x.astype(np.float64).ravel(), y.astype(np.float64).ravel()
            same = (xf == yf) | (np.isnan(xf) & np.isnan(yf))
            diff = np.abs(xf - yf)[~same]
            worst = float(np.nanmax(diff)) if diff.size and not np.all(np.isnan(diff)) else np.inf
            return Difference(input_set, k, int((~same).sum()) or x.size, worst)
    if len(a) != len(b):
        return Difference(input_set, min(len(a), len(b)), -1, float("inf"))
    return None


def verify(
    original: str | Path,
    planned: str | Path,
    runs: int = 3,
    seed: int = 0,
    inputs: Sequence[Sequence[np.ndarray]] = (),
    timeout: float = 120.0,
    allow_constant_outputs: bool = False,
) -> VerifyResult:
    """Run both models on `runs` seeded random input sets plus `inputs`, compare
    bit for bit, and check that each output of the original varies."""
    model = read_model(original)
    check_memory(model, runs + len(inputs))
    sets = [random_inputs(model, seed + k) for k in range(runs)] + [list(s) for s in inputs]
    before = run(original, sets, timeout=timeout)
    after = run(planned, sets, timeout=timeout)
    first = None
    for s, (a, b) in enumerate(zip(before.outputs, after.outputs, strict=True)):
        first = compare(a, b, s)
        if first:
            break
    constant, compared = _constant(original, model, before.outputs, seed, timeout)
    return VerifyResult(
        first is None and (not constant or allow_constant_outputs),
        len(sets),
        before.head_bytes,
        after.head_bytes,
        before.tail_bytes,
        after.tail_bytes,
        first,
        constant,
        compared,
        allow_constant_outputs,
        min(before.invoke_seconds, default=None),
        min(after.invoke_seconds, default=None),
    )


def _constant(original, model, outputs, seed: int, timeout: float) -> tuple[tuple[int, ...], int]:
    """Outputs of `original` equal on every input set; when some are, one more
    TFLM run on fresh random sets (up to MAX_SETS in all) settles it."""
    names = [str(k) for k in range(len(outputs[0]))] if outputs else []
    sets = [dict(zip(names, o, strict=True)) for o in outputs]
    constant, n = constant_outputs(names, sets)
    if (constant or len(sets) < 2) and len(sets) < MAX_SETS:
        fresh = [random_inputs(model, seed + 1000 + k) for k in range(MAX_SETS - len(sets))]
        sets += [dict(zip(names, o, strict=True)) for o in run(original, fresh,
                                                                timeout=timeout).outputs]
        constant, n = constant_outputs(names, sets)
    return tuple(int(c) for c in constant), n
