"""Leak verdict: does memory after each run keep growing?

Input: the RSS measured right after each steady-state run.  Allocators make
this series noisy in their own way: page-sized steps, an arena that grows once
and stays, a trim that drops a few pages.  So:

- the slope is Theil-Sen (median of all pairwise slopes), which ignores a few
  large jumps, with Sen's distribution-free confidence interval from Kendall's
  S (variance corrected for ties, which page granularity makes common) and
  the Mann-Kendall one-sided p-value;
- a leak must be *significant* (the interval excludes zero), *large enough to
  matter* (slope at least `min_effect` bytes/run) and *persistent* (the
  Theil-Sen slope of each half of the runs is also at least `min_effect`): a
  one-off growth, such as an arena that expands once, lies in at most one
  half and does not flag;
- "no leak" says what it could have seen: the smallest slope that would have
  passed all three tests given the noise observed and the page size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_MIN_EFFECT = 1024.0  # bytes per run
DEFAULT_CONFIDENCE = 0.99
DEFAULT_MIN_RUNS = 10


@dataclass(frozen=True)
class LeakVerdict:
    detected: bool
    assessed: bool
    slope_bytes_per_run: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    confidence: float
    min_effect_bytes_per_run: float
    detectable_slope_bytes_per_run: float | None
    runs_used: int
    total_growth_bytes: int | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _z(confidence: float) -> float:
    """Two-sided normal quantile, by bisection on erf (no scipy)."""
    target, lo, hi = confidence, 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erf(mid / math.sqrt(2)) < target else (lo, mid)
    return (lo + hi) / 2


def _pair_slopes(y: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(len(y), k=1)
    return (y[j] - y[i]) / (j - i)


def theil_sen(y: Sequence[float]) -> float:
    y = np.asarray(y, dtype=np.float64)
    return float(np.median(_pair_slopes(y))) if len(y) > 1 else 0.0


def _kendall(y: np.ndarray) -> tuple[float, float]:
    """Kendall's S against run index and its variance with tie correction."""
    i, j = np.triu_indices(len(y), k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    n = len(y)
    _, counts = np.unique(y, return_counts=True)
    ties = float((counts * (counts - 1) * (2 * counts + 5)).sum())
    return s, (n * (n - 1) * (2 * n + 5) - ties) / 18.0


def sen_interval(y: Sequence[float], confidence: float) -> tuple[float, float, float, float]:
    """(slope, ci_low, ci_high, one-sided Mann-Kendall p-value for an upward trend)."""
    y = np.asarray(y, dtype=np.float64)
    slopes = np.sort(_pair_slopes(y))
    s, var = _kendall(y)
    n_pairs = len(slopes)
    c = _z(confidence) * math.sqrt(max(var, 0.0))
    lo = int(np.clip(math.floor((n_pairs - c) / 2), 0, n_pairs - 1))
    hi = int(np.clip(math.ceil((n_pairs + c) / 2), 0, n_pairs - 1))
    if var <= 0:
        p = 1.0 if s <= 0 else 0.0
    else:
        zs = (s - math.copysign(1.0, s)) / math.sqrt(var) if s else 0.0
        p = 0.5 * math.erfc(zs / math.sqrt(2))
    return float(np.median(slopes)), float(slopes[lo]), float(slopes[hi]), p


def detect_leak(
    post_run_rss: Sequence[int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_effect: float = DEFAULT_MIN_EFFECT,
    min_runs: int = DEFAULT_MIN_RUNS,
    page_bytes: int = 4096,
) -> LeakVerdict:
    """Judge a series of post-run RSS values (bytes), one per run, in order."""
    y = np.asarray(post_run_rss, dtype=np.float64)
    n = len(y)
    base = dict(confidence=confidence, min_effect_bytes_per_run=min_effect, runs_used=n)
    if n < max(min_runs, 4):
        return LeakVerdict(
            detected=False,
            assessed=False,
            slope_bytes_per_run=None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            detectable_slope_bytes_per_run=None,
            total_growth_bytes=None,
            reason=f"not assessed: {n} runs measured, at least {max(min_runs, 4)} needed",
            **base,
        )
    slope, lo, hi, p = sen_interval(y, confidence)
    halves = (theil_sen(y[: n // 2]), theil_sen(y[n // 2 :]))
    significant = lo > 0
    large = slope >= min_effect
    persistent = min(halves) >= min_effect
    detected = significant and large and persistent
    noise = max(slope - lo, hi - slope)
    detectable = max(min_effect, noise, 2 * page_bytes / (n // 2))
    verdict = LeakVerdict(
        detected=detected,
        assessed=True,
        slope_bytes_per_run=slope,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        detectable_slope_bytes_per_run=detectable,
        total_growth_bytes=int(y[-1] - y[0]),
        reason="",
        **base,
    )
    return _with_reason(verdict, significant, large, persistent, halves)


def _fmt(b: float) -> str:
    a = abs(b)
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if a >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} B"


def _with_reason(v: LeakVerdict, significant, large, persistent, halves) -> LeakVerdict:
    ci = f"{v.confidence:.0%} CI {_fmt(v.ci_low)} to {_fmt(v.ci_high)}"
    slope = f"{_fmt(v.slope_bytes_per_run)}/run ({ci}, p={v.p_value:.2g}) over {v.runs_used} runs"
    if v.detected:
        reason = f"leak: memory after each run grows {slope}, in both halves of the runs"
    else:
        why = (
            "not significantly above zero"
            if not significant
            else f"below the {_fmt(v.min_effect_bytes_per_run)}/run minimum effect"
            if not large
            else f"not persistent (halves: {_fmt(halves[0])}/run, {_fmt(halves[1])}/run)"
        )
        reason = (
            f"no leak detected: slope {slope}, {why}; a leak of "
            f"{_fmt(v.detectable_slope_bytes_per_run)}/run or more would have been detected"
        )
    return LeakVerdict(**{**asdict(v), "reason": reason})


def runs_to_detect(post_run_rss: Sequence[int], **kwargs) -> int | None:
    """Fewest leading runs after which `detect_leak` flags the series, or None."""
    y = list(post_run_rss)
    start = max(kwargs.get("min_runs", DEFAULT_MIN_RUNS), 4)
    for n in range(start, len(y) + 1):
        if detect_leak(y[:n], **kwargs).detected:
            return n
    return None
