"""From a graph and an execution order to tensor lifetimes and a planning Problem.

A tensor's lifetime runs from the step that writes it to the last step that
reads it (or reads one of its aliases).  Graph inputs live from step 0, graph
outputs until the last step.  Views (aliases) own no bytes: their uses extend
the lifetime of the tensor they view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .graph import Graph, check_order
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
    """Lifetimes of every arena tensor (not weights, not aliases) for `order`."""
    order = graph.file_order if order is None else tuple(order)
    check_order(graph, order)
    last_step = max(len(order) - 1, 0)
    first: dict[str, int] = {}
    last: dict[str, int] = {}

    def touch(name: str, step: int) -> None:
        root = graph.root(name)
        if not graph.tensors[root].is_arena:
            return
        first[root] = min(first.get(root, step), step)
        last[root] = max(last.get(root, step), step)

    for name in graph.inputs:
        touch(name, 0)
    for step, i in enumerate(order):
        op = graph.operators[i]
        for t in (*op.inputs, *op.outputs):
            if t:
                touch(t, step)
    for name in graph.outputs:
        touch(name, last_step)
    return [
        Lifetime(n, align_up(graph.tensors[n].nbytes, alignment), first[n], last[n])
        for n in graph.tensors
        if n in first
    ]


def live_bytes(lts: Sequence[Lifetime], steps: int) -> list[int]:
    """Bytes live at each step: the sum over tensors whose lifetime covers it."""
    delta = [0] * (steps + 1)
    for lt in lts:
        delta[lt.first] += lt.bytes
        delta[lt.last + 1] -= lt.bytes
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

