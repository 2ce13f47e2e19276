"""The greedy strategies: an order to place buffers in, and a fit rule.

`tflm` reproduces TFLM's GreedyMemoryPlanner
(tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc) and the way
MicroAllocator feeds it (micro_allocator.cc CreatePlan, micro_allocation_info.cc):

* Buffers are added in tensor-index order (all tensors of subgraph 0, then
  the next subgraphs, then scratch buffers), only tensors that need
  allocating: no constant data, not variables, non-zero bytes (so here a
  zero-byte buffer gets offset 0 and is left out of everyone's gap search).
* Each size is `AlignSizeUp(bytes, MicroArenaBufferAlignment())` = 16: the
  planner sees aligned sizes and never aligns offsets itself; offsets are
  sums of aligned sizes, hence aligned.
* Lifetimes: inputs and outputs are created at scope 0, operator i runs at
  scope i+1; an operator's outputs are created (first = last = scope) and its
  inputs' last use moved to its scope; outputs last until the final scope.
  That is infermem's step numbering shifted by one: the same conflicts.
* Order: offline-planned buffers first, in id order, at their fixed offsets;
  online buffers are written into the sort array from its tail, i.e. in
  DESCENDING id order, then bubble-sorted by size descending, swapping only
  on strictly smaller (stable).  So equal sizes are placed highest id first.
* Placement: the first buffer (if online) at 0; each next one scans the
  already-placed buffers that overlap it in time in ascending offset order,
  candidate = max end so far, and takes the first gap >= its size; else it
  goes after the highest of them.  No alignment, no best fit, no overlaps.
* Head size = GetMaximumMemorySize() = max(offset + aligned size).

`tflm-dmo` keeps TFLM's order and first fit but lets a buffer use allowed
overlaps.  The others follow TFLite's ArenaPlanner (best fit), Pisarchyk &
Lee's greedy by breadth, and TVM USMP's greedy by conflicts; all of them use
allowed overlaps when the problem has some (unless told not to).  `best`
(search.py) also tries each of them mirrored (packed from the top down).
"""

from __future__ import annotations

import numpy as np

from .context import Context, context
from .place import place
from .problem import Problem
from .registry import Placed, PlanOptions, register


def _rank(ctx: Context) -> list[int]:
    rank = [0] * ctx.n
    for r, i in enumerate(ctx.model_order):
        rank[i] = r
    return rank


def tflm_order(ctx: Context) -> list[int]:
    """TFLM's processing order: offline first by id, then size desc, id desc."""
    rank = _rank(ctx)
    fixed = [i for i in ctx.model_order if ctx.fixed[i] is not None]
    online = [i for i in ctx.model_order if ctx.fixed[i] is None]
    online.sort(key=lambda i: (-ctx.size[i], -rank[i]))
    return fixed + online


def size_order(ctx: Context) -> list[int]:
    """TFLite ArenaPlanner's order: whole-run buffers first by id, then size
    desc, earlier first use first, then id."""
    rank, end = _rank(ctx), ctx.steps - 1

    def key(i: int) -> tuple:
        whole = ctx.first[i] == 0 and ctx.last[i] == end
        return (not whole, 0 if whole else -ctx.size[i], ctx.first[i], rank[i])

    return sorted(range(ctx.n), key=key)


def step_live(ctx: Context) -> np.ndarray:
    """Padded bytes live at each step."""
    delta = np.zeros(ctx.steps + 1, dtype=np.int64)
    np.add.at(delta, np.asarray(ctx.first, dtype=np.int64), np.asarray(ctx.size, dtype=np.int64))
    np.add.at(
        delta, np.asarray(ctx.last, dtype=np.int64) + 1, -np.asarray(ctx.size, dtype=np.int64)
    )
    return np.cumsum(delta)[:-1]


def _range_min(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """min(values[lo..hi]) per query (inclusive), by a sparse table."""
    table = [values]
    while (1 << len(table)) <= len(values):
        prev, w = table[-1], 1 << (len(table) - 1)
        table.append(np.minimum(prev[:-w], prev[w:]))
    k = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
    out = np.empty(len(lo), dtype=values.dtype)
    for level in np.unique(k):
        sel = k == level
        t = table[level]
        out[sel] = np.minimum(t[lo[sel]], t[hi[sel] - (1 << level) + 1])
    return out


def breadth_order(ctx: Context) -> list[int]:
    """Greedy by breadth: steps by live bytes desc; a buffer is taken at the
    first step (in that order) where it is live; within a step size desc."""
    if ctx.n == 0:
        return []
    live = step_live(ctx)
    steps = np.lexsort((np.arange(len(live)), -live))
    step_rank = np.empty(len(live), dtype=np.int64)
    step_rank[steps] = np.arange(len(live))
    first = np.asarray(ctx.first, dtype=np.int64)
    last = np.asarray(ctx.last, dtype=np.int64)
    taken_at = _range_min(step_rank, first, last)
    rank = np.asarray(_rank(ctx), dtype=np.int64)
    size = np.asarray(ctx.size, dtype=np.int64)
    return np.lexsort((rank, -size, taken_at)).tolist()


def conflicts_order(ctx: Context) -> list[int]:
    """TVM USMP greedy_by_conflicts: most lifetime conflicts first, then size desc."""
    rank = _rank(ctx)
    return sorted(range(ctx.n), key=lambda i: (-ctx.degree[i], -ctx.size[i], rank[i]))


ORDERS = {
    "tflm": (tflm_order, "first"),
    "best-fit": (size_order, "best"),
    "breadth": (breadth_order, "best"),
    "conflicts": (conflicts_order, "first"),
}


def run_greedy(ctx: Context, name: str, use_overlaps: bool) -> list[int]:
    order, fit = ORDERS[name]
    return place(ctx, order(ctx), fit, use_overlaps)


@register("linear")
def linear(problem: Problem, opts: PlanOptions) -> Placed:
    """TFLM's LinearMemoryPlanner: no reuse, buffers back to back in id order
    (above any fixed buffers)."""
    ctx = context(problem)
    off = ctx.initial()
    x = max((o + ctx.size[i] for i, o in enumerate(off) if o >= 0), default=0)
    x = -(-x // ctx.alignment) * ctx.alignment
    for i in ctx.model_order:
        if off[i] < 0:
            off[i] = x
            x += ctx.size[i]
    return Placed(ctx.names_to(off))


@register("tflm")
def tflm(problem: Problem, opts: PlanOptions) -> Placed:
    """TFLM's GreedyMemoryPlanner, byte for byte (never uses overlaps)."""
    ctx = context(problem)
    return Placed(ctx.names_to(run_greedy(ctx, "tflm", use_overlaps=False)))


@register("tflm-dmo")
def tflm_dmo(problem: Problem, opts: PlanOptions) -> Placed:
    """TFLM's order and first fit, using the problem's allowed overlaps."""
    ctx = context(problem)
    return Placed(ctx.names_to(run_greedy(ctx, "tflm", opts.use_overlaps)))


@register("best-fit")
def best_fit(problem: Problem, opts: PlanOptions) -> Placed:
    """TFLite ArenaPlanner style: size desc, tightest gap (uses overlaps)."""
    ctx = context(problem)
    return Placed(ctx.names_to(run_greedy(ctx, "best-fit", opts.use_overlaps)))


@register("breadth")
def breadth(problem: Problem, opts: PlanOptions) -> Placed:
    """Greedy by breadth (Pisarchyk & Lee 2020), best fit (uses overlaps)."""
    ctx = context(problem)
    return Placed(ctx.names_to(run_greedy(ctx, "breadth", opts.use_overlaps)))


@register("conflicts")
def conflicts(problem: Problem, opts: PlanOptions) -> Placed:
    """Greedy by conflicts (TVM USMP), first fit (uses overlaps)."""
    ctx = context(problem)
    return Placed(ctx.names_to(run_greedy(ctx, "conflicts", opts.use_overlaps)))
