"""Searching over the greedies: the best of them, and `hill-climb`.

`best_greedy` runs the fast greedies and keeps the smallest arena, stopping
as soon as one meets the lower bound.  `hill-climb` is TVM USMP's: perturb the
placement order of the best greedy by swapping two buffers (one of them, half
the time, a buffer that sets the peak), re-place from the first changed
position, keep the change unless the arena grows.
"""

from __future__ import annotations

import random

from .context import Context, context
from .greedy import ORDERS
from .place import arena, peak, place
from .problem import Problem
from .registry import Placed, PlanOptions, register

GREEDIES = ("tflm", "best-fit", "breadth", "conflicts")
PLACEMENTS_PER_SECOND = 200_000  # hill-climb work units per second of --time-limit
MIRROR_MAX = 2000  # and tries mirrored greedies (overlaps only) up to this many


def _variants(ctx: Context, use_overlaps: bool) -> list[tuple[str, bool]]:
    """(greedy, mirrored?) pairs worth trying on this problem."""
    out = [(name, False) for name in GREEDIES]
    if (
        use_overlaps
        and ctx.problem.overlaps
        and ctx.n <= MIRROR_MAX
        and all(f is None for f in ctx.fixed)
    ):
        out += [(name, True) for name in GREEDIES]
    return out


def best_greedy(
    ctx: Context, use_overlaps: bool, lb: int, tried: dict | None = None
) -> tuple[str, list[int]]:
    """(label, offsets) of the smallest greedy plan; stops early at the bound.
    Labels are greedy names, with " mirrored" for top-down variants."""
    best: tuple[int, str, list[int]] | None = None
    for name, mirror in _variants(ctx, use_overlaps):
        order, fit = ORDERS[name]
        off = place(ctx, order(ctx), fit, use_overlaps, mirror=mirror)
        a = arena(ctx, off)
        label = f"{name} mirrored" if mirror else name
        if tried is not None:
            tried[label] = a
        if best is None or a < best[0]:
            best = (a, label, off)
        if a <= lb:
            break
    assert best is not None
    return best[1], best[2]


def order_of(ctx: Context, label: str, off: list[int]) -> tuple[list[int], str]:
    """A placement order (and fit) that re-creates the winner's layout well:
    its own order, or for a mirrored winner the buffers by offset."""
    name = label.split()[0]
    order_fn, fit = ORDERS[name]
    if label.endswith("mirrored"):
        return sorted(range(ctx.n), key=lambda i: (off[i], -ctx.size[i])), "first"
    return order_fn(ctx), fit


def climb(
    ctx: Context,
    order: list[int],
    fit: str,
    use: bool,
    opts: PlanOptions,
    budget: float,
    lb: int = 0,
) -> tuple[list[int], int]:
    """Hill-climb over placement orders until the attempts or the work budget
    run out or the arena meets `lb`; returns (offsets, attempts made).
    `budget` is in seconds of work, counted as buffer placements
    (PLACEMENTS_PER_SECOND each), never read from a clock: the same problem
    and seed give the same plan on any machine under any load."""
    rng = random.Random(opts.seed)
    work = int(budget * PLACEMENTS_PER_SECOND)
    order = list(order)
    off = place(ctx, order, fit, use)
    best = peak(ctx, off)
    size, fixed = ctx.size, ctx.fixed
    movable = [p for p, i in enumerate(order) if fixed[i] is None]
    tries = 0
    while tries < opts.attempts and len(movable) > 1 and best > lb:
        if work <= 0:
            break
        tries += 1
        top = [p for p in movable if off[order[p]] + size[order[p]] == best]
        p = rng.choice(top) if top and rng.random() < 0.5 else rng.choice(movable)
        q = rng.choice(movable)
        if p == q:
            continue
        cand = list(order)
        cand[p], cand[q] = cand[q], cand[p]
        start = min(p, q)
        work -= len(cand) - start
        trial = list(off)
        for i in cand[start:]:
            if fixed[i] is None:
                trial[i] = -1
        place(ctx, cand, fit, use, trial, start)
        a = peak(ctx, trial)
        if a <= best:
            order, off, best = cand, trial, a
    return off, tries


def _climb_from_best(ctx: Context, opts: PlanOptions, budget: float) -> tuple[list[int], dict]:
    tried: dict[str, int] = {}
    label, start = best_greedy(ctx, opts.use_overlaps, -1, tried)
    order, fit = order_of(ctx, label, start)
    off, tries = climb(ctx, order, fit, opts.use_overlaps, opts, budget, ctx.lower_bound)
    if arena(ctx, off) > arena(ctx, start):
        off = start
    return off, {"start": label, "start_bytes": tried[label], "attempts": tries}


@register("hill-climb")
def hill_climb(problem: Problem, opts: PlanOptions) -> Placed:
    """TVM USMP hill climb from the best greedy order (seeded, bounded)."""
    ctx = context(problem)
    off, notes = _climb_from_best(ctx, opts, opts.time_limit)
    return Placed(ctx.names_to(off), None, notes)
