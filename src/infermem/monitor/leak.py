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
    """A leak verdict.  `per` is the unit of the slope: "run" (one value per
    marked iteration) or "s" (RSS over time, for a program with no markers);
    the `*_per_run` fields then hold bytes per second, and `to_dict` names
    them `*_per_s`."""

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
    per: str = "run"
    series: str = "rss"  # which memory the slope is of: "rss" or "uss"
    window_s: tuple[float, float] | None = None  # time verdicts: the span judged

    def to_dict(self) -> dict:
        d = asdict(self)
        if self.per != "run":
            d = {k.replace("_per_run", f"_per_{self.per}"): v for k, v in d.items()}
            d["runs_used"] = None
            d["points_used"] = self.runs_used
        if self.window_s is None:
            d.pop("window_s")
        return d


def _z(confidence: float) -> float:
    """Two-sided normal quantile, by bisection on erf (no scipy)."""
    target, lo, hi = confidence, 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.erf(mid / math.sqrt(2)) < target else (lo, mid)
    return (lo + hi) / 2


def median(a) -> float:
    """The median, without `np.median`: its first call imports `numpy.ma`
    (tens of milliseconds, paid by every `infermem monitor` otherwise)."""
    v = np.sort(np.asarray(a, dtype=np.float64), axis=None)
    n = len(v)
    if n == 0:
        return float("nan")
    return float(v[n // 2]) if n % 2 else float((v[n // 2 - 1] + v[n // 2]) / 2)


def _pair_slopes(y: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
    """Slopes of all pairs; x (strictly increasing) defaults to the index."""
    i, j = np.triu_indices(len(y), k=1)
    dx = (j - i) if x is None else (x[j] - x[i])
    return (y[j] - y[i]) / dx


def theil_sen(y: Sequence[float], x: Sequence[float] | None = None) -> float:
    y = np.asarray(y, dtype=np.float64)
    xs = None if x is None else np.asarray(x, dtype=np.float64)
    return float(median(_pair_slopes(y, xs))) if len(y) > 1 else 0.0


def _kendall(y: np.ndarray) -> tuple[float, float]:
    """Kendall's S against run index and its variance with tie correction."""
    i, j = np.triu_indices(len(y), k=1)
    s = float(np.sign(y[j] - y[i]).sum())
    n = len(y)
    _, counts = np.unique(y, return_counts=True)
    ties = float((counts * (counts - 1) * (2 * counts + 5)).sum())
    return s, (n * (n - 1) * (2 * n + 5) - ties) / 18.0


def sen_interval(
    y: Sequence[float], confidence: float, x: Sequence[float] | None = None
) -> tuple[float, float, float, float]:
    """(slope, ci_low, ci_high, one-sided Mann-Kendall p-value for an upward trend)."""
    y = np.asarray(y, dtype=np.float64)
    slopes = np.sort(_pair_slopes(y, None if x is None else np.asarray(x, dtype=np.float64)))
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
    return float(median(slopes)), float(slopes[lo]), float(slopes[hi]), p


def detect_leak(
    post_run_rss: Sequence[int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    min_effect: float = DEFAULT_MIN_EFFECT,
    min_runs: int = DEFAULT_MIN_RUNS,
    page_bytes: int = 4096,
    x: Sequence[float] | None = None,
    per: str = "run",
    series: str = "rss",
    parts: int = 2,
) -> LeakVerdict:
    """Judge a series of post-run RSS values (bytes), one per run, in order;
    with `x` (strictly increasing, e.g. seconds), the slope is per unit of x."""
    y = np.asarray(post_run_rss, dtype=np.float64)
    xs = np.arange(len(y), dtype=np.float64) if x is None else np.asarray(x, dtype=np.float64)
    n = len(y)
    base = dict(
        confidence=confidence, min_effect_bytes_per_run=min_effect, runs_used=n, per=per,
        series=series,
    )  # fmt: skip
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
            reason=f"not assessed: {n} {_points(per)} measured, at least {max(min_runs, 4)} needed",
            **base,
        )
    slope, lo, hi, p = sen_interval(y, confidence, xs)
    h = n // 2
    halves = _pieces(y, xs, parts)
    significant = lo > 0
    large = slope >= min_effect
    persistent = min(halves) >= min_effect
    detected = significant and large and persistent
    noise = max(slope - lo, hi - slope)
    detectable = max(min_effect, noise, 2 * page_bytes / max(xs[-1] - xs[h], 1e-9))
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


def _pieces(y: np.ndarray, xs: np.ndarray, parts: int) -> tuple[float, ...]:
    """Theil-Sen slope of each of `parts` consecutive equal pieces of the series."""
    cuts = [round(k * len(y) / parts) for k in range(parts + 1)]
    return tuple(theil_sen(y[a:b], xs[a:b]) for a, b in zip(cuts, cuts[1:], strict=False))


_PIECES = {2: ("both halves", "halves"), 3: ("all three thirds", "thirds")}


def _fmt(b: float) -> str:
    a = abs(b)
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if a >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} B"


def _points(per: str) -> str:
    return "runs" if per == "run" else "time points"


def _with_reason(v: LeakVerdict, significant, large, persistent, halves) -> LeakVerdict:
    u = f"/{v.per}"
    ci = f"{v.confidence:.0%} CI {_fmt(v.ci_low)} to {_fmt(v.ci_high)}"
    if v.per == "run":
        over, what, where = f"{v.runs_used} runs", "memory after each run", "the runs"
    else:
        span = v.window_s[1] - v.window_s[0] if v.window_s else 0.0
        over = f"{span:.1f} s after the warm-up"
        what, where = f"{v.series.upper()} over time", "that span"
    slope = f"{_fmt(v.slope_bytes_per_run)}{u} ({ci}, p={v.p_value:.2g}) over {over}"
    if v.detected:
        reason = f"leak: {what} grows {slope}, in {_PIECES[len(halves)][0]} of {where}"
    else:
        why = (
            "not significantly above zero"
            if not significant
            else f"below the {_fmt(v.min_effect_bytes_per_run)}{u} minimum effect"
            if not large
            else f"not persistent ({_PIECES[len(halves)][1]}: "
            + ", ".join(f"{_fmt(x)}{u}" for x in halves)
            + ")"
        )
        reason = (
            f"no leak detected: slope {slope}, {why}; a leak of "
            f"{_fmt(v.detectable_slope_bytes_per_run)}{u} or more would have been detected"
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


DEFAULT_MIN_RATE = 4096.0  # bytes per second, for programs without iteration markers
DEFAULT_TIME_POINTS = 200
COOLDOWN = 0.05  # time verdicts: the last 5% of the run (exit) is left out


def detect_trend(
    t_s: Sequence[float],
    rss: Sequence[int],
    *,
    warmup_s: float | None = None,
    min_rate: float = DEFAULT_MIN_RATE,
    confidence: float = DEFAULT_CONFIDENCE,
    points: int = DEFAULT_TIME_POINTS,
    series: str = "rss",
    page_bytes: int = 4096,
) -> LeakVerdict:
    """The leak verdict for a program that marks no iterations: the trend of
    sampled memory over time, after a warm-up (default: the first third of
    the run, which holds imports, loading and first-use allocations).

    Thousands of samples are reduced to at most `points` equal time bins,
    each summarised by its median (one transient allocation inside a bin
    does not move it), and judged exactly as `detect_leak` judges runs:
    Theil-Sen slope in bytes per second, Sen's interval, minimum effect
    `min_rate` and the same slope in both halves of the span.  The last
    `COOLDOWN` of the run is left out too: a program's exit (freeing,
    runtime teardown) is flat or falling, and would read as a leak that
    stopped."""
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(rss, dtype=np.float64)
    keep = y >= 0
    t, y = t[keep], y[keep]
    if len(t) and warmup_s is None:
        warmup_s = (t[-1] - t[0]) / 3
    start = (t[0] + (warmup_s or 0.0)) if len(t) else 0.0
    end = (t[-1] - COOLDOWN * (t[-1] - t[0])) if len(t) else 0.0
    keep = (t >= start) & (t <= end)
    t, y = t[keep], y[keep]
    xs, ys = _bin_medians(t, y, points)
    v = detect_leak(
        ys, confidence=confidence, min_effect=min_rate, x=xs, per="s", series=series,
        page_bytes=page_bytes,
    )  # fmt: skip
    window = (float(t[0]), float(t[-1])) if len(t) else None
    v = LeakVerdict(**{**asdict(v), "window_s": window})
    if not v.assessed:
        return v
    halves = _pieces(ys, xs, 2)
    return _with_reason(
        v, v.ci_low > 0, v.slope_bytes_per_run >= min_rate, min(halves) >= min_rate, halves
    )


def _bin_medians(t: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Median time and value of each non-empty bin of `points` equal time bins."""
    if len(t) <= points:
        return t, y
    edges = np.linspace(t[0], t[-1], points + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, points - 1)
    cuts = np.flatnonzero(np.diff(idx)) + 1  # t is sorted, so each bin is one run
    xs = [float(median(c)) for c in np.split(t, cuts)]
    ys = [float(median(c)) for c in np.split(y, cuts)]
    return np.asarray(xs), np.asarray(ys)
