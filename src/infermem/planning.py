"""Model -> verified plan: the glue between a Graph and the model-agnostic planners.

Chooses the execution order (the file's, or the memory-optimal one), builds
the planning problem the target runtime will see (for `.tflite`, TFLM's view,
scratch buffers included), adds the proven-safe overlaps when asked, and plans.
"""

from __future__ import annotations

from dataclasses import dataclass

from .graph import Graph
from .planners.problem import Plan, Problem


@dataclass(frozen=True)
class PlannedModel:
    graph: Graph
    order: tuple[int, ...]
    problem: Problem
    plan: Plan
    order_proven_optimal: bool | None = None


def build_problem(graph: Graph, order: tuple[int, ...], alignment: int = 16) -> Problem:
    """The problem the target runtime solves: for `.tflite`, TFLM's own (its
    sizing, lifetimes and kernel scratch buffers); otherwise the graph's."""
    if graph.format == "tflite":
        from .tflm.problem import tflm_problem

        return tflm_problem(graph, order, alignment)
    from .lifetimes import problem

    return problem(graph, order, alignment)


def plan_model(
    graph: Graph,
    strategy: str = "best",
    time_limit: float = 10.0,
    alignment: int = 16,
    reorder: bool = False,
    dmo: bool = False,
) -> PlannedModel:
    from .planners import plan

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
