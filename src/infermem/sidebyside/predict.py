"""Predicted vs measured: infermem's static figures beside a real run.

What infermem knows without running the model: the file's size, the weights,
and the arena its planner lays out (the `tflm` strategy, TFLM's own greedy
placement, so for a `.tflite` it is the head TFLM itself will plan).  What
it measures: the runtime's baseline (the same monitored child running a
one-operator model, see `baseline`), and for TFLM the persistent tail TFLM
reports.  The expected peak RSS is baseline + file bytes held by the child +
weights copied into the runtime (onnxruntime copies initializers; LiteRT and
TFLM read them from the file's buffer in place) + arena + tail; what the
measured peak exceeds that by is the unexplained remainder: allocator slack,
runtime scratch (see `ortprofile` for onnxruntime's), thread stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadInput
from ..monitor.result import MonitorResult
from ..planners.problem import align_up

TFLM_MARGIN = 1.10  # default TFLM arena: (plan + tail) x this, + 1 KiB
STRATEGY = "tflm"


@dataclass(frozen=True)
class StaticFigures:
    """From the model alone (no runtime)."""

    file_bytes: int
    weights_bytes: int
    arena_bytes: int
    strategy: str

    def to_dict(self) -> dict:
        return {"file_bytes": self.file_bytes, "weights_bytes": self.weights_bytes,
                "planned_arena_bytes": self.arena_bytes, "strategy": self.strategy}  # fmt: skip


def static_figures(model: str, input_shapes: dict | None = None) -> StaticFigures:
    """Load and plan `model` with infermem's loader (its checks refuse what
    `profile` refuses: BadInput) and planner."""
    import os

    from ..frontends import load
    from ..planning import plan_model

    graph = load(model, dict(input_shapes or {}))
    pm = plan_model(graph, STRATEGY, time_limit=5.0)
    return StaticFigures(os.path.getsize(model), graph.weights_bytes, pm.plan.arena_bytes, STRATEGY)


def tflm_tail_bytes(model: str) -> int:
    """TFLM's persistent tail, measured once by TFLM (it does not depend on
    the arena size it is given)."""
    from ..tflm.measure import measure

    return measure(model, bisect=False).tail_bytes


def tflm_arena_size(static: StaticFigures, tail: int) -> int:
    """The arena `monitor --runtime tflm` gives TFLM by default: infermem's
    plan plus the measured tail, with a 10% + 1 KiB margin."""
    return align_up(int((static.arena_bytes + tail) * TFLM_MARGIN) + 1024, 16)


@dataclass(frozen=True)
class Prediction:
    runtime: str
    static: StaticFigures | None
    baseline_rss_bytes: int | None  # peak RSS of the trivial model, same runtime
    tail_bytes: int | None  # TFLM's persistent tail, measured by TFLM
    note: str = ""

    def parts(self) -> dict[str, int]:
        """The named terms of the expected peak RSS that are known."""
        out: dict[str, int] = {}
        if self.baseline_rss_bytes is not None:
            out["runtime_baseline_bytes"] = self.baseline_rss_bytes
        if self.static is not None:
            out["file_bytes"] = self.static.file_bytes
            if self.runtime == "onnxruntime":
                out["weights_copy_bytes"] = self.static.weights_bytes
            out["planned_arena_bytes"] = self.static.arena_bytes
        if self.tail_bytes is not None:
            out["tflm_tail_bytes"] = self.tail_bytes
        return out

    def explain(self, r: MonitorResult | None) -> dict:
        """Expected vs measured peak RSS, and the remainder nothing above explains."""
        parts = self.parts()
        complete = self.static is not None and self.baseline_rss_bytes is not None
        expected = sum(parts.values()) if complete else None
        measured = r.peak_rss_bytes if r is not None and r.peak_rss_bytes else None
        return {
            "parts": parts,
            "expected_peak_rss_bytes": expected,
            "measured_peak_rss_bytes": measured,
            "unexplained_bytes": (measured - expected) if expected and measured else None,
            "static": self.static.to_dict() if self.static else None,
            "note": self.note,
        }


def try_static(model: str, input_shapes: dict | None) -> tuple[StaticFigures | None, str]:
    """Static figures, or None and why (a model infermem cannot load or plan)."""
    try:
        return static_figures(model, input_shapes), ""
    except BadInput as e:
        return None, f"no static prediction: {e}"
