"""infermem's Python API: one function per command, each returning a typed,
frozen result with `.to_json()` (the same document the command's `--json`
prints).  The command line is a thin layer over these functions.

    import infermem

    g = infermem.load("model.tflite")                 # the graph IR
    p = infermem.profile(g)                           # ProfileResult
    print(p.profile.peak_bytes, p.profile.weights_bytes)
    plan = infermem.plan(g, strategy="best", dmo=True)  # PlanResult, validated
    print(plan.arena_bytes, plan.to_header()[:60])
    fit = infermem.fit(g, devices=["stm32f401", "pico"])
    print([d.verdict for d in fit.report.devices])
    r = infermem.report(g, "model.html")              # ReportResult; writes the page

Every function takes a model as a path (`.onnx` or `.tflite`, read from its
bytes) or a Graph returned by `load`, plus `input_shapes` ({name: shape}) and
`alignment` where the command has `--input-shape` and `--align`.  Errors are
`infermem.errors.BadInput` (bad input) or `Failure` (a check failed), as on
the command line.
"""

from __future__ import annotations

from .lengths import LengthSweep, MaxSeqResult, max_seq, shapes_for, sweep_lengths
from .model import (
    FitResult,
    MaxBatchResult,
    PlanResult,
    ProfileResult,
    devices,
    fit,
    load,
    max_batch,
    plan,
    profile,
)
from .monitoring import MonitorReport, monitor
from .pages import DemoResult, ReportResult, demo, report
from .patching import PatchPlanResult, PatchProfileResult, plan_patched, profile_patched
from .runs import (
    MeasureResult,
    OptimizeReport,
    QuantizeReport,
    VerifyResult,
    measure,
    optimize,
    quantize,
    verify,
)

__all__ = [
    "DemoResult", "FitResult", "MaxBatchResult", "MaxSeqResult", "MeasureResult",
    "LengthSweep", "MonitorReport", "max_seq", "shapes_for", "sweep_lengths",
    "OptimizeReport", "PatchPlanResult", "PatchProfileResult", "PlanResult", "ProfileResult",
    "QuantizeReport", "ReportResult", "VerifyResult", "demo", "devices", "fit", "load",
    "max_batch", "measure", "monitor", "optimize", "plan", "plan_patched", "profile",
    "profile_patched", "quantize", "report", "verify",
]  # fmt: skip
