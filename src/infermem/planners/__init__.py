"""Arena planners: pure functions from a Problem to a validated Plan.

`plan(problem, strategy)` is the one entry point.  It checks the problem,
runs the named strategy from `STRATEGIES`, measures the arena
(max(offset + size)) and the lower bound, and passes every plan through
`validate` before returning it, so no caller ever sees an unsafe plan.
A new strategy is one function decorated with `@register("name")`.
"""

from __future__ import annotations

import time
from numbers import Integral

from ..errors import BadInput, Failure
from . import best, exact, greedy, search  # noqa: F401  (register the strategies)
from .bounds import lower_bound
from .context import context, pair_count
from .problem import Buffer, Overlap, Plan, Problem
from .registry import STRATEGIES, Placed, PlanOptions, register
from .validate import validate

__all__ = [
    "STRATEGIES",
    "Buffer",
    "Overlap",
    "Plan",
    "PlanOptions",
    "Placed",
    "Problem",
    "check_problem",
    "lower_bound",
    "plan",
    "register",
    "validate",
]


def _is_int(v: object) -> bool:
    return type(v) is int or (isinstance(v, Integral) and not isinstance(v, bool))


def _check_buffer(b: Buffer, alignment: int) -> None:
    if not (_is_int(b.size) and _is_int(b.first) and _is_int(b.last)):
        raise BadInput(f"buffer {b.name!r}: size, first and last must be integers")
    if b.size < 0 or b.first < 0 or b.last < b.first:
        raise BadInput(
            f"buffer {b.name!r}: size {b.size} must be >= 0 and lifetime "
            f"{b.first}..{b.last} must satisfy 0 <= first <= last"
        )
    if b.offset is not None and (not _is_int(b.offset) or b.offset < 0 or b.offset % alignment):
        raise BadInput(
            f"buffer {b.name!r}: fixed offset {b.offset!r} is not a non-negative "
            f"multiple of the alignment {alignment}"
        )


def check_problem(problem: Problem) -> None:
    """Raise BadInput if the problem itself is malformed: sizes, lifetimes,
    names, alignment, fixed offsets that are unaligned or clash, overlaps
    that name unknown buffers."""
    al = problem.alignment
    if not _is_int(al) or al < 1:
        raise BadInput(f"alignment must be a positive integer, got {al!r}")
    seen: set[str] = set()
    for b in problem.buffers:
        if b.name in seen:
            raise BadInput(f"buffer name {b.name!r} appears twice in the problem")
        seen.add(b.name)
        s, f, e, o = b.size, b.first, b.last, b.offset
        fast = type(s) is int and type(f) is int and type(e) is int and 0 <= f <= e and s >= 0
        if not fast or (o is not None and (type(o) is not int or o < 0 or o % al)):
            _check_buffer(b, al)
    for ov in problem.overlaps:
        if ov.output not in seen or ov.input not in seen:
            raise BadInput(f"overlap {ov} names a buffer that is not in the problem")
        if ov.output == ov.input or not _is_int(ov.max_bytes) or ov.max_bytes < 0:
            raise BadInput(f"overlap {ov} must join two buffers with max_bytes >= 0")
    fixed = [b for b in problem.buffers if b.offset is not None]
    if len(fixed) > 1:
        sub = Problem(tuple(fixed), al)
        sub = Problem(sub.buffers, al, _within(sub, problem.overlaps))
        try:
            validate(sub, {b.name: b.offset for b in fixed})
        except Failure as e:
            raise BadInput(f"the fixed (offline-planned) offsets clash: {e}") from None


def _within(problem: Problem, overlaps: tuple[Overlap, ...]) -> tuple[Overlap, ...]:
    names = {b.name for b in problem.buffers}
    return tuple(o for o in overlaps if o.output in names and o.input in names)


MAX_PLAN_PAIRS = 400_000_000  # pairs live at the same time: a clique of ~28,000 buffers


def check_work(problem: Problem) -> None:
    """Refuse, before any work, a problem whose placements would take minutes:
    every greedy compares each buffer with all placed buffers it lives with,
    so the work grows with the pairs of buffers live at the same time (20,000
    inputs of one Concat make 200 million, planned in seconds; 100,000 make
    5 billion)."""
    import numpy as np

    bufs = problem.buffers
    first = np.fromiter((b.first for b in bufs), dtype=np.int64, count=len(bufs))
    last = np.fromiter((b.last for b in bufs), dtype=np.int64, count=len(bufs))
    pairs = pair_count(first, last)
    if pairs > MAX_PLAN_PAIRS:
        raise BadInput(
            f"planning {len(bufs):,} buffers with {pairs:,} pairs live at the same time is "
            f"beyond the planner's work budget of {MAX_PLAN_PAIRS:,} pairs (about a Concat "
            "of 28,000 inputs); only --strategy linear plans it"
        )


def plan(
    problem: Problem,
    strategy: str = "best",
    time_limit: float = 10.0,
    seed: int = 0,
    use_overlaps: bool = True,
) -> Plan:
    """Plan `problem` with `strategy`; the result has passed `validate`.

    Raises BadInput for an unknown strategy or a malformed problem, Failure
    if the strategy produced an invalid plan (a bug, never returned)."""
    if strategy not in STRATEGIES:
        raise BadInput(
            f"unknown planner strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}"
        )
    if not time_limit > 0:
        raise BadInput(f"time limit must be positive, got {time_limit!r}")
    check_problem(problem)
    if strategy != "linear":
        check_work(problem)
    t0 = time.perf_counter()
    opts = PlanOptions(time_limit=time_limit, seed=seed, use_overlaps=use_overlaps)
    result = STRATEGIES[strategy](problem, opts)
    seconds = time.perf_counter() - t0
    offsets = {k: int(v) for k, v in result.items()}
    validate(problem, offsets)
    lb = context(problem).lower_bound
    arena = max((offsets[b.name] + b.size for b in problem.buffers), default=0)
    optimal = True if arena <= lb else getattr(result, "optimal", None)
    notes = dict(getattr(result, "notes", {}))
    return Plan(strategy, offsets, arena, lb, optimal, seconds, notes)
