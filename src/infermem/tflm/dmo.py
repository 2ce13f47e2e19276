"""DMO for TFLM: TFLM's own planning problem plus the proven overlaps.

The overlaps are proven in `overlap/` (rules derived from TFLM's reference
kernels, no TFLM run); this module joins them to TFLM's problem, so the
dependency runs one way: `tflm` imports `overlap`, never the reverse.

TFLM plans scratch buffers itself, around the offline-planned tensors; the
pipeline that replays that (`tflm.optimize.plan_offsets`) keeps the overlaps
in its problem, since the fixed tensors now legitimately share bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..frontends.tflite import load_tflite
from ..graph import Graph
from ..overlap import with_overlaps
from ..planners import Plan
from .problem import TflmProblem


def add_overlaps(
    tp: TflmProblem, graph: Graph | None = None, methods: Sequence[str] = ("analytic",)
) -> TflmProblem:
    """`tp` with the overlaps `methods` prove for its model (operators in file order)."""
    graph = graph or load_tflite(tp.model.path, None)
    return replace(tp, problem=with_overlaps(graph, None, tp.problem, methods))


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


def dmo_layout(src: str | Path, strategy: str = "best", time_limit: float = 10.0) -> DmoLayout:
    """Plan `src` with DMO as TFLM will realise it (`tflm.optimize.plan_offsets`
    with `dmo`: validated, overlaps honoured, never worse than TFLM's own plan)."""
    from .optimize import plan_offsets

    return DmoLayout(*plan_offsets(src, strategy, False, time_limit, dmo=True))
