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


def live_sums(problem: Problem) -> np.ndarray:
    """Bytes live at each step (true sizes, no sharing)."""
    steps = problem.steps
    delta = np.zeros(steps + 1, dtype=np.int64)
    for b in problem.buffers:
        delta[b.first] += b.size
        delta[b.last + 1] -= b.size
    return np.cumsum(delta)[:steps]


def overlap_savings(problem: Problem) -> np.ndarray:
    """Most bytes allowed overlaps can save at each step (per unordered pair,
    the largest saving any of its Overlaps allows)."""
    by = problem.by_name
    best: dict[frozenset, tuple[int, int, int]] = {}
    for ov in problem.overlaps:
        a, b = by.get(ov.output), by.get(ov.input)
        if a is None or b is None or a.name == b.name or not a.lives_with(b):
            continue
        save = max(0, min(ov.max_bytes, a.size, b.size))
        key = frozenset((a.name, b.name))
        lo, hi = max(a.first, b.first), min(a.last, b.last)
        if save > best.get(key, (0, 0, 0))[0]:
            best[key] = (save, lo, hi)
    delta = np.zeros(problem.steps + 1, dtype=np.int64)
    for save, lo, hi in best.values():
        delta[lo] += save
        delta[hi + 1] -= save
    return np.cumsum(delta)[: problem.steps]


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
