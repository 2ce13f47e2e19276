"""Whole-model summaries: the HTML report and the demo on the bundled example."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import Model, Shapes, check_alignment

DEMO_STRATEGIES = ("linear", "tflm", "best-fit", "breadth", "conflicts", "best")


@dataclass(frozen=True)
class ReportResult:
    """Everything the report shows (`infermem report`): the gathered figures,
    the self-contained HTML page, and where it was written (if it was)."""

    data: object  # report.gather.ReportData
    html: str
    output: str | None
    runtimes: dict | None = None  # sidebyside.comparison_dict, with `runtimes`
    patched: object | None = None  # api.patching.PatchProfileResult, with `patch`

    def to_json(self) -> dict:
        from ..report.report_json import report_json

        patch = None if self.patched is None else self.patched.patch_json()
        return {**report_json(self.data), "runtimes": self.runtimes, "patch": patch,
                "output": self.output}


def report(model: Model, output: str | Path | None = None, *, strategy: str = "best",
           time_limit: float = 5.0, alignment: int = 16, measure: bool = True,
           devices: Sequence[str] = (), input_shapes: Shapes = None,
           force: bool = False, runtimes: str | None = None, patch: str | None = None,
           patch_until: int | None = None, max_mac_overhead: float = 25.0,
           fuse: str | None = None) -> ReportResult:
    """Gather the profile, every fast planner, DMO, reordering, TFLM's measured
    arena (`measure`, `.tflite`) and device fit; with `runtimes` ('all' or a
    comma list, as `monitor --runtime`) also run the model in those runtimes
    side by side; with `patch` ('auto' or 'RxC', .tflite or .onnx) add the live
    memory before and after patching (`profile_patched`); with `fuse` ('tvm'
    or 'ort', ONNX) add the fuse level to the fit table; render one
    self-contained HTML page; write it to `output` when given (through the
    output guard)."""
    from ..outputs import check_output, write_text
    from ..report.gather import gather
    from ..report.html import render
    from .patching import check_patch

    check_alignment(alignment)
    check_patch(patch, patch_until, max_mac_overhead)
    source = model.source if hasattr(model, "source") else model
    if output is not None:
        check_output(output, [source], force=force, what="-o")
    data = gather(source, strategy, time_limit, alignment, measure, list(devices),
                  {k: tuple(v) for k, v in (input_shapes or {}).items()}, fuse)
    side = _side_by_side(str(source), runtimes, input_shapes) if runtimes else None
    patched = None
    if patch is not None:
        from .patching import profile_patched

        patched = profile_patched(source, patch=patch, patch_until=patch_until,
                                  max_mac_overhead=max_mac_overhead, alignment=alignment,
                                  input_shapes=_onnx_shapes(source, input_shapes))
    page = render(data, runtimes=side, patched=patched)
    if output is not None:
        write_text(output, page)
    return ReportResult(data, page, None if output is None else str(output), side, patched)


def _side_by_side(model: str, runtimes: str, input_shapes: Shapes) -> dict:
    """The side-by-side document (`sidebyside.comparison_dict`) for `runtimes`."""
    from ..sidebyside.compare import compare_runtimes, comparison_dict, parse_runtimes

    names = parse_runtimes(runtimes, model)
    shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
    return comparison_dict(compare_runtimes(model, names, input_shapes=shapes, runs=20,
                                            warmup=2))


@dataclass(frozen=True)
class DemoResult:
    """`infermem demo`: the bundled example profiled, planned with every fast
    strategy and (unless quick) shrunk with DMO and verified in TFLM."""

    model: str
    profile: object  # api.ProfileResult
    plans: tuple  # planners.Plan per DEMO_STRATEGIES
    optimized: object | None  # tflm.OptimizeResult, None with quick
    output: str | None  # where the optimized model was kept, if asked

    def to_json(self) -> dict:
        p = self.profile.profile
        doc = {"model": self.model, "peak_bytes": p.peak_bytes, "weights_bytes": p.weights_bytes,
               "naive_bytes": p.naive_bytes,
               "plans": [{"strategy": x.strategy, "arena_bytes": x.arena_bytes,
                          "lower_bound_bytes": x.lower_bound_bytes, "gap": x.gap,
                          "seconds": x.seconds} for x in self.plans],
               "tflm": None, "output": self.output}  # fmt: skip
        r = self.optimized
        if r is not None:
            doc["tflm"] = {"head_before": r.head_before, "head_after": r.head_after,
                           "saving": 1 - r.head_after / r.head_before if r.head_before else 0.0,
                           "input_sets_compared": r.verification.input_sets,
                           "verified": r.verified}  # fmt: skip
        return doc


def demo(output: str | Path | None = None, *, quick: bool = False,
         force: bool = False) -> DemoResult:
    """The main job on the bundled int8 MobileNet v1: profile, plan with every
    fast strategy, then (unless `quick`) write a DMO offline plan into a copy
    (`output`, or a temporary folder) and verify it in TFLM."""
    from ..examples import example_path
    from ..outputs import check_output
    from ..planners import plan
    from ..planning import build_problem
    from ..tflm import optimize
    from .model import load, profile

    path = example_path("tflite")
    if output is not None and not quick:
        check_output(output, [path], force=force, what="-o")
    graph = load(path)
    problem = build_problem(graph, graph.file_order)
    plans = tuple(plan(problem, name) for name in DEMO_STRATEGIES)
    prof = profile(graph)
    if quick:
        return DemoResult(str(path), prof, plans, None, None)
    with tempfile.TemporaryDirectory(prefix="infermem-demo-") as tmp:
        dst = Path(output) if output is not None else Path(tmp) / f"{path.stem}_dmo.tflite"
        r = optimize(path, dst, strategy="best", dmo=True, runs=3, force=force)
    return DemoResult(str(path), prof, plans, r, None if output is None else str(dst))


def _onnx_shapes(source, input_shapes: Shapes) -> dict | None:
    """The input shapes for the patch rewrite: an ONNX model's (a .tflite keeps
    its stored shapes and refuses them)."""
    from .patching import is_onnx

    return dict(input_shapes or {}) if is_onnx(source) else None
