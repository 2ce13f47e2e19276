"""Figures measured by running the model: verify (ONNX, in infermem's arena
executor), optimize and measure (TFLite Micro), quantize (onnxruntime).
`monitor` is in `monitoring`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .model import Model, Shapes, _graph, check_alignment, shape_fields


@dataclass(frozen=True)
class VerifyResult:
    """An ONNX model run inside its planned arena, every tensor compared with
    onnxruntime (`infermem verify`)."""

    report: object  # runtime.verify.VerifyReport
    shape_meta: Mapping

    @property
    def ok(self) -> bool:
        return self.report.ok

    def summary(self) -> str:
        return self.report.summary()

    def to_json(self) -> dict:
        return {**self.report.to_dict(), **shape_fields(self.shape_meta)}


def verify(model: Model, *, plan: str | Path | None = None, strategy: str = "best",
           time_limit: float = 10.0, reorder: bool = False, dmo: bool = False,
           inputs: str | Path | None = None, runs: int = 3, seed: int = 0,
           alignment: int = 16, input_shapes: Shapes = None,
           allow_constant_outputs: bool = False, fuse: str | None = None) -> VerifyResult:
    """Run the ONNX model in a plan's arena (the plan JSON at `plan`, or one made
    here with `strategy`, `reorder`, `dmo`, `fuse`) on your `inputs` (an .npz or
    a folder of .npy) and `runs` seeded random input sets, and compare every
    tensor with onnxruntime.  With `fuse` the fused groups run chunk by chunk
    in the plan and every tensor the fused graph keeps must be bit-identical
    to the unfused file-order run.  Outputs that are the same for every input
    set prove nothing and fail unless `allow_constant_outputs`."""
    from ..planning import plan_model
    from ..runtime.planfile import load_inputs, plan_fusion, read_plan
    from ..runtime.verify import check_memory, random_inputs
    from ..runtime.verify import verify as run_in_arena

    graph = _graph(model, input_shapes, alignment)
    if graph.format != "onnx":
        raise BadInput(f"{graph.source or graph.name}: `infermem verify` runs ONNX models in "
                       "infermem's arena executor; a .tflite plan is proven in TFLM by "
                       "`infermem optimize`")
    if runs < 0 or (runs == 0 and inputs is None):
        raise BadInput(f"--runs must be at least 1 (or 0 with --inputs), got {runs}")
    planned = None
    if plan is not None:
        if dmo or reorder or fuse:
            raise BadInput("--dmo, --reorder and --fuse shape a new plan; they do not apply "
                           "to --plan")
        fused = plan_fusion(Path(plan))
        if fused is not None:
            from ..fusion import check_runtime
            from ..fusion import fuse as fuse_graph

            planned = fuse_graph(graph, check_runtime(fused[0]), fused[1])
        p = read_plan(Path(plan), planned or graph)
        offsets, arena, order, name = p.offsets, p.arena_bytes, p.order, p.strategy
    else:
        try:
            pm = plan_model(graph, strategy, time_limit, alignment, reorder, dmo, fuse)
        except ImportError as e:
            what = "--dmo" if dmo else "--reorder" if reorder else "planning"
            raise BadInput(f"{what} is not available in this build ({e})") from None
        offsets, arena, order = pm.plan.offsets, pm.plan.arena_bytes, pm.order
        name = pm.plan.strategy + (" + DMO" if dmo else "") + (f" + fuse {fuse}" if fuse else "")
        planned = pm.graph if fuse else None
    check_memory(graph, arena, runs + (inputs is not None))
    sets = [load_inputs(Path(inputs), graph)] if inputs is not None else []
    sets += [random_inputs(graph, seed + i) for i in range(runs)]
    report = run_in_arena(graph, graph.source or model, offsets, arena, order, sets, name,
                          allow_constant_outputs=allow_constant_outputs, planned=planned)
    return VerifyResult(report, graph.meta)


@dataclass(frozen=True)
class OptimizeReport:
    """A `.tflite` written with infermem's plan as TFLM offline-plan metadata,
    verified in TFLM (`infermem optimize`)."""

    model: str
    result: object  # tflm.OptimizeResult
    options: Mapping  # preserve_inputs, reordered, dmo, alignment
    shapes: Mapping  # shape_notes, dynamic_dims_resolved
    patched: object | None = None  # rewrite.optimize result, with `patch`

    def to_json(self) -> dict:
        r = self.result
        return {**self._plan_json(), **_patch_json(r, self.patched)}

    def _plan_json(self) -> dict:
        r = self.result
        return {
            "model": self.model, "output": r.output, "strategy": r.strategy,
            "planned_arena_bytes": r.planned_arena_bytes, "tflm_arena_bytes": r.tflm_arena_bytes,
            "lower_bound_bytes": r.lower_bound_bytes, "head_before": r.head_before,
            "head_after": r.head_after, "verified": r.verified,
            "input_sets_compared": r.verification.input_sets if r.verification else 0,
            "constant_outputs": list(r.verification.constant_outputs) if r.verification else [],
            "input_sets_for_variation": (r.verification.sets_for_variation
                                         if r.verification else 0),
            **self.options, **self.shapes,
        }  # fmt: skip


def _patch_fields(p) -> dict:
    """A rewrite.PatchResult's figures, as `optimize --patch --json` names them."""
    return dict(patch_grid=list(p.grid), patch_stage_ops=[p.stage_ops[0], p.stage_ops[-1]],
                patch_stage_output=p.stage_output, macs_before=p.macs_before,
                macs_after=p.macs_after, ops_before=p.ops_before, ops_after=p.ops_after,
                flash_before=p.flash_before, flash_after=p.flash_after)


def _patch_json(r, patched) -> dict:
    """The patch part of the JSON: what was rewritten and what it cost."""
    if patched is None:
        return {}
    p, v = patched.patch, r.verification
    doc = {"patched": p is not None, "patch_reason": patched.reason,
           "patch_ranked_by": patched.choice.ranked_by,
           "patch_ranked_arena": patched.choice.arena_after}
    if p is not None:
        doc.update(_patch_fields(p))
    if v is not None:
        doc.update(inference_seconds_before=v.seconds_before,
                   inference_seconds_after=v.seconds_after)
    return doc


def optimize(model: str | Path, output: str | Path, *, strategy: str = "best",
             time_limit: float = 10.0, preserve_inputs: bool = False, reorder: bool = False,
             dmo: bool = False, verify_outputs: bool = True, runs: int = 3,
             inputs: str | Path | None = None, seed: int = 0, timeout: float = 120.0,
             force: bool = False, alignment: int = 16, input_shapes: Shapes = None,
             allow_constant_outputs: bool = False, patch: str | None = None,
             patch_until: int | None = None, max_mac_overhead: float = 25.0) -> OptimizeReport:
    """Plan `model` and write the offsets into a copy at `output`; with
    `verify_outputs` (default) original and copy run in TFLM on `runs` seeded
    inputs (and your `inputs`) and must agree bit for bit, or nothing is
    written.  With `patch` ('auto', or a grid 'RxC'), the first stage first
    runs patch by patch (up to operator `patch_until`, at most
    `max_mac_overhead` percent more MACs).  The model file is never modified."""
    from ..tflm import optimize as optimize_tflite
    from ..tflm._model import read_model
    from ..tflm.inputs import load_inputs, tflm_input_shapes
    from .patching import check_patch, is_onnx

    if runs < 0:
        raise BadInput(f"--runs must be >= 0, got {runs}")
    if inputs is not None and not verify_outputs:
        raise BadInput("--inputs are compared by verification; drop --no-verify")
    check_alignment(alignment, 16)
    check_patch(patch, patch_until, max_mac_overhead)
    if is_onnx(model):
        return _optimize_onnx(model, output, patch, dict(
            patch_until=patch_until, max_mac_overhead=max_mac_overhead / 100, strategy=strategy,
            time_limit=time_limit, reorder=reorder, dmo=dmo, verify_outputs=verify_outputs,
            runs=runs, seed=seed, force=force, alignment=alignment,
            allow_constant_outputs=allow_constant_outputs), input_shapes, inputs,
            preserve_inputs)  # fmt: skip
    shapes = tflm_input_shapes(model, {k: tuple(v) for k, v in (input_shapes or {}).items()})
    sets = [load_inputs(read_model(model), inputs)] if inputs is not None else []
    if verify_outputs and runs == 0 and not sets:
        raise BadInput("verification needs --runs >= 1 or --inputs")
    kw = dict(
        strategy=strategy, preserve_inputs=preserve_inputs, verify_outputs=verify_outputs,
        runs=runs, inputs=sets, time_limit=time_limit, seed=seed, timeout=timeout,
        reorder=reorder, dmo=dmo, force=force, alignment=alignment,
        allow_constant_outputs=allow_constant_outputs,
    )  # fmt: skip
    patched = None
    if patch is None:
        r = optimize_tflite(model, output, **kw)
    else:
        from ..rewrite.optimize import optimize_patched

        patched = optimize_patched(model, output, patch, patch_until, max_mac_overhead / 100, **kw)
        r = patched.optimize
    options = {"preserve_inputs": preserve_inputs, "reordered": reorder, "dmo": dmo,
               "alignment": alignment}  # fmt: skip
    return OptimizeReport(str(model), r, options, shapes, patched)


@dataclass(frozen=True)
class OnnxOptimizeReport:
    """An ONNX model rewritten to run its first stage patch by patch, checked
    against the original in onnxruntime and in infermem's arena executor
    (`infermem optimize MODEL.onnx --patch`)."""

    result: object  # rewrite.onnx_optimize.OnnxPatchedOptimize
    shapes: Mapping

    def to_json(self) -> dict:
        r, p, c = self.result, self.result.patch, self.result.check
        doc = {"model": r.model, "output": r.output, "format": "onnx", "strategy": r.strategy,
               "planned_arena_before": r.arena_before, "planned_arena_after": r.arena_after,
               "verified": r.verified, "patched": p is not None, "patch_reason": r.reason,
               "patch_ranked_by": r.choice.ranked_by,
               **shape_fields(self.shapes)}  # fmt: skip
        if p is not None:
            doc.update(_patch_fields(p))
        if c is not None:
            doc.update(input_sets_compared=c.input_sets, bit_identical=c.bit_identical,
                       max_error=c.max_error, tolerance=c.allowed,
                       constant_outputs=list(c.constant_outputs),
                       input_sets_for_variation=c.sets_for_variation,
                       stage_output_varies=c.stage_output_varies,
                       inference_seconds_before=c.seconds_before,
                       inference_seconds_after=c.seconds_after,
                       verify=r.verify.summary())
        return doc


def _optimize_onnx(model, output, patch, kw, input_shapes, inputs, preserve_inputs):
    """`optimize` of an ONNX model: only the patch rewrite applies."""
    from ..rewrite.onnx_optimize import optimize_onnx
    from ..runtime.planfile import load_inputs
    from .model import load

    if patch is None:
        raise BadInput(f"{model}: `optimize` writes TFLM arena plans into .tflite models; an "
                       "ONNX model can only be rewritten patch by patch (--patch)")
    if preserve_inputs:
        raise BadInput("--preserve-inputs applies to TFLM's plan of a .tflite")
    shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    graph = load(model, shapes)
    sets = [load_inputs(Path(inputs), graph)] if inputs is not None else []
    if kw["verify_outputs"] and kw["runs"] == 0 and not sets:
        raise BadInput("verification needs --runs >= 1 or --inputs")
    r = optimize_onnx(model, output, patch=patch, inputs=sets, input_shapes=shapes, **kw)
    return OnnxOptimizeReport(r, graph.meta)


@dataclass(frozen=True)
class MeasureResult:
    """The arena TFLM really uses (`infermem tflm measure`)."""

    model: str
    arena: object  # tflm.TflmArena: head, tail, total, min_arena, arena_size
    predicted_head_bytes: int | None  # infermem's prediction (the file's offline plan if any)
    stored_offline_plan: object | None  # tflm.stored.StoredPlan
    shapes: Mapping

    def to_json(self) -> dict:
        a, s = self.arena, self.stored_offline_plan
        return {
            "model": self.model, "head_bytes": a.head_bytes, "tail_bytes": a.tail_bytes,
            "total_bytes": a.total_bytes, "min_arena_bytes": a.min_arena_bytes,
            "arena_size": a.arena_size, "predicted_head_bytes": self.predicted_head_bytes,
            "stored_offline_plan": s.to_json() if s else None,
            "source": "measured in the tflite-micro Python interpreter (RecordingMicroAllocator)",
            **self.shapes,
        }  # fmt: skip


def measure(model: str | Path, *, bisect: bool = True, arena_size: int | None = None,
            timeout: float = 120.0, alignment: int = 16,
            input_shapes: Shapes = None) -> MeasureResult:
    """Run the `.tflite` once in TFLM (child process) and report head, tail and
    total; with `bisect`, also the smallest `arena_size` that works."""
    from ..tflm import measure as measure_tflm
    from ..tflm.inputs import tflm_input_shapes
    from ..tflm.stored import predict_head

    if arena_size is not None and arena_size <= 0:
        raise BadInput(f"--arena-size must be positive, got {arena_size}")
    check_alignment(alignment, 16)
    shapes = tflm_input_shapes(model, {k: tuple(v) for k, v in (input_shapes or {}).items()})
    arena = measure_tflm(model, bisect=bisect, arena=arena_size, timeout=timeout)
    predicted, stored = predict_head(model, alignment)
    return MeasureResult(str(model), arena, predicted, stored, shapes)


@dataclass(frozen=True)
class QuantizeReport:
    """Post-training quantization with onnxruntime, measured (`infermem quantize`)."""

    result: object  # quantize.QuantizeResult

    def to_json(self) -> dict:
        from ..report.quantize_table import quantize_json

        return quantize_json(self.result)


def quantize(model: str | Path, output: str | Path, *, calibration: str | int = 16,
             weights_only: bool = False, per_channel: bool = True, seed: int = 0,
             input_shapes: Shapes = None, force: bool = False) -> QuantizeReport:
    """int8-quantize an ONNX model into `output` (never in place): static QDQ
    calibrated on `calibration` (a folder of samples, or N seeded random
    inputs), or dynamic with `weights_only`; weights, arena and output error
    before and after."""
    from ..quantize import quantize as run_quantizer

    shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    return QuantizeReport(run_quantizer(model, output, calibration,
                                        weights_only=weights_only, per_channel=per_channel,
                                        seed=seed, shapes=shapes, force=force))
