"""Post-dominators: the diamonds a fusion must take whole.

The immediate post-dominator of an operator is the nearest operator every
path from it to the graph's end goes through; the operators between the two
are the diamond (LayerNorm's mean and variance branches, GELU's two uses of
x).  Both rule sets (`tvm`, `ort`) grow groups along post-dominators, and a
group grown that way has one output: every intermediate is read only inside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..graph import Graph

Fits = Callable[[Iterable[int]], bool]  # may this set of operators be one group?


def post_dominators(graph: Graph) -> list[int | None]:
    """Per operator, its immediate post-dominator (None: the graph's end)."""
    n = len(graph.operators)
    end = n
    ipdom, depth = [end] * (n + 1), [0] * (n + 1)
    outs = set(graph.outputs)

    def meet(a: int, b: int) -> int:
        while a != b:
            if depth[a] >= depth[b]:
                a = ipdom[a]
            else:
                b = ipdom[b]
        return a

    for u in reversed(graph.file_order):
        succ = graph.successors(u)
        if not succ or any(t in outs for t in graph.operators[u].outputs):
            ipdom[u] = end
        else:
            d = succ[0]
            for s in succ[1:]:
                d = meet(d, s)
            ipdom[u] = d
        depth[u] = depth[ipdom[u]] + 1
    return [None if d == end else d for d in ipdom[:n]]


def between(graph: Graph, u: int, d: int) -> set[int]:
    """The operators on every path from `u` to its post-dominator `d` (d
    included, u not)."""
    seen, todo = {d}, [s for s in graph.successors(u)]
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        todo.extend(graph.successors(v))
    return seen
