"""The `patch` level of `infermem fit` (and `sweep`): the arena of the patched
rewrite `optimize --patch` would write (.tflite or .onnx), planned as the
`dmo` level plans.

The rewrite is chosen by `choose`, the candidates ranked by the level's own
plan (infermem's best plan, DMO where it is available), and planned in memory;
with `measure`, the rewritten model also runs once in TFLM under TFLM's own
planner, and that head is stated beside the planned figure.  A model the
rewrite cannot help keeps the level before it, with the reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, Failure
from ..graph import Graph


@dataclass(frozen=True)
class PatchSpec:
    """What to try: `grid` 'auto' or 'RxC', stage end `until`, MAC budget (a fraction)."""

    grid: str = "auto"
    until: int | None = None
    max_mac_overhead: float = 0.25


@dataclass(frozen=True)
class PatchLevel:
    arena_bytes: int | None  # None: the level is n/a (`how` says why)
    extra_flash: int  # the rewrite's added operators and index constants
    graph: Graph | None  # the patched graph, None when nothing was patched
    how: str


def patch_level(graph: Graph, spec: PatchSpec, plan_graph, measure: bool,
                prev: int) -> PatchLevel:
    """`plan_graph(g, time_limit=...)` plans a loaded graph as the level before
    does (candidates are ranked with `RANK_TIME_LIMIT`); `prev` is that level's
    arena."""
    why = _unpatchable(graph)
    if why:
        return PatchLevel(None, 0, None, why)
    from . import parse_grid
    from .choose import RANK_TIME_LIMIT, Ranker, choose, open_source

    grids = None if spec.grid == "auto" else [parse_grid(spec.grid)]
    try:
        source = open_source(graph.source, _input_shapes(graph))
        rank = Ranker(lambda data: plan_graph(source.load(data, f"{graph.source} (candidate)"),
                                              time_limit=RANK_TIME_LIMIT),
                      "infermem's best plan (+ DMO)")
        choice = choose(source, grids, spec.until, spec.max_mac_overhead, rank=rank)
    except BadInput as e:
        return PatchLevel(None, 0, None, f"not patched: {e}")
    r = choice.result
    if r is None:
        return PatchLevel(prev, 0, None, f"graph left as it is: {choice.reason}")
    pg = source.load(r.data, f"{graph.source} (patched)")
    arena = plan_graph(pg)
    how = f"{r.describe()}; planned {arena:,} B"
    if measure and graph.format == "tflite":
        how += "; " + _measured(r.data, source.arena(r.data, "tflm"))
    if arena >= prev:
        return PatchLevel(prev, 0, None, f"{how}, no smaller than the level before: graph "
                          "left as it is")
    return PatchLevel(arena, r.flash_after - r.flash_before, pg, how)


def _unpatchable(graph: Graph) -> str | None:
    if not graph.source or not Path(graph.source).is_file():
        return "patch-based inference rewrites a model file as stored"
    if graph.format == "tflite" and graph.meta.get("batch", 1) != 1:
        return "not patched: the rewrite keeps the file's stored shapes (batch 1)"
    return None


def _input_shapes(graph: Graph) -> dict[str, tuple[int, ...]] | None:
    """An ONNX graph's input shapes (what --input-shape fixed), for the rewrite."""
    if graph.format != "onnx":
        return None
    return {n: graph.tensors[n].shape for n in graph.inputs}


def _measured(data: bytes, tflm_planned: int | None) -> str:
    """The patched model's head in TFLM (its own planner), from a temporary copy."""
    from ..tflm import measure

    with tempfile.TemporaryDirectory(prefix="infermem-patch-") as tmp:
        path = Path(tmp) / "patched.tflite"
        path.write_bytes(data)
        try:
            head = measure(path, bisect=False).head_bytes
        except Failure as e:
            return f"TFLM measurement failed: {e}"
    return (f"measured in TFLM under its own planner: head {head:,} B (TFLM's planner "
            f"re-implemented: {tflm_planned:,} B)")
