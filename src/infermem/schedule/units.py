"""Pairs of operators that some optimal order runs back to back.

Collapsing every straight chain into one node is not exact: running the
second op of a chain at once can keep its big output live across a sibling
branch's peak.  Two exchange arguments say when gluing an edge a -> b loses
nothing, from the bytes each operator begins (`born`: roots no ancestor can
have begun), keeps (`kept`: born roots something later needs), drops at once
(`dead`) or finishes (`fin`: roots no later operator needs):

- postpone a to just before b, when b is a's only successor: the steps a
  jumps over hold a's inputs instead of its kept outputs, so that costs
  nothing if bytes(pre(a)) <= bytes(kept(a)); a's new step holds at most
  pre(a) + dead(a) more than b's old step had before b began born(b).
- advance b to just after a, when a is b's only predecessor: the steps b
  jumps over hold kept(b) instead of fin(b) minus born(b); b's new step holds
  what a's step held minus fin(a) plus born(b).

Each move leaves every other step as it was, never splits another glued pair,
and is checked on sizes alone, so an order with all pairs glued is optimal
whenever some order is.  Pairs are disjoint (a pair is never glued to a third
operator: the arguments above are for single operators).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import PeakModel, Touch, step, topological


def units(m: PeakModel) -> tuple[tuple[int, ...], ...]:
    """Every operator once, in units of one or two that run back to back."""
    if m.first_only or m.last_only:  # the first/last step carries extra bytes
        return tuple((i,) for i in range(m.n))
    glued: dict[int, int] = {}  # first -> second
    taken: set[int] = set()
    for a in range(m.n):
        if a in taken:
            continue
        for b in _partners(m, a):
            if b not in taken:
                glued[a] = b
                taken.update((a, b))
                break
    out = []
    for i in _order(m):
        if i in glued:
            out.append((i, glued[i]))
        elif i not in taken:
            out.append((i,))
    return tuple(out)


def _partners(m: PeakModel, a: int) -> list[int]:
    out = []
    if len(m.succs[a]) == 1 and _postpone_ok(m, a, m.succs[a][0]):
        out.append(m.succs[a][0])
    for b in m.succs[a]:
        if m.preds[b] == 1 << a and _advance_ok(m, a, b):
            out.append(b)
    return out


def _postpone_ok(m: PeakModel, a: int, b: int) -> bool:
    pre, kept, dead = _split(m, a)
    born_b = _split(m, b)
    if pre is None or born_b[0] is None:
        return False
    return pre <= kept and pre + dead <= born_b[1] + born_b[2]


def _advance_ok(m: PeakModel, a: int, b: int) -> bool:
    pre_b, kept_b, dead_b = _split(m, b)
    if pre_b is None or _split(m, a)[0] is None:
        return False
    return kept_b <= _fin(m, b, born=False) and kept_b + dead_b <= _fin(m, a, born=True)


def _born(m: PeakModel, x: int, t: Touch) -> bool:
    return not t.from_start and not t.users & m.anc[x]


def _split(m: PeakModel, x: int) -> tuple[int | None, int, int]:
    """(bytes of pre(x), kept(x), dead(x)); pre None when x touches a root
    whose first toucher is neither an ancestor of x nor x nor a descendant."""
    pre = kept = dead = 0
    mine = 1 << x
    for t in m.touches[x]:
        if not _born(m, x, t):
            pre += t.size
        elif t.users & ~(mine | m.desc[x]):
            return None, 0, 0
        elif t.to_end or t.users & ~mine:
            kept += t.size
        else:
            dead += t.size
    return pre, kept, dead


def _fin(m: PeakModel, x: int, born: bool) -> int:
    """Bytes of the roots x finishes in any order (no later toucher, not a
    graph output); with born=False only those begun before x."""
    mine = 1 << x
    return sum(
        t.size for t in m.touches[x]
        if not t.to_end and not t.users & ~(mine | m.anc[x]) and (born or not _born(m, x, t))
    )


def _order(m: PeakModel) -> list[int]:
    """Units listed in a topological order of their first operators."""
    return topological(m.n, m.preds, m.succs)


@dataclass(frozen=True)
class Units:
    """The units as the searches see them: ops per unit, what each waits for
    (operator bitmask), which units may wait for it, and the op mask of each."""

    ops: tuple[tuple[int, ...], ...]
    preds: tuple[int, ...]
    succs: tuple[tuple[int, ...], ...]
    masks: tuple[int, ...]
    touched: tuple[int, ...]  # per unit: the roots it touches

    @property
    def initial_ready(self) -> int:
        return sum(1 << u for u, p in enumerate(self.preds) if not p)


def plan_units(m: PeakModel, glue: bool = True) -> Units:
    ops = units(m) if glue else tuple((i,) for i in range(m.n))
    unit_of = {i: u for u, us in enumerate(ops) for i in us}
    masks = tuple(sum(1 << i for i in us) for us in ops)
    preds = tuple(_or(m.preds[i] for i in us) & ~mask for us, mask in zip(ops, masks, strict=True))
    succs = tuple(
        tuple(sorted({unit_of[s] for i in us for s in m.succs[i]} - {u}))
        for u, us in enumerate(ops)
    )
    touched = tuple(_or(m.touched[i] for i in us) for us in ops)
    out = Units(ops, preds, succs, masks, touched)
    if glue and not _acyclic(out):  # cannot happen for the rules above; stay safe
        return plan_units(m, glue=False)
    return out


def _acyclic(u: Units) -> bool:
    done, ready, seen = 0, u.initial_ready, 0
    while ready:
        low = ready & -ready
        k = low.bit_length() - 1
        ready = ready_after(u, ready, done, k)
        done |= u.masks[k]
        seen += 1
    return seen == len(u.ops)


def _or(masks) -> int:
    out = 0
    for x in masks:
        out |= x
    return out


def unit_step(m: PeakModel, done: int, live: int, ops: tuple[int, ...]) -> tuple[int, int]:
    """(highest step of the unit, bytes live after it) when it runs after `done`."""
    peak = 0
    for op in ops:
        p, live = step(m, done, live, op)
        peak = max(peak, p)
        done |= 1 << op
    return peak, live


def ready_after(u: Units, ready: int, done: int, unit: int) -> int:
    """The ready units once `unit` (ready at `done`) has run."""
    after = done | u.masks[unit]
    ready &= ~(1 << unit)
    for s in u.succs[unit]:
        if not u.preds[s] & ~after:
            ready |= 1 << s
    return ready
