"""Everything the HTML report shows, gathered from the library in one place.

The report layer computes nothing: this module only calls the library
(profile, planners, DMO proofs, reordering, fit, TFLM measurement) and keeps
the results together with how long each took, so that `html.render` is a
pure function of a `ReportData`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import BadInput, Failure
from ..fit import FitReport
from ..graph import Graph
from ..planners.problem import Plan
from ..planning import PlannedModel
from ..profile import Profile

# The strategies every report compares: all registered ones that run in
# milliseconds (exact and the tflm-dmo variant are left to `infermem plan`).
FAST_STRATEGIES = ("linear", "tflm", "best-fit", "breadth", "conflicts", "hill-climb", "best")
# A spread of real targets from 32 KiB to 1 MiB of SRAM (names in devices.toml).
DEFAULT_DEVICES = ("Arduino UNO R4 Minima", "STM32F401RE", "STM32F446RE",
                   "Arduino Nano 33 BLE Sense", "Raspberry Pi Pico", "ESP32-DevKitC",
                   "STM32H743ZI")

T = TypeVar("T")


@dataclass(frozen=True)
class ReportData:
    path: str
    graph: Graph
    strategy: str
    time_limit: float
    alignment: int
    profile: Profile  # the file's operator order
    reorder_profile: Profile | None  # the memory-optimal order, when it differs
    plans: tuple[Plan, ...]  # FAST_STRATEGIES (+ strategy) on the file order
    runtime: PlannedModel  # TFLM's greedy planner, file order
    best: PlannedModel  # `strategy`, file order
    dmo: PlannedModel  # `strategy` + proven overlaps, file order
    reorder_dmo: PlannedModel  # `strategy` + memory-optimal order + overlaps
    dmo_rows: tuple[dict, ...]  # overlap.explain on `dmo`
    tflm: object | None  # tflm.TflmArena when measured
    tflm_note: str  # how TFLM was measured, or why it was not
    fit: FitReport
    seconds: Mapping[str, float]  # section -> seconds it took to gather

    @property
    def runtime_bytes(self) -> int:
        """The runtime's arena: TFLM's measured head if we have it, else its planner."""
        return self.tflm.head_bytes if self.tflm is not None else self.runtime.plan.arena_bytes

    @property
    def infermem_bytes(self) -> int:
        return min(self.best.plan.arena_bytes, self.dmo.plan.arena_bytes,
                   self.reorder_dmo.plan.arena_bytes)

    @property
    def saving(self) -> float:
        """Fraction of the runtime's arena infermem's smallest plan saves."""
        r = self.runtime_bytes
        return 1 - self.infermem_bytes / r if r else 0.0


def _timed(seconds: dict[str, float], key: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0


def _measure(graph: Graph, tflm: bool) -> tuple[object | None, str]:
    if graph.format != "tflite":
        return None, "ONNX model: no TFLite Micro run (TFLM's planner stands in as the runtime)"
    if not tflm:
        return None, "not measured (--no-tflm): TFLM's planner, re-implemented, stands in"
    from ..fit import unrunnable_in_tflm
    from ..tflm import measure

    if unrunnable_in_tflm(graph):
        return None, unrunnable_in_tflm(graph)
    try:
        m = measure(graph.source, bisect=False)
    except Failure as e:
        return None, f"TFLM measurement failed: {e}"
    return m, ("one run in TFLite Micro's own interpreter on seeded random input, arena "
               "as its allocator reported it")


def _devices(names: Sequence[str]):
    from ..devices import load_catalog, select

    catalog = load_catalog()
    if names:
        return select(catalog, names)
    known = {d.name for d in catalog}
    return select(catalog, [n for n in DEFAULT_DEVICES if n in known])


def gather(
    path: str | Path,
    strategy: str = "best",
    time_limit: float = 5.0,
    alignment: int = 16,
    tflm: bool = True,
    devices: Sequence[str] = (),
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    fuse: str | None = None,
) -> ReportData:
    """Run everything the report shows on the model at `path` (the fit table
    with the `fuse` level when `fuse` names a runtime)."""
    from ..fit import fit, model_needs
    from ..frontends import load
    from ..overlap import explain
    from ..planners import STRATEGIES, plan
    from ..planning import build_problem, plan_model
    from ..profile import profile

    if strategy not in STRATEGIES:
        raise BadInput(f"unknown planner strategy {strategy!r}; known: "
                       f"{', '.join(sorted(STRATEGIES))}")
    if not time_limit > 0:
        raise BadInput(f"--time-limit must be positive, got {time_limit!r}")
    if alignment <= 0 or alignment & (alignment - 1):
        raise BadInput(f"--align must be a positive power of two, got {alignment}")
    targets = _devices(devices)
    s: dict[str, float] = {}
    graph = _timed(s, "load", lambda: load(path, dict(input_shapes or {})))
    prof = _timed(s, "profile", lambda: profile(graph, alignment=alignment))
    problem = build_problem(graph, graph.file_order, alignment)
    names = tuple(dict.fromkeys((*FAST_STRATEGIES, strategy)))
    plans = _timed(s, "planners", lambda: tuple(
        plan(problem, n, time_limit=time_limit) for n in names))
    by = {p.strategy: p for p in plans}

    def planned(p: Plan) -> PlannedModel:
        return PlannedModel(graph, graph.file_order, problem, p)

    dmo = _timed(s, "dmo", lambda: plan_model(graph, strategy, time_limit, alignment, dmo=True))
    rows = _timed(s, "dmo", lambda: tuple(explain(graph, dmo.order, dmo.problem, dmo.plan)))
    rdmo = _timed(s, "reorder", lambda: plan_model(graph, strategy, time_limit, alignment,
                                                   reorder=True, dmo=True))
    rprof = None
    if rdmo.order != graph.file_order:
        rprof = profile(graph, rdmo.order, alignment)
    measured, note = _timed(s, "tflm", lambda: _measure(graph, tflm))
    needs = _timed(s, "fit", lambda: model_needs(graph, None, alignment, time_limit,
                                                 measure=tflm, fuse=fuse))
    return ReportData(
        path=str(path), graph=graph, strategy=strategy, time_limit=time_limit,
        alignment=alignment, profile=prof, reorder_profile=rprof, plans=plans,
        runtime=planned(by["tflm"]), best=planned(by[strategy]), dmo=dmo, reorder_dmo=rdmo,
        dmo_rows=rows, tflm=measured, tflm_note=note, fit=fit(needs, targets), seconds=s,
    )
