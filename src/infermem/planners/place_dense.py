"""Placement on dense problems, where listing every buffer's neighbours costs
more than the plan: a Concat of 20,000 graph inputs makes 200 million
conflicting pairs (gigabytes of lists) and a quadratic Python loop.

The placed buffers are kept in numpy arrays sorted by offset; placing buffer
i masks those whose lifetimes meet i's (O(placed) in C, no lists), gets its
forbidden start ranges already ordered by their low end, and runs the same
first-fit / best-fit rules as `place` in vectorised form.  The offsets are
identical to the neighbour-list path: both fit rules depend only on the
ranges ordered by low end (the order among equal low ends cannot change the
answer), which is what the sorted arrays give.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .context import Context


class Placed:
    """Placed buffers sorted by offset: ids, offsets, ends, first and last steps,
    as the rows of one preallocated array (inserting shifts one block, not
    five arrays)."""

    ID, OFF, END, FIRST, LAST = range(5)

    def __init__(self, ctx: Context, off: Sequence[int]) -> None:
        o = np.asarray(off, dtype=np.int64)
        ids = np.flatnonzero(o >= 0)
        ids = ids[np.argsort(o[ids], kind="stable")]
        self.rows = np.empty((5, ctx.n), dtype=np.int64)
        self.k = len(ids)
        self.rows[:, : self.k] = (ids, o[ids], o[ids] + ctx.size_a[ids], ctx.first_a[ids],
                                  ctx.last_a[ids])

    def row(self, r: int) -> np.ndarray:
        return self.rows[r, : self.k]

    def add(self, ctx: Context, i: int, x: int) -> None:
        p = int(np.searchsorted(self.row(self.OFF), x, side="right"))
        k = self.k
        if p < k:
            self.rows[:, p + 1 : k + 1] = self.rows[:, p:k].copy()
        self.rows[:, p] = (i, x, x + ctx.size[i], ctx.first[i], ctx.last[i])
        self.k = k + 1


def forbidden(
    ctx: Context, i: int, placed: Placed, off: Sequence[int], use_overlaps: bool, mirror: bool,
    allowed_range,
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) arrays sorted by lo: placing i at x clashes iff lo < x < hi for
    some entry (the same ranges as place.forbidden)."""
    s = ctx.size[i]
    P = placed
    meets = (P.row(P.FIRST) <= ctx.last[i]) & (P.row(P.LAST) >= ctx.first[i])
    allow = ctx.allow[i] if use_overlaps else None
    if allow:
        meets &= ~np.isin(P.row(P.ID), np.fromiter(allow, dtype=np.int64, count=len(allow)))
    lo, hi = P.row(P.OFF)[meets] - s, P.row(P.END)[meets]
    if not allow:
        return lo, hi
    extra = sorted(allowed_range(ctx, j, ks, s, off[j], mirror)
                   for j, ks in allow.items() if off[j] >= 0)
    if not extra:
        return lo, hi
    elo = np.fromiter((e[0] for e in extra), dtype=np.int64, count=len(extra))
    ehi = np.fromiter((e[1] for e in extra), dtype=np.int64, count=len(extra))
    at = np.searchsorted(lo, elo, side="right")
    return np.insert(lo, at, elo), np.insert(hi, at, ehi)


def _before(hi: np.ndarray, alignment: int) -> tuple[np.ndarray, int]:
    """The first-fit candidate before each range (the aligned top of every
    earlier range, at least 0) and after the last one."""
    top = np.maximum.accumulate(-(-np.maximum(hi, 0) // alignment) * alignment)
    return np.concatenate(([0], top[:-1])), int(top[-1])


def first_fit(lo: np.ndarray, hi: np.ndarray, alignment: int) -> int:
    """place.first_fit on sorted arrays: the first candidate at or below its range."""
    if not len(lo):
        return 0
    before, last = _before(hi, alignment)
    stop = np.flatnonzero(before <= lo)
    return int(before[stop[0]]) if len(stop) else last


def best_fit(lo: np.ndarray, hi: np.ndarray, alignment: int) -> int:
    """place.best_fit on sorted arrays: the first gap with less slack than the
    alignment, else the tightest gap (first on ties), else the top."""
    if not len(lo):
        return 0
    before, last = _before(hi, alignment)
    gaps = np.flatnonzero(before <= lo)
    if not len(gaps):
        return last
    slack = lo[gaps] - before[gaps]
    tight = np.flatnonzero(slack < alignment)
    k = gaps[tight[0]] if len(tight) else gaps[int(np.argmin(slack))]
    return int(before[k])


FITS = {"first": first_fit, "best": best_fit}
