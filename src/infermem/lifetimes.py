"""From a graph and an execution order to tensor lifetimes and a planning Problem.

A tensor's lifetime runs from the step that writes it to the last step that
reads it (or reads one of its aliases).  Graph inputs live from step 0, graph
outputs until the last step.  Views (aliases) own no bytes: their uses extend
the lifetime of the tensor they view.  A decoder's KV cache (past inputs,
present outputs; see kvcache.py) is held outside the arena and has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .graph import Graph, checked_order
from .planners.problem import Buffer, Problem, align_up


@dataclass(frozen=True)
class Lifetime:
    name: str
    bytes: int  # aligned
    first: int  # step (position in the order), not operator index
    last: int


def lifetimes(
    graph: Graph, order: Sequence[int] | None = None, alignment: int = 16
) -> list[Lifetime]:
    """Lifetimes of every arena tensor (not weights, not aliases, not the KV
    cache) for `order`."""
    order = checked_order(graph, order)
    last_step = max(len(order) - 1, 0)
    owner = arena_owners(graph)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for name in graph.inputs:
        if (r := owner[name]) is not None:
            first.setdefault(r, 0)
            last[r] = 0
    ops = graph.operators
    for step, i in enumerate(order):  # steps only grow: first is the first touch, last the latest
        op = ops[i]
        for names in (op.inputs, op.outputs):
            for t in names:
                if t and (r := owner[t]) is not None:
                    first.setdefault(r, step)
                    last[r] = step
    for name in graph.outputs:
        if (r := owner[name]) is not None:
            first.setdefault(r, last_step)
            last[r] = last_step
    tensors = graph.tensors
    return [
        Lifetime(n, align_up(tensors[n].nbytes, alignment), first[n], last[n])
        for n in tensors
        if n in first
    ]


def arena_owners(graph: Graph) -> dict[str, str | None]:
    """Each tensor name -> the arena tensor owning its bytes (the end of its
    alias chain), or None for a weight: resolved once per tensor, not per use,
    which kept long chains' lifetimes from being the profile's biggest cost."""
    from .kvcache import outside_arena

    tensors = graph.tensors
    outside = outside_arena(graph)  # a decoder's KV cache: held outside the arena
    out: dict[str, str | None] = {}
    for name, t in tensors.items():
        r = name if t.alias_of is None else graph.root(name)
        out[name] = r if tensors[r].is_arena and r not in outside else None
    return out


def live_bytes(lts: Sequence[Lifetime], steps: int) -> list[int]:
    """Bytes live at each step: the sum over tensors whose lifetime covers it."""
    return _per_step(lts, steps, [lt.bytes for lt in lts])


def live_counts(lts: Sequence[Lifetime], steps: int) -> list[int]:
    """How many tensors are live at each step."""
    return _per_step(lts, steps, [1] * len(lts))


def _per_step(lts: Sequence[Lifetime], steps: int, weights: Sequence[int]) -> list[int]:
    """At each step, the sum of `weights` over the lifetimes covering it (a prefix sum)."""
    delta = [0] * (steps + 1)
    for lt, w in zip(lts, weights, strict=True):
        delta[lt.first] += w
        delta[lt.last + 1] -= w
    out, acc = [], 0
    for s in range(steps):
        acc += delta[s]
        out.append(acc)
    return out


def problem(graph: Graph, order: Sequence[int] | None = None, alignment: int = 16) -> Problem:
    """The planning problem for `graph` run in `order`."""
    return Problem(
        tuple(
            Buffer(lt.name, lt.bytes, lt.first, lt.last, graph.tensors[lt.name].index)
            for lt in lifetimes(graph, order, alignment)
        ),
        alignment,
    )

