"""`best`, the default strategy: good plans fast, optimal ones where cheap.

It runs the fast greedies (overlap-aware, and mirrored, when the problem has
overlaps) and keeps the smallest arena, stopping at once when one meets the
lower bound (then it is provably optimal).  When none does and the problem is
small, as most microcontroller models are, it spends a short, bounded time
on the exact solver (warm-started from the greedy, so never worse), and on
medium problems a short hill climb instead.
"""

from __future__ import annotations

from .context import context
from .exact import solve
from .place import arena
from .problem import Problem
from .registry import Placed, PlanOptions, register
from .search import best_greedy, climb, order_of

EXACT_MAX = 1500  # buffers: up to this many, `best` tries CP-SAT briefly
CLIMB_MAX = 3000  # and up to this many, a short hill climb


@register("best")
def best(problem: Problem, opts: PlanOptions) -> Placed:
    """Smallest of the fast greedies; if it misses the bound, a short exact
    solve (<= EXACT_MAX buffers) or hill climb (<= CLIMB_MAX buffers)."""
    ctx = context(problem)
    if not opts.use_overlaps:
        ctx = ctx.without_overlaps()
    lb = ctx.lower_bound
    tried: dict[str, int] = {}
    label, off = best_greedy(ctx, opts.use_overlaps, lb, tried)
    notes: dict[str, object] = {"winner": label, "tried": tried}
    optimal: bool | None = True if arena(ctx, off) <= lb else None
    if optimal is None and ctx.n <= EXACT_MAX:
        budget = min(3.0, 0.3 * opts.time_limit)
        solved, optimal, more = solve(ctx, off, budget, opts.seed)
        if arena(ctx, solved) < arena(ctx, off):
            off, notes["winner"] = solved, f"exact from {label}"
        notes["exact"] = more
        optimal = optimal or None
    elif optimal is None and ctx.n <= CLIMB_MAX:
        budget = min(1.0, 0.1 * opts.time_limit)
        order, fit = order_of(ctx, label, off)
        climbed, tries = climb(ctx, order, fit, opts.use_overlaps, opts, budget, lb)
        if arena(ctx, climbed) < arena(ctx, off):
            off, notes["winner"] = climbed, f"hill-climb from {label}"
        notes["climb_attempts"] = tries
    return Placed(ctx.names_to(off), True if arena(ctx, off) <= lb else optimal, notes)
