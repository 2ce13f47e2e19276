"""Static figures, computed from the model file: load, profile, plan, fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..graph import Graph

Model = str | Path | Graph
Shapes = Mapping[str, Sequence[int]] | None


def check_alignment(alignment: int, minimum: int = 1) -> None:
    """A power of two of at least `minimum` (TFLM aligns at 16 bytes)."""
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise BadInput(f"--align must be a positive power of two, got {alignment}")
    if alignment < minimum:
        raise BadInput(f"--align {alignment}: TFLM aligns arena buffers at {minimum} bytes; "
                       f"give {minimum} or a larger power of two")


def shape_fields(meta: Mapping) -> dict:
    """The JSON fields that say how dynamic input dimensions were resolved."""
    return {"shape_notes": list(meta.get("shape_notes", ())),
            "dynamic_dims_resolved": list(meta.get("dynamic_dims_resolved", ()))}


def load(model: Model, input_shapes: Shapes = None) -> Graph:
    """The model as infermem's graph IR (a Graph is returned as it is).  The
    format is read from the file's bytes; `input_shapes` fixes dynamic dims."""
    if isinstance(model, Graph):
        return model
    from ..frontends import load as load_file

    return load_file(model, {k: tuple(v) for k, v in (input_shapes or {}).items()})


def whatif(weights_dtype: str | None = None, activations_dtype: str | None = None,
           prune: float | str | None = None):
    """A what-if from user values: dtypes 'int8' | 'fp16' | 'fp32', prune as a
    fraction (0.5) or a percentage ('50%')."""
    from ..whatif import WhatIf, parse_dtype, parse_fraction

    try:
        return WhatIf(
            weights=parse_dtype(weights_dtype) if weights_dtype else None,
            activations=parse_dtype(activations_dtype) if activations_dtype else None,
            prune=parse_fraction(str(prune)) if prune is not None else None,
        )
    except BadInput as e:
        raise BadInput(f"what-if: {e}") from None


def _graph(model: Model, input_shapes: Shapes, alignment: int) -> Graph:
    check_alignment(alignment)
    return load(model, input_shapes)


def _stored_plan(graph: Graph):
    """The `.tflite` file's own offline plan (`tflm.stored.StoredPlan`), or None.
    The TFLM package (and tflite_micro) is imported only for a `.tflite`: it
    costs an ONNX profile about half a second of start-up."""
    if graph.format != "tflite":
        return None
    from ..tflm.stored import stored_plan_of

    return stored_plan_of(graph)


@dataclass(frozen=True)
class ProfileResult:
    """The static memory profile (`infermem profile`)."""

    graph: Graph
    profile: object  # profile.Profile: per-operator live bytes, peak, weights, naive
    whatif: object | None  # whatif.WhatIf when one was applied
    sparsity: tuple | None  # whatif.TensorSparsity per weight tensor, when asked
    stored_offline_plan: object | None  # tflm.stored.StoredPlan of a .tflite that has one
    fusion: object | None = None  # fusion.Fusion, with fuse

    def to_json(self) -> dict:
        from ..profile import to_json

        doc = {**to_json(self.graph, self.profile), **shape_fields(self.graph.meta)}
        w = self.whatif
        if w is not None and w.active:
            doc["whatif"] = {"weights_dtype": w.weights, "activations_dtype": w.activations,
                             "prune": w.prune, "note": w.describe()}
        if self.sparsity is not None:
            from ..report.sparsity_table import sparsity_json  # with rich: only when asked

            doc["sparsity"] = sparsity_json(self.sparsity)
        s = self.stored_offline_plan
        doc["stored_offline_plan"] = s.to_json() if s else None
        doc["fusion"] = self.fusion.to_json() if self.fusion is not None else None
        return doc


def profile(model: Model, *, input_shapes: Shapes = None, alignment: int = 16,
            weights_dtype: str | None = None, activations_dtype: str | None = None,
            prune: float | str | None = None, sparsity: bool = False,
            fuse: str | None = None) -> ProfileResult:
    """Live arena per operator (file order), peak, weights, naive arena, MACs.
    `weights_dtype`/`activations_dtype` ('int8', 'fp16', 'fp32') and `prune`
    (a fraction) are what-ifs: sizes recomputed, the file untouched.  With
    `fuse` ('tvm' or 'ort') the graph is profiled as that runtime fuses it:
    one row per fused group, its intermediates replaced by one chunk of
    scratch."""
    from ..profile import profile as profile_of
    from ..whatif import apply
    from ..whatif import sparsity as sparsity_of

    what = whatif(weights_dtype, activations_dtype, prune)
    graph = apply(_graph(model, input_shapes, alignment), what)
    fusion = None
    if fuse:
        from ..fusion import find, fused_graph

        fusion = find(graph, fuse, alignment)
        graph = fused_graph(graph, fusion)
    rows = sparsity_of(graph) if sparsity or what.prune is not None else None
    return ProfileResult(graph, profile_of(graph, alignment=alignment),
                         what if what.active else None, rows, _stored_plan(graph), fusion)


@dataclass(frozen=True)
class PlanResult:
    """A validated arena plan (`infermem plan`)."""

    planned: object  # planning.PlannedModel: graph, order, problem, plan
    stored_offline_plan: object | None  # the file's own offline plan, if any
    order_change: object | None  # planning.OrderChange, with reorder
    dmo_rows: tuple[dict, ...] | None  # overlap.explain, with explain
    fusion: object | None = None  # fusion.Fusion, with fuse

    @property
    def arena_bytes(self) -> int:
        return self.planned.plan.arena_bytes

    def to_json(self) -> dict:
        from ..report.plan_export import plan_to_json

        pm = self.planned
        doc = plan_to_json(pm.graph.name, pm.problem, pm.plan, pm.order)
        doc["stored_offline_plan"] = (self.stored_offline_plan.to_json()
                                      if self.stored_offline_plan else None)
        doc["order_change"] = self.order_change.to_json() if self.order_change else None
        if self.dmo_rows is not None:
            doc["dmo"] = list(self.dmo_rows)
        doc["fusion"] = self.fusion.to_json() if self.fusion is not None else None
        kv = self.kv_cache
        doc["kv_cache"] = kv.to_json() if kv else None
        return {**doc, **shape_fields(pm.graph.meta)}

    @property
    def kv_cache(self):
        """The decoder's KV cache (kvcache.KVCache), held outside this arena; None if none."""
        from ..kvcache import kv_cache

        return kv_cache(self.planned.graph)

    def to_header(self) -> str:
        """A C header: INFERMEM_ARENA_BYTES and one offset per tensor."""
        from ..report.plan_export import plan_to_header

        pm = self.planned
        return plan_to_header(pm.graph.name, pm.problem, pm.plan)

    def plot(self, path: str | Path) -> None:
        """Draw the layout (step against address) to a .png, .svg or .pdf."""
        from ..report.layout_plot import plot_layout

        pm = self.planned
        plot_layout(pm.problem, pm.plan, path, title=f"{pm.graph.name}: {pm.plan.strategy}")


def plan(model: Model, *, strategy: str = "best", time_limit: float = 10.0,
         alignment: int = 16, reorder: bool = False, dmo: bool = False, explain: bool = False,
         input_shapes: Shapes = None, fuse: str | None = None) -> PlanResult:
    """Plan the arena with `strategy` (validated before it is returned); with
    `reorder` on the memory-optimal operator order, with `dmo` letting outputs
    overlap inputs where proven safe, with `fuse` ('tvm' or 'ort') on the graph
    as that runtime fuses it; `explain` (with `dmo`) lists per operator the
    overlap proven and used."""
    from ..planning import order_change, plan_model

    if explain and not dmo:
        raise BadInput("--explain lists the DMO overlaps: give --dmo too")
    graph = _graph(model, input_shapes, alignment)
    fusion = None
    if fuse:
        from ..fusion import find, fused_graph

        fusion = find(graph, fuse, alignment)
        graph = fused_graph(graph, fusion)
    pm = plan_model(graph, strategy, time_limit, alignment, reorder, dmo)
    rows = None
    if explain:
        from ..overlap import explain as explain_overlaps

        rows = tuple(explain_overlaps(graph, pm.order, pm.problem, pm.plan))
    return PlanResult(pm, _stored_plan(graph), order_change(pm, alignment) if reorder else None,
                      rows, fusion)


@dataclass(frozen=True)
class FitResult:
    """RAM and flash per optimisation level, against devices (`infermem fit`)."""

    graph: Graph
    report: object  # fit.FitReport: needs (levels) and one DeviceFit per device

    def to_json(self) -> dict:
        from ..fit import to_json

        return {**to_json(self.report), **shape_fields(self.graph.meta)}


def devices(files: Sequence[str | Path] = ()) -> tuple:
    """The device catalog (bundled, plus your TOML `files`)."""
    from ..devices import load_catalog

    return tuple(load_catalog(list(files)))


def _targets(names: Sequence[str], files: Sequence[str | Path], kind: str | None,
             budget: str | None) -> list:
    from ..devices import Device, select
    from ..sizes import parse_size

    chosen = [d for d in select(list(devices(files)), list(names)) if not kind or d.kind == kind]
    if budget:
        n = parse_size(budget, "--budget")
        chosen.append(Device(f"budget {budget}", "board", "", n, None, "--budget"))
    if not chosen:
        raise BadInput(f"no device of kind {kind!r} among those selected")
    return chosen


def fit(model: Model, *, devices: Sequence[str] = (), device_files: Sequence[str | Path] = (),
        kind: str | None = None, budget: str | None = None, time_limit: float = 5.0,
        alignment: int = 16, measure: bool = True, input_shapes: Shapes = None,
        weights_dtype: str | None = None, activations_dtype: str | None = None,
        prune: float | str | None = None, patch: str | None = None,
        patch_until: int | None = None, max_mac_overhead: float = 25.0,
        fuse: str | None = None) -> FitResult:
    """Does it fit?  The RAM and flash needed at each level (runtime, infermem,
    reorder, DMO, int8) checked against `devices` (names or aliases; default
    every bundled device), of `kind` ('mcu', 'board', 'sbc'), plus a `budget`
    ('256KiB') as one more target.  `measure` runs TFLM for a `.tflite`.
    `patch` ('auto' or 'RxC') adds the patch level: the patched rewrite of a
    `.tflite` (stage end `patch_until`, at most `max_mac_overhead` % more MACs).
    `fuse` ('tvm' or 'ort') adds the fuse level: the ONNX graph as that runtime
    fuses it."""
    from ..fit import fit as fit_devices
    from ..fit import model_needs
    from .patching import check_patch, patch_spec

    check_patch(patch, patch_until, max_mac_overhead)
    what = whatif(weights_dtype, activations_dtype, prune)
    targets = _targets(devices, device_files, kind, budget)
    graph = _graph(model, input_shapes, alignment)
    needs = model_needs(graph, what, alignment, time_limit, measure=measure,
                        patch=patch_spec(patch, patch_until, max_mac_overhead), fuse=fuse)
    return FitResult(graph, fit_devices(needs, targets))


@dataclass(frozen=True)
class MaxBatchResult:
    """The largest batch whose best plan (arena + weights) fits a budget."""

    result: object  # batch.MaxBatch

    def to_json(self) -> dict:
        from ..report.fit_table import max_batch_json

        return max_batch_json(self.result)


def max_batch(model: str | Path, budget: str | int, *, time_limit: float = 5.0,
              alignment: int = 16, input_shapes: Shapes = None) -> MaxBatchResult:
    """Re-plan at growing batch sizes; `budget` in bytes or as '512MB'."""
    from ..batch import max_batch as search
    from ..sizes import parse_size

    check_alignment(alignment)
    n = budget if isinstance(budget, int) else parse_size(budget, "--budget")
    return MaxBatchResult(search(model, n, time_limit=time_limit, alignment=alignment,
                                 given={k: tuple(v) for k, v in (input_shapes or {}).items()}))
