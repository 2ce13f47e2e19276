"""Model -> verified plan: the glue between a Graph and the model-agnostic planners.

Chooses the execution order (the file's, or the memory-optimal one), builds
the planning problem the target runtime will see (for `.tflite`, TFLM's view,
scratch buffers included), adds the proven-safe overlaps when asked, and plans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .graph import Graph
from .planners.problem import Plan, Problem, align_up


@dataclass(frozen=True)
class PlannedModel:
    graph: Graph
    order: tuple[int, ...]
    problem: Problem
    plan: Plan
    order_proven_optimal: bool | None = None


def build_problem(graph: Graph, order: tuple[int, ...], alignment: int = 16) -> Problem:
    """The problem the target runtime solves: for `.tflite`, TFLM's own (its
    sizing, lifetimes and kernel scratch buffers; for a what-if graph, its
    tensors resized); otherwise the graph's."""
    if graph.format == "tflite":
        from .tflm.problem import tflm_problem

        problem = tflm_problem(graph, order, alignment)
        rebatched = graph.meta.get("batch", 1) != 1  # the file stores batch 1
        return resized(problem, graph) if "whatif" in graph.meta or rebatched else problem
    from .lifetimes import problem

    return problem(graph, order, alignment)


def naive_bytes(problem: Problem) -> int:
    """The naive arena: every buffer of the problem in its own bytes (no reuse),
    which is what the `linear` strategy lays out.  The one definition that
    `profile`, the planners table and the report share."""
    return sum(b.size for b in problem.buffers)


def resized(problem: Problem, graph: Graph) -> Problem:
    """`problem` with each tensor buffer sized as in `graph` (a what-if graph
    over the same file); scratch buffers keep the size the file's kernels ask."""
    by_index = {t.index: t for t in graph.tensors.values() if t.index is not None}
    out = []
    for b in problem.buffers:
        t = by_index.get(b.index) if b.index is not None else None
        t = t if t is not None else graph.tensors.get(b.name)
        size = b.size if t is None else align_up(t.nbytes, problem.alignment)
        out.append(b if size == b.size else replace(b, size=size))
    return replace(problem, buffers=tuple(out))


def plan_model(
    graph: Graph,
    strategy: str = "best",
    time_limit: float = 10.0,
    alignment: int = 16,
    reorder: bool = False,
    dmo: bool = False,
    fuse: str | None = None,
) -> PlannedModel:
    """Plan `graph`; with `fuse` (a runtime of `fusion.RUNTIMES`) the graph is
    first fused as that runtime fuses it, and the PlannedModel's graph is the
    fused one (its FusedGroup operators are what the executor runs)."""
    from .planners import plan

    if fuse:
        from .fusion import fuse as fuse_graph

        graph = fuse_graph(graph, fuse, alignment)
    order, proven = graph.file_order, None
    if reorder:
        from .schedule import best_order

        sched = best_order(graph, alignment=alignment, time_limit=time_limit)
        order, proven = tuple(sched.order), sched.proven_optimal
    prob = build_problem(graph, order, alignment)
    if dmo:
        from .overlap import with_overlaps

        prob = with_overlaps(graph, order, prob)
    return PlannedModel(graph, order, prob, plan(prob, strategy, time_limit=time_limit), proven)


@dataclass(frozen=True)
class OrderChange:
    """What `--reorder` did: whether the memory-optimal order differs from the
    file's, and the live-set peak (no overlaps) of each."""

    changed: bool
    file_peak_bytes: int
    peak_bytes: int
    proven: bool | None  # the order search proved its order optimal

    def describe(self) -> str:
        how = {True: "proven optimal", False: "best found, not proven", None: ""}[self.proven]
        if not self.changed:
            return f"operator order: the file's order is already memory-optimal ({how}); kept"
        return (f"operator order: changed; live-set peak {self.file_peak_bytes:,} B in the "
                f"file's order -> {self.peak_bytes:,} B ({how})")

    def to_json(self) -> dict:
        return {"changed": self.changed, "file_peak_bytes": self.file_peak_bytes,
                "peak_bytes": self.peak_bytes, "proven": self.proven}


def order_change(pm: PlannedModel, alignment: int = 16) -> OrderChange:
    """Compare `pm`'s order with its graph's file order."""
    from .planners import lower_bound

    def peak(order: tuple[int, ...]) -> int:
        return lower_bound(build_problem(pm.graph, order, alignment))

    file_order = tuple(pm.graph.file_order)
    changed = tuple(pm.order) != file_order
    return OrderChange(changed, peak(file_order), peak(tuple(pm.order)) if changed else
                       peak(file_order), pm.order_proven_optimal)
