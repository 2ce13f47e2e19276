"""`monitor`: the memory of real runs over time, as a typed result.

A model runs in a fresh child process per runtime (side by side when there
are several, with infermem's static prediction and the runtime's baseline);
a command (`["python", "app.py"]`) runs as it is, with phases and iterations
where it uses `infermem.Monitor`.  A run that fails still returns its partial
result; `errors` says what went wrong, and the caller decides how to report it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .model import Shapes

MODEL_SUFFIXES = (".onnx", ".tflite")


@dataclass(frozen=True)
class MonitorReport:
    """What `infermem monitor` prints: `to_json()` (its `--json`) and `text`."""

    doc: Mapping  # the JSON document
    text: str  # the human report
    results: Mapping  # runtime (or "" for a command) -> monitor.result.MonitorResult
    errors: tuple  # monitor.result.RunError of the runs that failed

    def to_json(self) -> dict:
        return dict(self.doc)

    @property
    def result(self):
        """The one run's MonitorResult (the first runtime's, side by side)."""
        return next(iter(self.results.values()))


def is_model(target: str | Path | Sequence[str]) -> bool:
    if isinstance(target, (str, Path)):
        return True
    return len(target) == 1 and str(target[0]).lower().endswith(MODEL_SUFFIXES)


def _check(target: list[str], o: dict) -> list[str]:
    """Usage errors, before any work; returns the runtimes for a model."""
    if not target:
        raise BadInput("nothing to monitor: give a MODEL or `-- CMD ARGS`")
    if o["interval_ms"] < 1:
        raise BadInput(f"--interval-ms must be at least 1, got {o['interval_ms']:g}")
    if o["uss_interval_ms"] and o["uss_interval_ms"] < 1:
        raise BadInput(f"--uss-interval-ms must be 0 or at least 1, got "
                       f"{o['uss_interval_ms']:g}")  # fmt: skip
    if not is_model(target):
        used = [f for f in ("runtime", "runs", "arena_size", "python", "tracemalloc") if o[f]]
        if used or o["input_shapes"]:
            names = ", ".join("--" + f.replace("_", "-") for f in used) or "--input-shape"
            raise BadInput(f"{names} apply to a model; {target[0]!r} is run as a command")
        return []
    if o["trace_allocations"] or o["warmup_s"] is not None:
        raise BadInput("--trace-allocations and --warmup-s apply to `-- CMD`; for a model "
                       "use --tracemalloc and --warmup")  # fmt: skip
    from ..sidebyside.compare import parse_runtimes

    if not os.path.isfile(target[0]):
        raise BadInput(f"no such model file: {target[0]}")
    return parse_runtimes(o["runtime"], target[0])


def _shapes(model: str, runtimes: list[str], given: dict) -> dict:
    """For a .tflite model: the inputs whose dynamic dims the runtime will
    allocate at the stored shape (TFLM cannot resize: a different shape is
    refused before the run)."""
    if not (runtimes and model.lower().endswith(".tflite")):
        return {}
    from ..frontends.tflite import shape_note
    from ..tflm.inputs import tflm_input_shapes

    if "tflm" in runtimes:
        return tflm_input_shapes(model, given)
    resolved = [r for r in tflm_input_shapes(model, {})["dynamic_dims_resolved"]
                if r["tensor"] not in given]  # fmt: skip
    note = shape_note(resolved)
    return {"shape_notes": [note] if note else [], "dynamic_dims_resolved": resolved}


def _models(model: str, runtimes: list[str], o: dict, common: dict):
    """(results, doc, text, errors) for a model in one or more runtimes."""
    from ..monitor.report import text_report
    from ..sidebyside import compare as cmp

    comp = cmp.compare_runtimes(
        model, runtimes, input_shapes=o["input_shapes"], baseline=o["prediction"],
        allocator=o["prediction"], arena_size=o["arena_size"],
        runs=100 if o["runs"] is None else o["runs"],
        warmup=5 if o["warmup"] is None else o["warmup"], threads=o["threads"],
        tracemalloc=o["tracemalloc"], python=o["python"], **common,
    )  # fmt: skip
    results = {r.runtime: r.result for r in comp.ran()}
    doc = cmp.comparison_dict(comp, timeline=True)
    if len(comp.runs) == 1:
        one = comp.runs[0]
        if one.result is None:
            raise BadInput(f"{one.runtime} cannot run {model}: {one.unavailable}")
        doc = {**doc["runs"][one.runtime], "comparison": doc["table"]}
        text = "\n".join([text_report(one.result), "", *cmp.prediction_lines(one),
                          "", *cmp.allocator_lines(one.allocator)]).rstrip()  # fmt: skip
    else:
        text = "\n".join([cmp.comparison_table(comp), ""]
                         + sum(([*cmp.prediction_lines(r), *cmp.allocator_lines(r.allocator)]
                                for r in comp.ran()), []))  # fmt: skip
    if not results:
        raise BadInput("no runtime could run the model: " + "; ".join(
            f"{r.runtime}: {r.unavailable}" for r in comp.runs))  # fmt: skip
    errors = tuple(r.result.error for r in comp.ran() if r.result.error is not None)
    return results, doc, text, errors


def monitor(target: str | Path | Sequence[str], *, runtime: str | None = None,
            runs: int | None = None, warmup: int | None = None, input_shapes: Shapes = None,
            arena_size: int | None = None, threads: int | None = None,
            python: str | None = None, tracemalloc: bool = False, prediction: bool = True,
            warmup_s: float | None = None, min_rate: float = 4096.0,
            trace_allocations: bool = False, interval_ms: float = 5.0,
            uss_interval_ms: float | None = 250.0, timeout_s: float | None = None,
            min_effect: float = 1024.0) -> MonitorReport:
    """Run a model (a path; `runtime` 'onnxruntime', 'litert', 'tflm', a comma
    list or 'all') or a command (a list of arguments) and sample its memory:
    phases, first-inference cost, steady state, leaks; for a model also
    infermem's static prediction next to what was measured."""
    from ..monitor.report import json_report, text_report
    from ..monitor.runner import monitor_command

    items = [str(target)] if isinstance(target, (str, Path)) else [str(t) for t in target]
    o = dict(runtime=runtime, runs=runs, warmup=warmup, arena_size=arena_size,
             threads=threads, python=python, tracemalloc=tracemalloc, prediction=prediction,
             warmup_s=warmup_s, trace_allocations=trace_allocations,
             input_shapes={k: tuple(v) for k, v in (input_shapes or {}).items()},
             interval_ms=interval_ms, uss_interval_ms=uss_interval_ms)  # fmt: skip
    runtimes = _check(items, o)
    common = dict(interval_ms=interval_ms, uss_interval_ms=uss_interval_ms or None,
                  timeout_s=timeout_s, min_effect=min_effect)  # fmt: skip
    shapes = _shapes(items[0], runtimes, o["input_shapes"]) if runtimes else {}
    if runtimes:
        results, doc, text, errors = _models(items[0], runtimes, o, common)
    else:
        result = monitor_command(items, leak_skip=warmup or 0, warmup_s=warmup_s,
                                 min_rate=min_rate, trace_allocations=trace_allocations,
                                 **common)  # fmt: skip
        results, doc, text = {"": result}, json_report(result), text_report(result)
        errors = (result.error,) if result.error is not None else ()
    return MonitorReport({**doc, **shapes}, text, results, errors)
