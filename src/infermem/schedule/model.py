"""The live-set peak of an operator order, as bit arithmetic over executed sets.

The search must score an order exactly as `lifetimes.live_bytes` does, so this
module restates those semantics on the tensors that own bytes (roots of alias
chains, arena roles only): a root is live at step s when some step that
touches it is at or before s and some step that touches it is at or after s,
where graph inputs also touch step 0 and graph outputs the last step.

Because every operator that touches a root is known up front, whether a root
is live between two steps depends only on the *set* of operators already run
(a bitmask): it has started once any toucher ran (or it is a graph input) and
it is finished once all touchers ran (unless it is a graph output).  That is
what makes the memoised search over executed sets exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..graph import Graph
from ..planners.problem import align_up


@dataclass(frozen=True)
class Touch:
    """One root as one operator sees it: its number, bytes, every operator
    touching it (bitmask), and whether it is live from the start / to the end."""

    id: int
    size: int
    users: int
    from_start: bool
    to_end: bool


@dataclass(frozen=True)
class PeakModel:
    """Everything the searches need.  Operator sets and root sets are bitmasks
    (bit i: operator i, or root number i)."""

    n: int
    touches: tuple[tuple[Touch, ...], ...]  # per operator: the roots it touches
    preds: tuple[int, ...]  # per operator: the operators it waits for
    succs: tuple[tuple[int, ...], ...]
    start_live: int  # bytes live before the first step (graph inputs in use)
    first_only: int  # bytes live at step 0 only (graph inputs nobody reads)
    last_only: int  # bytes live at the last step only (outputs nobody writes)
    sizes: tuple[int, ...]  # per root
    started0: int  # roots live from the start
    touched: tuple[int, ...]  # per operator: the roots it touches
    anc: tuple[int, ...]  # per operator: its ancestors (operators)
    desc: tuple[int, ...]  # per operator: its descendants (operators)
    need: tuple[int, ...]  # per operator: roots live at its step once begun
    base: tuple[int, ...]  # per operator: roots live at its step in any order
    intrinsic: tuple[int, ...]  # per operator: bytes of `base`
    # per operator, per root it touches: (bytes, other touchers, from_start, to_end)
    flat: tuple[tuple[tuple[int, int, bool, bool], ...], ...]

    @property
    def full(self) -> int:
        return (1 << self.n) - 1


def build(graph: Graph, alignment: int = 16) -> PeakModel:
    """The peak model of `graph`, with sizes aligned as the planners align them."""
    from ..kvcache import outside_arena

    n = len(graph.operators)
    outside = outside_arena(graph)  # a decoder's KV cache: not in the arena (lifetimes.py)

    def in_arena(r: str) -> bool:
        return graph.tensors[r].is_arena and r not in outside

    op_roots = [
        tuple(r for r in dict.fromkeys(graph.root(t) for t in (*op.inputs, *op.outputs) if t)
              if in_arena(r))
        for op in graph.operators
    ]
    users: dict[str, int] = {}
    for i, roots in enumerate(op_roots):
        for r in roots:
            users[r] = users.get(r, 0) | (1 << i)
    starts = {r for t in graph.inputs if in_arena(r := graph.root(t))}
    ends = {r for t in graph.outputs if in_arena(r := graph.root(t))}
    names = list(dict.fromkeys((*users, *sorted(starts), *sorted(ends))))
    touch = {
        r: Touch(k, align_up(graph.tensors[r].nbytes, alignment), users.get(r, 0),
                 r in starts, r in ends)
        for k, r in enumerate(names)
    }
    preds = tuple(sum(1 << p for p in graph.predecessors(i)) for i in range(n))
    succs = tuple(graph.successors(i) for i in range(n))
    roots = tuple(touch.values())
    touched = tuple(sum(1 << touch[r].id for r in rs) for rs in op_roots)
    anc, desc = _closure(n, preds, succs)
    need, base = _forced(n, preds, succs, roots, touched)
    sizes = tuple(t.size for t in roots)
    unused = [t for t in roots if not t.users]
    return PeakModel(
        n=n,
        touches=tuple(tuple(touch[r] for r in rs) for rs in op_roots),
        preds=preds,
        succs=succs,
        start_live=sum(t.size for t in roots if t.from_start and (t.users or t.to_end)),
        first_only=sum(t.size for t in unused if t.from_start and not t.to_end),
        last_only=sum(t.size for t in unused if t.to_end and not t.from_start),
        sizes=sizes,
        started0=sum(1 << t.id for t in roots if t.from_start),
        touched=touched,
        anc=anc,
        desc=desc,
        need=need,
        base=base,
        intrinsic=tuple(mask_bytes(sizes, b) for b in base),
        flat=tuple(
            tuple((touch[r].size, users[r] & ~(1 << i), touch[r].from_start, touch[r].to_end)
                  for r in rs)
            for i, rs in enumerate(op_roots)
        ),
    )


def _closure(n: int, preds: tuple[int, ...], succs) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Ancestors and descendants of every operator, as operator bitmasks."""
    topo = topological(n, preds, succs)
    anc, desc = [0] * n, [0] * n
    for i in topo:
        for p in bits(preds[i]):
            anc[i] |= anc[p] | 1 << p
    for i in reversed(topo):
        for s in succs[i]:
            desc[i] |= desc[s] | 1 << s
    return tuple(anc), tuple(desc)


def _forced(n: int, preds: tuple[int, ...], succs, roots: tuple[Touch, ...],
            touched: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per operator v: `need`, the roots live at v's step if begun by then
    (a descendant of v, or v, or the end still needs them), and `base`, the
    roots live at v's step whatever the order (also begun by an ancestor of v,
    v itself, or the start).  Bytes of `base` bound every order's peak.

    A root is touched by a descendant-or-self of v exactly when v or one of its
    successors needs it, so both masks propagate along the edges (one pass in
    each direction) instead of testing every root against every operator."""
    topo = topological(n, preds, succs)
    to_end = sum(1 << t.id for t in roots if t.to_end)
    from_start = sum(1 << t.id for t in roots if t.from_start)
    need, begun = [0] * n, [0] * n
    for i in reversed(topo):
        m = to_end | touched[i]
        for s in succs[i]:
            m |= need[s]
        need[i] = m
    for i in topo:
        m = from_start | touched[i]
        for p in bits(preds[i]):
            m |= begun[p]
        begun[i] = m
    base = tuple(need[i] & begun[i] | touched[i] for i in range(n))
    return tuple(need), base


def mask_bytes(sizes: tuple[int, ...], mask: int) -> int:
    """Total bytes of the roots in `mask`."""
    total = 0
    while mask:
        low = mask & -mask
        total += sizes[low.bit_length() - 1]
        mask ^= low
    return total


def topological(n: int, preds: tuple[int, ...], succs) -> list[int]:
    indeg = [preds[i].bit_count() for i in range(n)]
    todo = [i for i in range(n) if not indeg[i]]
    out = []
    while todo:
        i = todo.pop()
        out.append(i)
        for s in succs[i]:
            indeg[s] -= 1
            if not indeg[s]:
                todo.append(s)
    return out


def step(m: PeakModel, done: int, live: int, op: int) -> tuple[int, int]:
    """(bytes live during `op`'s step, bytes live after it) when `op` runs next
    after the set `done`, with `live` bytes live between the steps."""
    new = freed = 0
    for size, others, from_start, to_end in m.flat[op]:
        if not from_start and not others & done:
            new += size
        if not to_end and others & done == others:
            freed += size
    peak = live + new
    if not done:
        peak += m.first_only
    if m.last_only and done | 1 << op == m.full:
        peak += m.last_only
    return peak, live + new - freed


def order_peak(m: PeakModel, order: Sequence[int]) -> int:
    """The live-set peak of a complete order (0 for an empty graph)."""
    done, live, peak = 0, m.start_live, 0
    for op in order:
        p, live = step(m, done, live, op)
        peak = max(peak, p)
        done |= 1 << op
    return peak


def bits(mask: int):
    """Indices of the set bits of `mask`, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
