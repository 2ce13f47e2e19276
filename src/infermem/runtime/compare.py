"""Dtype-aware comparison of a computed tensor with its reference value.

* float: max |got - ref| <= rtol * max |ref| (+ the tensor's quantum, for a
  float dequantized from integers), rtol by dtype: 1e-4 for float32 — the
  summation order of two correct kernels differs, their values barely do.
  The tolerance is relative to the tensor's own magnitude, so values near
  the float maximum get a tolerance of their size; values within rtol of the
  maximum match inf of the same sign.  NaN matches NaN, inf the same inf.
* integer: exact, except one step either way for a quantized tensor (two
  correct requantizations may round a near-tie differently).
* bool: exact.

`exact` is the bit-for-bit comparison a plan must pass; `constant_outputs`
finds graph outputs that do not change with the input (comparing those
proves nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RTOL = {"float16": 1e-2, "bfloat16": 2e-2, "float32": 1e-4, "float64": 1e-7}
FLOOR = 1e-3  # magnitudes below this count as this much (an absolute floor)
MAX_SETS = 8  # input sets drawn, at most, before an output is called constant


@dataclass(frozen=True)
class Diff:
    """`error` and `allowed` are in the tensor's units (integer steps for ints)."""

    ok: bool
    error: float
    allowed: float
    where: tuple[int, ...] | None = None  # index of the largest difference

    def describe(self) -> str:
        at = f" at index {list(self.where)}" if self.where is not None else ""
        return f"max difference {self.error:.6g}{at} (allowed {self.allowed:.3g})"


def compare(got: np.ndarray, ref: np.ndarray, steps: int = 0, quantum: float = 0.0) -> Diff:
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        if got.size != ref.size:
            return Diff(False, float("inf"), 0.0)
        ref = ref.reshape(got.shape)
    if got.size == 0:
        return Diff(True, 0.0, 0.0)
    kind = got.dtype.kind
    if kind == "b" or ref.dtype.kind == "b":
        bad = got.astype(bool) != ref.astype(bool)
        return _diff(bad.astype(np.float64), 0.0)
    if kind in "iu" and ref.dtype.kind in "iu":
        err = np.abs(got.astype(np.int64) - ref.astype(np.int64)).astype(np.float64)
        return _diff(err, float(steps))
    rtol = RTOL.get(got.dtype.name, 1e-4)
    if ref.dtype == got.dtype:  # fast path: no NaN or inf anywhere
        with np.errstate(all="ignore"):
            err = np.abs(got - ref)
            worst = err.max()
        if np.isfinite(worst):
            scale = max(float(ref.max()), -float(ref.min()), FLOOR)
            return _diff(err, rtol * scale + 1.01 * quantum)
    g, r = got.astype(np.float64), ref.astype(np.float64)
    both_nan = np.isnan(g) & np.isnan(r)
    # beyond (1 - rtol) of the dtype's maximum, inf and the largest finite values
    # are one magnitude: which one a kernel lands on is rounding, not a bug
    big = float(np.finfo(got.dtype).max) * (1 - rtol) if got.dtype.kind == "f" else np.inf
    saturated = (np.abs(g) >= big) & (np.abs(r) >= big) & (np.sign(g) == np.sign(r))
    same = (g == r) | both_nan | saturated  # equal infinities included
    with np.errstate(invalid="ignore"):  # inf - inf where both are the same infinity
        err = np.where(same, 0.0, np.abs(g - r))
    err = np.where(np.isnan(err), np.inf, err)
    finite = np.abs(r[np.isfinite(r)])
    scale = max(float(finite.max()) if finite.size else 0.0, FLOOR)
    return _diff(err, rtol * scale + 1.01 * quantum)


def _diff(err: np.ndarray, allowed: float) -> Diff:
    worst = float(err.max())
    if worst <= allowed:
        return Diff(True, worst, allowed)
    i = int(np.argmax(err))
    where = tuple(int(v) for v in np.unravel_index(i, err.shape)) if err.ndim else None
    return Diff(False, worst, allowed, where)


def exact(got: np.ndarray, want: np.ndarray) -> Diff:
    """Bit-identical, or the size and place of the first difference."""
    got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
    if got.shape == want.shape and got.dtype == want.dtype and (
            got.size == 0 or memoryview(got).cast("B") == memoryview(want).cast("B")):
        return Diff(True, 0.0, 0.0)  # memcmp, no copy
    if got.shape != want.shape or got.dtype != want.dtype:
        return Diff(False, float("inf"), 0.0)
    width = got.dtype.itemsize
    bad = (got.view(np.uint8).reshape(-1, width) != want.view(np.uint8).reshape(-1, width))
    flat = bad.any(axis=1)
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(np.float64).ravel() - want.astype(np.float64).ravel())
    err = np.where(np.isnan(err), np.inf, err)[flat]
    first = int(np.argmax(flat))
    where = tuple(int(i) for i in np.unravel_index(first, got.shape)) if got.ndim else None
    return Diff(False, float(err.max()) if err.size else 0.0, 0.0, where)


def constant_outputs(names: Sequence[str], sets: list[Mapping[str, np.ndarray]],
                     more: Callable[[int], Mapping[str, np.ndarray]] | None = None,
                     limit: int = MAX_SETS) -> tuple[tuple[str, ...], int]:
    """The outputs equal (bit for bit) in every set, drawing sets with `more(k)`
    up to `limit` while some still agree; and how many sets were compared."""
    sets = list(sets)

    def same() -> tuple[str, ...]:
        return tuple(n for n in names
                     if all(exact(s[n], sets[0][n]).ok for s in sets[1:]))

    found = same() if len(sets) > 1 else tuple(names)
    while found and more is not None and len(sets) < limit:
        sets.append(more(len(sets)))
        found = same()
    return (found if len(sets) > 1 else ()), len(sets)
