"""Beam search over executed sets: a good order fast, with no proof.

It gives the exact search its first upper bound (so pruning starts at once)
and is the answer when the time budget runs out.  States are ranked by the
peak reached so far, then by the bytes live now: among orders that already
paid the same peak, the one holding less memory has the most room left.  Two
partial orders that ran the same set of operators have the same future, so
only the better of them is kept.
"""

from __future__ import annotations

from .model import PeakModel, bits
from .units import Units, ready_after, unit_step


def beam(m: PeakModel, u: Units, width: int = 32,
         work: float = float("inf")) -> tuple[int, ...]:
    """A complete order found by a beam of `width` states per step.  Past
    `work` state expansions the beam narrows to one (greedy) so that it always
    finishes; work is counted, never timed, so the order is the same on any
    machine under any load.
    A state is (peak so far, bytes live, done, ready units, trail), where
    trail is a linked list (unit, trail) of the units run, last first."""
    states = [(0, m.start_live, 0, u.initial_ready, None)]
    spent = 0
    for _ in range(len(u.ops)):
        if spent > work:
            width = 1
        best: dict[int, tuple] = {}
        for peak, live, done, ready, trail in states:
            for k in bits(ready):
                spent += 1
                p, after_live = unit_step(m, done, live, u.ops[k])
                after = done | u.masks[k]
                cand = (max(peak, p), after_live, after, (ready, done, k), trail)
                old = best.get(after)
                if old is None or cand[:2] < old[:2]:
                    best[after] = cand
        ranked = sorted(best.values(), key=lambda s: s[:2])[:width]
        states = [
            (peak, live, done, ready_after(u, *how), (how[2], trail))
            for peak, live, done, how, trail in ranked
        ]
    return _unwind(u, states[0][4]) if states else ()


def _unwind(u: Units, trail) -> tuple[int, ...]:
    order: list[int] = []
    while trail is not None:
        k, trail = trail
        order.extend(reversed(u.ops[k]))
    return tuple(reversed(order))
