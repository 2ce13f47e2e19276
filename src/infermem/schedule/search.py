"""Exact search for the operator order with the lowest live-set peak.

The cost of the rest of a schedule depends only on the set of operators
already run (see `model`), so the search is a dynamic programme over those
sets (Liberis & Lane 2019), explored depth first with branch and bound:

- `c(S)`: the lowest peak over the steps still to run from the set S.  Each
  memo entry keeps a lower and an upper bound on c(S) and the next operator
  of an order that achieves the upper bound.
- `solve(S, floor, ceil)` only has to settle c(S) inside (floor, ceil):
  `floor` is the peak the path to S has already paid (a completion at or
  under it is as good as any), `ceil` the best complete order known (nothing
  at or above it is of interest).  It leaves the entry with upper <= floor,
  lower >= ceil, or lower == upper.
- lower bound: c(S) is at least the bytes live now, and at least what any
  operator still to run holds at its own step in any order (its inputs and
  outputs, plus graph tensors that are always live).
- dominance: an operator that frees at least what it allocates, and whose
  step stays under max(floor, lower bound), can run first without loss (moving
  it ahead of any completion lowers every step it jumps over), so it is the
  only child tried.  This is what collapses Relu/BatchNorm/Add chains: a
  blind collapse of straight chains would not be exact, since running the
  second op of a chain at once can keep a big tensor live across a sibling
  branch's peak (see tests/test_schedule.py::test_chain_collapse_is_not_exact).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from .model import PeakModel, bits, mask_bytes
from .units import Units, ready_after, unit_step

INF = float("inf")


class _OutOfBudget(Exception):
    pass


@dataclass(frozen=True)
class Result:
    order: tuple[int, ...] | None  # None: nothing under the ceiling was found
    peak: int | float  # peak of `order`, or INF
    proven: bool  # True: no order has a peak below min(peak, ceil)
    lower_bound: int
    states: int


class _Search:
    def __init__(self, m: PeakModel, u: Units, deadline: float, max_states: int) -> None:
        self.m = m
        self.u = u
        self.deadline = deadline
        self.max_states = max_states
        self.memo: dict[int, list] = {}  # done -> [lower, upper, next unit]
        self.by_intrinsic = sorted(range(m.n), key=lambda i: -m.intrinsic[i])
        self.calls = 0
        self.extra = tuple(nd & ~b for nd, b in zip(m.need, m.base, strict=True))
        self.probe = 16

    def lower(self, done: int, live: int, started: int, ptr: int,
              ceil: float) -> tuple[int, int]:
        """(lower bound on c(done), index in `by_intrinsic` of the first
        operator not yet run).  At the step of an operator v still to run, its
        `base` roots are live, and so is every root begun already that v or a
        descendant of v still needs.  That extra is part of `live`, so it is
        only worked out where it could reach `ceil` and prune, for at most
        `self.probe` operators (the bound stays valid, only weaker)."""
        m, order = self.m, self.by_intrinsic
        while ptr < len(order) and done >> order[ptr] & 1:
            ptr += 1
        lb = live + (m.first_only if not done else 0)
        if ptr == len(order):
            return lb, ptr
        intrinsic, extra, sizes = m.intrinsic, self.extra, m.sizes
        if intrinsic[order[ptr]] > lb:
            lb = intrinsic[order[ptr]]
        need = ceil - live
        left = self.probe
        for k in range(ptr, len(order)):
            v = order[k]
            if lb >= ceil or intrinsic[v] < need or not left:
                break
            if not done >> v & 1:
                left -= 1
                more = started & extra[v]
                if more and intrinsic[v] + mask_bytes(sizes, more) > lb:
                    lb = intrinsic[v] + mask_bytes(sizes, more)
        return lb, ptr

    def solve(self, done: int, live: int, started: int, ready: int, floor: float,
              ceil: float, ptr: int) -> list:
        m, u = self.m, self.u
        entry = self.memo.get(done)
        if entry is None:
            if done == m.full:
                entry = self.memo[done] = [0, 0, -1]
                return entry
            self.calls += 1
            if self.calls & 1023 == 0 and time.perf_counter() > self.deadline:
                raise _OutOfBudget
            if len(self.memo) >= self.max_states:
                raise _OutOfBudget
            lb, ptr = self.lower(done, live, started, ptr, ceil)
            entry = self.memo[done] = [lb, INF, -1]
        else:
            ptr = self._advance(done, ptr)
        if entry[1] <= floor or entry[0] >= ceil or entry[0] == entry[1]:
            return entry
        kids = []
        for k in bits(ready):
            p, after_live = unit_step(m, done, live, u.ops[k])
            kids.append((p, after_live, k))
        # Steps within the floor cost nothing now: among them, try first the
        # one that frees the most (greedy by memory freed); beyond the floor,
        # the lowest step first.
        kids.sort(key=lambda kid: (kid[0] > floor, kid[1] - kid[0] if kid[0] <= floor else kid[0],
                                   kid))
        free = [k for k in kids if k[1] <= live and k[0] <= max(floor, entry[0])]
        if free and not m.last_only:
            kids = free[:1]
        child_lows = []
        for p, after_live, k in kids:
            top = min(ceil, entry[1])
            if p >= top:
                child_lows.append(p)
                continue
            sub = self.solve(done | u.masks[k], after_live, started | u.touched[k],
                             ready_after(u, ready, done, k), max(floor, p), top, ptr)
            if max(p, sub[1]) < entry[1]:
                entry[1], entry[2] = max(p, sub[1]), k
            child_lows.append(max(p, sub[0]))
            if entry[1] <= floor:
                return entry
        # Every child was settled against min(ceil, upper): the least of their
        # lower bounds is a lower bound here (exact when it meets the upper).
        entry[0] = max(entry[0], min(child_lows))
        return entry

    def _advance(self, done: int, ptr: int) -> int:
        order = self.by_intrinsic
        while ptr < len(order) and done >> order[ptr] & 1:
            ptr += 1
        return ptr

    def unwind(self) -> tuple[int, ...]:
        order: list[int] = []
        done = 0
        while done != self.m.full:
            k = self.memo[done][2]
            order.extend(self.u.ops[k])
            done |= self.u.masks[k]
        return tuple(order)


def exact(m: PeakModel, u: Units, ceil: float = INF, floor: int = 0,
          time_limit: float = 10.0, max_states: int = 3_000_000) -> Result:
    """The order of lowest peak if it is below `ceil` (else None), proven when
    the search finished inside `time_limit` seconds and `max_states` states.
    `floor`: a peak known to be unavoidable.

    With a finite `ceil` it bisects on the peak: each probe B asks only "is
    there an order with peak <= B?" (solve with floor B, ceiling B + 1), which
    a depth-first dive answers fast when yes and the lower bounds answer fast
    when no; settling c(S) exactly inside a wide window costs far more.  The
    memo holds true bounds on c(S), so every probe reuses the previous ones."""
    if m.n == 0:
        return Result((), 0, True, 0, 0)
    if floor >= ceil:
        return Result(None, INF, True, int(floor), 0)
    s = _Search(m, u, time.perf_counter() + time_limit, max_states)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * m.n + 1000))
    low, high = floor, ceil  # c(empty) >= low; an order of peak `high` is known
    proven = True
    try:
        while low < high:
            probe = (low + high - 1) // 2 if high < INF else INF
            entry = s.solve(0, m.start_live, m.started0, u.initial_ready,
                            floor if probe == INF else probe, probe + 1, 0)
            if entry[1] <= probe or probe == INF:
                high = entry[1]
            low = max(low, entry[0], probe + 1 if entry[1] > probe else low)
    except _OutOfBudget:
        proven = False
    finally:
        sys.setrecursionlimit(limit)
    root = s.memo[0]
    order = s.unwind() if root[1] < INF else None
    return Result(order, root[1], proven, int(min(max(low, root[0]), high)), len(s.memo))
