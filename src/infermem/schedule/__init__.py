"""Execution orders: the file's own, and the one with the lowest live-set peak.

On graphs with branches the order of independent operators decides which
tensors are live together.  `best_order` runs a beam search for a good order
at once, then the exact search (`search`) to improve on it or prove it
optimal within a time budget; past the budget it returns the best order found
and says it is not proven.  The peak it reports is the peak `lifetimes`
computes for the returned order (same alignment, same lifetime rules), and it
is never above the file's own order.  `write_order_onnx` / `write_order_tflite`
write an order back into a copy of the model file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import BadInput, Failure
from ..graph import Graph, check_order
from ..lifetimes import lifetimes, live_bytes
from . import heuristic, search
from .model import PeakModel, build, order_peak
from .units import plan_units
from .writeback import write_order_onnx, write_order_tflite

STEPS_PER_SECOND = 200_000  # beam state expansions per second of time_limit (counted)

__all__ = [
    "Schedule",
    "best_order",
    "branch_points",
    "live_peak",
    "write_order_onnx",
    "write_order_tflite",
]


@dataclass(frozen=True)
class Schedule:
    """An operator order (operator indices, first to run first) and its peak.

    `method`: "exact" when the exact search found or confirmed it, "beam" when
    it is the beam search's order, "file" when nothing beat the file's order.
    `proven_optimal`: no order has a lower live-set peak.  `lower_bound_bytes`:
    a peak no order can go under (equal to `peak_bytes` when proven)."""

    order: tuple[int, ...]
    peak_bytes: int
    file_order_peak_bytes: int
    proven_optimal: bool
    seconds: float
    method: str
    lower_bound_bytes: int = 0
    states: int = 0

    @property
    def saving_bytes(self) -> int:
        return self.file_order_peak_bytes - self.peak_bytes

    @property
    def saving_percent(self) -> float:
        fp = self.file_order_peak_bytes
        return 100.0 * self.saving_bytes / fp if fp else 0.0


def live_peak(graph: Graph, order: Sequence[int], alignment: int = 16) -> int:
    """Live-set peak of `order` as `lifetimes` defines it (the reference the
    search is checked against); 0 for a graph without operators."""
    if not order:
        return 0
    return max(live_bytes(lifetimes(graph, order, alignment), len(order)))


def branch_points(graph: Graph) -> int:
    """Operators where the graph forks or joins (more than one successor or
    more than one predecessor): what makes the number of orders grow."""
    return sum(
        len(graph.successors(i)) > 1 or len(graph.predecessors(i)) > 1
        for i in range(len(graph.operators))
    )


def best_order(
    graph: Graph,
    alignment: int = 16,
    time_limit: float = 10.0,
    beam_width: int = 32,
    max_states: int = 1_000_000,
) -> Schedule:
    """The operator order with the lowest live-set peak, proven optimal when
    the exact search finishes within `time_limit` seconds' worth of counted
    work (search.CALLS_PER_SECOND calls each; the beam gets half as many
    seconds of STEPS_PER_SECOND expansions) and `max_states` memoised states.
    No clock is read: the same graph gives the same order on any machine."""
    if time_limit < 0 or beam_width < 1 or alignment < 1:
        raise BadInput("time_limit must be >= 0, beam_width and alignment >= 1")
    start = time.perf_counter()
    m = build(graph, alignment)
    u = plan_units(m)
    file_order = graph.file_order
    candidates = {"file": file_order}
    candidates["beam"] = heuristic.beam(m, u, beam_width, time_limit / 2 * STEPS_PER_SECOND)
    peaks = {k: order_peak(m, o) for k, o in candidates.items()}
    method = min(peaks, key=lambda k: (peaks[k], k != "file"))
    floor = _lower_bound(m)
    res = search.exact(m, u, ceil=peaks[method], floor=floor, time_limit=time_limit,
                       max_states=max_states)
    if res.order is not None and res.peak < peaks[method]:
        candidates["exact"], peaks["exact"], method = res.order, res.peak, "exact"
    order = candidates[method]
    return _checked(graph, m, order, peaks[method], peaks["file"], res, method, alignment,
                    time.perf_counter() - start)


def _lower_bound(m: PeakModel) -> int:
    return max((*m.intrinsic, m.start_live + m.first_only), default=0)


def _checked(graph: Graph, m: PeakModel, order: tuple[int, ...], peak: int, file_peak: int,
             res: search.Result, method: str, alignment: int, seconds: float) -> Schedule:
    """Recompute the peak with `lifetimes`: the search's bit arithmetic and the
    planners' lifetimes must agree, or the reported figure would be a lie."""
    check_order(graph, order)
    ref = live_peak(graph, order, alignment)
    if ref != peak:
        raise Failure(f"schedule: search peak {peak} != lifetimes peak {ref} (internal error)")
    bound = peak if res.proven else min(res.lower_bound, peak)
    return Schedule(tuple(order), int(peak), int(file_peak), res.proven, seconds, method,
                    int(bound), res.states)
