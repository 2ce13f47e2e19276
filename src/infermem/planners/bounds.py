"""Lower bounds on the arena: no plan for this problem can be smaller.

Without overlaps the live-set bound is exact for a given schedule's
lifetimes: at every step all live buffers need disjoint bytes, so the arena is
at least the largest sum of live sizes.  With allowed overlaps two live
buffers may share bytes, at most min(k, size_out, size_in) of them for an
Overlap with reach k; by Bonferroni (|union| >= sum |A_i| - sum |A_i & A_j|)
subtracting every such saving live at the step keeps the bound valid.  Fixed
buffers add max(offset + size), and the largest buffer is always a bound.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem


def _arrays(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bufs, n = problem.buffers, len(problem.buffers)
    size = np.fromiter((b.size for b in bufs), dtype=np.int64, count=n)
    first = np.fromiter((b.first for b in bufs), dtype=np.int64, count=n)
    last = np.fromiter((b.last for b in bufs), dtype=np.int64, count=n)
    return size, first, last


def _sweep(steps: int, lo: np.ndarray, hi: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Per step, the sum of `amount` over the intervals [lo, hi] covering it."""
    delta = np.zeros(steps + 1, dtype=np.int64)
    np.add.at(delta, lo, amount)
    np.add.at(delta, hi + 1, -amount)
    return np.cumsum(delta)[:steps]


def live_sums(problem: Problem) -> np.ndarray:
    """Bytes live at each step (true sizes, no sharing)."""
    size, first, last = _arrays(problem)
    return _sweep(problem.steps, first, last, size)


def overlap_savings(problem: Problem) -> np.ndarray:
    """Most bytes allowed overlaps can save at each step (per unordered pair,
    the largest saving any of its Overlaps allows)."""
    index = {b.name: i for i, b in enumerate(problem.buffers)}
    bufs = problem.buffers
    best: dict[tuple[int, int], int] = {}
    for ov in problem.overlaps:
        a, b = index.get(ov.output), index.get(ov.input)
        if a is None or b is None or a == b or not bufs[a].lives_with(bufs[b]):
            continue
        save = max(0, min(ov.max_bytes, bufs[a].size, bufs[b].size))
        key = (min(a, b), max(a, b))
        best[key] = max(best.get(key, 0), save)
    if not best:
        return np.zeros(problem.steps, dtype=np.int64)
    pairs = np.array(list(best), dtype=np.int64).reshape(-1, 2)
    _, first, last = _arrays(problem)
    lo = np.maximum(first[pairs[:, 0]], first[pairs[:, 1]])
    hi = np.minimum(last[pairs[:, 0]], last[pairs[:, 1]])
    return _sweep(problem.steps, lo, hi, np.fromiter(best.values(), dtype=np.int64))


def lower_bound(problem: Problem) -> int:
    """Largest of: live-set bound (less allowed savings), the biggest buffer,
    and the end of the highest fixed buffer."""
    bufs = problem.buffers
    if not bufs:
        return 0
    live = live_sums(problem)
    if problem.overlaps:
        live = live - overlap_savings(problem)
    fixed_end = max((b.offset + b.size for b in bufs if b.offset is not None), default=0)
    return int(max(live.max(initial=0), max(b.size for b in bufs), fixed_end))
