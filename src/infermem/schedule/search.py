"""Exact search for the operator order with the lowest live-set peak.

The cost of the rest of a schedule depends only on the set of operators
already run (see `model`), so the search is a dynamic programme over those
sets (Liberis & Lane 2019), explored depth first with branch and bound.  It
steps over `units` (single operators, or pairs that some optimal order runs
back to back), so the sets it visits are those of the glued graph.

- `c(S)`: the lowest peak over the steps still to run from the set S.  Each
  memo entry keeps a lower and an upper bound on c(S) and the next unit of an
  order that achieves the upper bound.
- `solve(S, floor, ceil)` only has to settle c(S) inside (floor, ceil):
  `floor` is the peak the path to S has already paid (a completion at or
  under it is as good as any), `ceil` the best complete order known (nothing
  at or above it is of interest).  It leaves the entry with upper <= floor,
  lower >= ceil, or lower == upper.
- lower bound: c(S) is at least the bytes live now, and at least what any
  operator still to run must hold at its own step: its `base` roots (live in
  every order) plus the roots begun already that it or a descendant needs.
- dominance: a unit that frees at least what it allocates, and whose steps
  stay under max(floor, lower bound), can run first without loss (moving it
  ahead of any completion lowers every step it jumps over), so it is the only
  child tried.  This collapses Relu/BatchNorm/Add chains wherever that is
  exact; a blind collapse of straight chains is not (see `units` and
  tests/test_schedule.py::test_chain_collapse_is_not_exact).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from .model import PeakModel, bits, mask_bytes, step
from .units import Units, ready_after, unit_step

INF = float("inf")
CALLS_PER_SECOND = 25_000  # search calls per second of time_limit: counted, never timed


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
    def __init__(self, m: PeakModel, u: Units, max_calls: float, max_states: int) -> None:
        self.m = m
        self.u = u
        self.max_calls = max_calls
        self.max_states = max_states
        self.memo: dict[int, list] = {}  # done -> [lower, upper, next unit]
        self.by_intrinsic = sorted(range(m.n), key=lambda i: -m.intrinsic[i])
        self.calls = 0
        self.extra = tuple(nd & ~b for nd, b in zip(m.need, m.base, strict=True))
        self.probe = 4

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
        self.calls += 1
        if self.calls > self.max_calls:
            raise _OutOfBudget
        entry = self.memo.get(done)
        if entry is None:
            if done == m.full:
                entry = self.memo[done] = [0, 0, -1]
                return entry
            if len(self.memo) >= self.max_states:
                raise _OutOfBudget
            lb, ptr = self.lower(done, live, started, ptr, ceil)
            entry = self.memo[done] = [lb, INF, -1]
        else:
            ptr = self._advance(done, ptr)
        if entry[1] <= floor or entry[0] >= ceil or entry[0] == entry[1]:
            return entry
        # Steps within the floor cost nothing now: among them, try first the
        # unit that frees the most (greedy by memory freed); beyond the floor,
        # the lowest step first.  A dominant unit (see above) is tried alone.
        kids = []
        cap = floor if floor > entry[0] else entry[0]
        for k in bits(ready):
            p, after_live = self.kid(done, live, k)
            if after_live <= live and p <= cap and not m.last_only:
                kids = [(False, 0, p, after_live, k)]
                break
            within = p <= floor
            kids.append((not within, after_live - p if within else p, p, after_live, k))
        kids.sort()
        child_lows = []
        for _, _, p, after_live, k in kids:
            top = ceil if ceil < entry[1] else entry[1]
            if p >= top:
                child_lows.append(p)
                continue
            sub = self.solve(done | u.masks[k], after_live, started | u.touched[k],
                             ready_after(u, ready, done, k), floor if floor > p else p, top, ptr)
            value = p if p > sub[1] else sub[1]
            if value < entry[1]:
                entry[1], entry[2] = value, k
            child_lows.append(p if p > sub[0] else sub[0])
            if entry[1] <= floor:
                return entry
        # Every child was settled against min(ceil, upper): the least of their
        # lower bounds is a lower bound here (exact when it meets the upper).
        entry[0] = max(entry[0], min(child_lows))
        return entry

    def kid(self, done: int, live: int, k: int) -> tuple[int, int]:
        ops = self.u.ops[k]
        if len(ops) == 1:
            return step(self.m, done, live, ops[0])
        return unit_step(self.m, done, live, ops)

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
          time_limit: float = 10.0, max_states: int = 1_000_000) -> Result:
    """The order of lowest peak if it is below `ceil` (else None), proven when
    the search finished inside `time_limit` seconds and `max_states` states.
    `floor`: a peak known to be unavoidable.

    With a finite `ceil` it probes downwards: each probe B = best known - 1
    asks only "is there an order with peak <= B?" (solve with floor B and
    ceiling B + 1).  A depth-first dive answers yes fast, and the last probe,
    the one that answers no, is the proof; settling c(S) exactly inside a wide
    window, or bisecting on B, revisits far more states.  The memo holds true
    bounds on c(S), so each probe reuses what the previous ones learnt."""
    if m.n == 0:
        return Result((), 0, True, 0, 0)
    if floor >= ceil:
        return Result(None, INF, True, int(floor), 0)
    s = _Search(m, u, time_limit * CALLS_PER_SECOND, max_states)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * m.n + 1000))
    low, high = floor, ceil  # c(empty) >= low; an order of peak `high` is known
    proven = True
    try:
        while low < high:
            probe = high - 1 if high < INF else INF
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
