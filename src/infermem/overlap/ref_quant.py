"""TFLM's fixed-point arithmetic, vectorised, for the traced reference kernels.

The reference kernels must reproduce TFLM's outputs bit for bit (that is how
their loop structure is tested), so the integer helpers follow
tensorflow/lite/kernels/internal/common.h, quantization_util.cc and
gemmlowp's fixedpoint.h exactly: C's truncating division, arithmetic shifts,
round-half-away-from-zero (`TfLiteRound`), and the double-rounding
`MultiplyByQuantizedMultiplier` TFLM builds by default.  Values travel as
int64 arrays holding int32 (or int16) quantities.
"""

from __future__ import annotations

import math

import numpy as np

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
I16_MIN, I16_MAX = -(1 << 15), (1 << 15) - 1
F32_LOWEST, F32_MAX = float(np.finfo(np.float32).min), float(np.finfo(np.float32).max)


def round_away(x: float) -> float:
    """std::round: half away from zero."""
    return math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier: m = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    fixed = int(round_away(q * (1 << 31)))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def _div_trunc(a: np.ndarray, d: int) -> np.ndarray:
    """C integer division (towards zero) by a positive power of two."""
    return np.where(a >= 0, a // d, -((-a) // d))


def _srdhm(a: np.ndarray, b, bits: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul for `bits`-bit integers: the
    only overflow, MIN * MIN, saturates to MAX."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    half = 1 << (bits - 2)
    out = _div_trunc(ab + np.where(ab >= 0, half, 1 - half), 1 << (bits - 1))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.where((a == b) & (a == lo), hi, out)


def srdhm32(a: np.ndarray, b) -> np.ndarray:
    return _srdhm(a, b, 32)


def rdbpot(x: np.ndarray, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT (exponent >= 0, scalar or array)."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x: np.ndarray, multiplier, shift) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (int32 input, double rounding)."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = np.asarray(x, dtype=np.int64) * (np.int64(1) << left)
    return rdbpot(srdhm32(x, multiplier), right)


def mbqm_smaller_than_one(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0)."""
    return rdbpot(srdhm32(x, multiplier), -shift)


def quantize_f32(f: float, scale: float, zero_point: int) -> int:
    """TFLM's Quantize in CalculateActivationRangeQuantizedImpl: round(f / scale) in float."""
    return zero_point + int(round_away(float(np.float32(f) / np.float32(scale))))


def activation_range_q(act: str, scale: float, zp: int, qmin: int, qmax: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized."""
    q = lambda f: quantize_f32(f, scale, zp)  # noqa: E731
    if act == "RELU":
        return max(qmin, q(0.0)), qmax
    if act == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if act == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    return qmin, qmax


def activation_range_f(act: str) -> tuple[np.float32, np.float32]:
    """CalculateActivationRange<float>."""
    lo, hi = {
        "RELU": (0.0, F32_MAX),
        "RELU6": (0.0, 6.0),
        "RELU_N1_TO_1": (-1.0, 1.0),
        "RELU_0_TO_1": (0.0, 1.0),
    }.get(act, (F32_LOWEST, F32_MAX))
    return np.float32(lo), np.float32(hi)


def clamp_f(x: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    """ActivationFunctionWithMinMax: min(max(x, lo), hi)."""
    return np.minimum(np.maximum(x, lo), hi).astype(np.float32)


def int_limits(dtype: str) -> tuple[int, int]:
    info = np.iinfo(np.dtype(dtype))
    return int(info.min), int(info.max)


# ---- 16-bit gemmlowp helpers (HARD_SWISH) ----


def srdhm16(a: np.ndarray, b) -> np.ndarray:
    return _srdhm(a, b, 16)


def sdhm16(a: np.ndarray, b) -> np.ndarray:
    """SaturatingDoublingHighMul (no rounding) as hard_swish.h defines it."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = _div_trunc(a * b, 1 << 15)
    return np.where((a == b) & (a == I16_MIN), I16_MAX, out)


def saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.int64) * (1 << amount), I16_MIN, I16_MAX)


def downscale_to_int16(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m >= I32_MAX - (1 << 15):
        return I16_MAX
    return (m + (1 << 15)) >> 16


def to_int16(x: np.ndarray) -> np.ndarray:
    """C++'s narrowing store into an int16_t (two's complement wrap)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 15)) % (1 << 16)) - (1 << 15)
