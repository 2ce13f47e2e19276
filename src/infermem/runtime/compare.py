"""Dtype-aware comparison of a computed tensor with its reference value.

* float: max |got - ref| <= rtol * max |ref| (+ the tensor's quantum, for a
  float dequantized from integers), rtol by dtype: 1e-4 for float32 — the
  summation order of two correct kernels differs, their values barely do.
  NaN matches NaN, inf matches the same inf.
* integer: exact, except one step either way for a quantized tensor (two
  correct requantizations may round a near-tie differently).
* bool: exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL = {"float16": 1e-2, "bfloat16": 2e-2, "float32": 1e-4, "float64": 1e-7}
FLOOR = 1e-3  # magnitudes below this count as this much (an absolute floor)


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
    same = (g == r) | both_nan  # equal infinities included
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
