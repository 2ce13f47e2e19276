"""TVM's FuseOps (Relax default pipeline), phase 0, on post-dominators.

Each operator, producers first, may join its immediate post-dominator with
every operator on the way, by pattern kind (`kinds`): an ANCHOR (MatMul,
Softmax, LayerNorm, ReduceMean...) when every operator on the way is
element-wise; an element-wise operator when the way holds only element-wise
(or injective) operators and ends in anything but an opaque one (a following
pure reduction included); REDUCE and OPAQUE never.  Injective fusion (TVM's
phase 1) is not modelled: the arena executor runs those operators unfused.
Every fusion is checked with `fits` (`chunk.layout`): a group the executor
cannot run is not formed.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..graph import Graph
from .dominators import Fits, between, post_dominators
from .kinds import Kind, pattern


class _Union:
    """Groups as a union-find over operators, each root with its pattern kind."""

    def __init__(self, graph: Graph) -> None:
        self.parent = list(range(len(graph.operators)))
        self.kind = [pattern(op) for op in graph.operators]
        self.members = {i: {i} for i in self.parent}

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return self.parent[i]

    def group(self, i: int) -> set[int]:
        return self.members[self.root(i)]

    def merge(self, ops: Iterable[int], into: int) -> None:
        r = self.root(into)
        for i in ops:
            q = self.root(i)
            if q != r:
                self.parent[q] = r
                self.members[r] |= self.members.pop(q)
                self.kind[r] = max(self.kind[r], self.kind[q])

    def groups(self) -> list[tuple[int, ...]]:
        return sorted(tuple(sorted(m)) for m in self.members.values() if len(m) > 1)


def tvm_groups(graph: Graph, fits: Fits) -> list[tuple[int, ...]]:
    """TVM's FuseOps (phase 0: anchors and element-wise operators)."""
    ipdom = post_dominators(graph)
    u_ = _Union(graph)
    op_kind = [pattern(op) for op in graph.operators]
    for u in graph.file_order:
        d = ipdom[u]
        if d is None or u_.root(u) == u_.root(d):
            continue
        kind = u_.kind[u_.root(u)]
        path = between(graph, u, d)
        inner = [p for p in path if p != d]
        if kind == Kind.ANCHOR:
            ok = all(u_.kind[u_.root(p)] <= Kind.ELEMWISE for p in path)
        elif kind == Kind.ELEMWISE:
            dom = max(op_kind[p] for p in path)
            ok = ((dom <= Kind.INJECTIVE or dom == Kind.REDUCE)
                  and all(u_.kind[u_.root(p)] <= Kind.INJECTIVE for p in inner)
                  and u_.kind[u_.root(d)] != Kind.OPAQUE)
        else:
            ok = False  # REDUCE and OPAQUE take nothing; INJECTIVE: see kinds.py
        if not ok:
            continue
        group = set(u_.group(u)) | u_.group(d)
        for p in inner:
            group |= u_.group(p)
        if fits(group):
            u_.merge(group, d)
    return u_.groups()
