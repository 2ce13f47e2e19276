"""DMO for TFLM: TFLM's own planning problem plus the proven overlaps, planned,
with the scratch buffers placed where TFLM's online planner will put them.

TFLM plans scratch buffers itself, around the offline-planned tensors, so the
layout TFLM realises is the chosen tensor offsets plus its greedy placement of
the scratch buffers (`tflm` strategy, tensors fixed).  The overlaps must stay
in that problem: the fixed tensors now legitimately share bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..frontends.tflite import load_tflite
from ..graph import Graph
from ..planners import Plan, Problem, plan, validate
from ..tflm.problem import TflmProblem, build
from . import with_overlaps


def add_overlaps(
    tp: TflmProblem, graph: Graph | None = None, methods: Sequence[str] = ("analytic",)
) -> TflmProblem:
    """`tp` with the overlaps `methods` prove for its model (operators in file order)."""
    graph = graph or load_tflite(tp.model.path, None)
    return replace(tp, problem=with_overlaps(graph, None, tp.problem, methods))


def place_scratch(tp: TflmProblem, tensor_offsets: dict[str, int]) -> Plan:
    """Tensors fixed at `tensor_offsets`, scratch buffers placed by TFLM's greedy."""
    bufs = tuple(
        replace(b, offset=tensor_offsets[b.name]) if b.name in tp.tensor_buffers else b
        for b in tp.problem.buffers
    )
    return plan(Problem(bufs, tp.problem.alignment, tp.problem.overlaps), "tflm")


@dataclass(frozen=True)
class DmoLayout:
    problem: TflmProblem  # with overlaps
    chosen: Plan  # the planner's answer
    realised: Plan  # what TFLM will lay out (scratch placed by TFLM)
    own: Plan  # TFLM's own plan of the original problem

    @property
    def offsets(self) -> dict[int, int]:
        """Tensor index -> offset, for `write_offline_plan`."""
        tb = self.problem.tensor_buffers
        return {tb[n]: o for n, o in self.realised.offsets.items() if n in tb}


def dmo_layout(
    src: str | Path,
    strategy: str = "best",
    time_limit: float = 10.0,
    methods: Sequence[str] = ("analytic",),
) -> DmoLayout:
    """Plan `src` with DMO as TFLM will realise it; validated (overlaps honoured)."""
    tp = build(src)
    own = plan(tp.problem, "tflm")
    dmo = add_overlaps(tp, None, methods)
    chosen = plan(dmo.problem, strategy, time_limit=time_limit)
    tensors = {n: o for n, o in chosen.offsets.items() if n in dmo.tensor_buffers}
    realised = place_scratch(dmo, tensors)
    validate(dmo.problem, realised.offsets)
    return DmoLayout(dmo, chosen, realised, own)
