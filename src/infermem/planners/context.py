"""What every strategy needs to know about a Problem, computed once.

Strategies work on buffer indices, not names: padded sizes (rounded up to the
alignment, as TFLM's allocator does before it calls its planner), lifetimes,
fixed offsets, the conflict graph (which buffers live at the same time) and
the allowed overlaps between conflicting pairs.  The conflict graph is built
from the pairs that overlap in time, enumerated by a sort on start step:
O(n log n + conflicts), never O(n^2) on long schedules of short lifetimes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .bounds import lower_bound
from .problem import Problem, align_up

CHUNK_PAIRS = 1 << 21
NBR_MAX_PAIRS = 1 << 20  # beyond this many conflicting pairs, no neighbour lists (see place)


def time_pairs(first: np.ndarray, last: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every unordered pair (i, j) of intervals [first, last] that intersect,
    each once, in chunks of at most about CHUNK_PAIRS pairs.

    Sorted by start, interval p intersects exactly the later-starting q whose
    start is <= last[p]: a contiguous run after p, found by binary search.
    """
    n = len(first)
    if n < 2:
        return
    order, counts = _runs(first, last)
    ends = np.cumsum(counts)
    a = 0
    while a < n:
        base = ends[a - 1] if a else 0
        b = max(int(np.searchsorted(ends, base + CHUNK_PAIRS, side="right")), a + 1)
        b = min(b, n)
        c = counts[a:b]
        total = int(c.sum())
        if total:
            p = np.repeat(np.arange(a, b), c)
            run_start = np.repeat(np.cumsum(c) - c, c)
            q = p + 1 + (np.arange(total) - run_start)
            yield order[p], order[q]
        a = b


def _runs(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order by start, how many later-starting intervals each one meets)."""
    n = len(first)
    order = np.argsort(first, kind="stable")
    hi = np.searchsorted(first[order], last[order], side="right")
    return order, np.maximum(hi - np.arange(n) - 1, 0)


def pair_count(first: np.ndarray, last: np.ndarray) -> int:
    """How many unordered pairs of intervals intersect, without listing them."""
    return int(_runs(first, last)[1].sum()) if len(first) > 1 else 0


def degrees(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Per interval, how many others it meets: those starting by its end,
    less those ended before its start, less itself (O(n log n))."""
    started = np.searchsorted(np.sort(first), last, side="right")
    ended = np.searchsorted(np.sort(last), first, side="left")
    return started - ended - 1


@dataclass(frozen=True, eq=False)
class Context:
    """Index-based view of a Problem.  `allow[i][j] = (k_out, k_in)`: the most
    bytes i may reach into j as j's output (k_out), and j into i as i's output
    (k_in); None where no Overlap says so.  Only conflicting pairs appear.

    `nbr[i]` lists the buffers whose lifetimes meet i's; it is None on dense
    problems (more than NBR_MAX_PAIRS conflicting pairs: a Concat of 20,000
    graph inputs has 200 million), where placement scans numpy arrays
    (`first_a`, `last_a`, `size_a`) instead and `degree` counts conflicts."""

    problem: Problem
    names: tuple[str, ...]
    size: tuple[int, ...]
    first: tuple[int, ...]
    last: tuple[int, ...]
    fixed: tuple[int | None, ...]
    nbr: tuple[tuple[int, ...], ...] | None
    degree: tuple[int, ...]
    first_a: np.ndarray
    last_a: np.ndarray
    size_a: np.ndarray
    allow: tuple[dict[int, tuple[int | None, int | None]], ...]
    model_order: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def alignment(self) -> int:
        return self.problem.alignment

    @property
    def steps(self) -> int:
        return 1 + max(self.last, default=-1)

    @cached_property
    def lower_bound(self) -> int:
        return lower_bound(self.problem)

    def without_overlaps(self) -> Context:
        """The same problem as its strategies see it when told not to use
        overlaps (the validator still allows them; we just never need them)."""
        if not any(self.allow):
            return self
        return replace(self, allow=tuple({} for _ in range(self.n)))

    def initial(self) -> list[int]:
        """Offsets with only the fixed buffers placed (-1 = not yet placed)."""
        return [-1 if f is None else f for f in self.fixed]

    def names_to(self, offsets: list[int]) -> dict[str, int]:
        return dict(zip(self.names, offsets, strict=True))


def _neighbours(first: np.ndarray, last: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """For each buffer, the buffers whose lifetimes meet its own (CSR, then
    sliced once as Python lists: the greedies index them millions of times)."""
    n = len(first)
    chunks = list(time_pairs(first, last))
    if not chunks:
        return tuple(() for _ in range(n))
    i = np.concatenate([c[0] for c in chunks])
    j = np.concatenate([c[1] for c in chunks])
    ii, jj = np.concatenate([i, j]), np.concatenate([j, i])
    order = np.argsort(ii, kind="stable")
    cuts = np.searchsorted(ii[order], np.arange(n + 1)).tolist()
    flat = jj[order].tolist()
    return tuple(tuple(flat[cuts[k] : cuts[k + 1]]) for k in range(n))


def _allowances(problem: Problem, index: dict[str, int]) -> tuple[dict, ...]:
    allow: list[dict[int, tuple[int | None, int | None]]] = [{} for _ in problem.buffers]
    bufs = problem.buffers

    def bump(a: int | None, k: int) -> int:
        return k if a is None else max(a, k)

    for ov in problem.overlaps:
        o, i = index[ov.output], index[ov.input]
        if o == i or not bufs[o].lives_with(bufs[i]):
            continue
        k = max(int(ov.max_bytes), 0)
        out_k, in_k = allow[o].get(i, (None, None))
        allow[o][i] = (bump(out_k, k), in_k)
        out_k, in_k = allow[i].get(o, (None, None))
        allow[i][o] = (out_k, bump(in_k, k))
    return tuple(allow)


def model_order(problem: Problem) -> tuple[int, ...]:
    """Buffer ids in the order TFLM adds them to its planner: by tensor index
    in the model file; buffers without an index (scratch) after, as given."""
    bufs = problem.buffers
    return tuple(
        sorted(range(len(bufs)), key=lambda i: (bufs[i].index is None, bufs[i].index or 0, i))
    )


_CACHE: OrderedDict[int, tuple[Problem, Context]] = OrderedDict()


def context(problem: Problem) -> Context:
    """The index view strategies share, built once per Problem object (an
    identity cache of the last few: hashing 10,000 buffers costs more than
    looking them up, and a Problem is immutable)."""
    hit = _CACHE.get(id(problem))
    if hit is not None and hit[0] is problem:
        _CACHE.move_to_end(id(problem))
        return hit[1]
    ctx = _build(problem)
    _CACHE[id(problem)] = (problem, ctx)
    while len(_CACHE) > 4:
        _CACHE.popitem(last=False)
    return ctx


def _build(problem: Problem) -> Context:
    bufs = problem.buffers
    first = np.fromiter((b.first for b in bufs), dtype=np.int64, count=len(bufs))
    last = np.fromiter((b.last for b in bufs), dtype=np.int64, count=len(bufs))
    index = {b.name: i for i, b in enumerate(bufs)}
    size = tuple(align_up(b.size, problem.alignment) for b in bufs)
    dense = pair_count(first, last) > NBR_MAX_PAIRS
    return Context(
        problem=problem,
        names=tuple(b.name for b in bufs),
        size=size,
        first=tuple(b.first for b in bufs),
        last=tuple(b.last for b in bufs),
        fixed=tuple(b.offset for b in bufs),
        nbr=None if dense else _neighbours(first, last),
        degree=tuple(degrees(first, last).tolist()) if len(bufs) else (),
        first_a=first,
        last_a=last,
        size_a=np.asarray(size, dtype=np.int64),
        allow=_allowances(problem, index),
        model_order=model_order(problem),
    )
