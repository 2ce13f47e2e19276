"""One model on several runtimes, side by side, each beside its prediction.

`infermem monitor MODEL --runtime all` (or `onnxruntime,tflm`) runs the model
in each runtime in its own fresh monitored process, one after another (never
at once: they would disturb each other's timing and memory), and puts the
figures a deployer compares in one table: load, first inference, steady
state, peak RSS and USS, and for TFLM the arena's head and tail.  A runtime
that cannot run this model (wrong file format, not installed) is named with
the reason.  Beside each run: infermem's static figures and the runtime's
baseline (see `predict`), and for onnxruntime its allocator's own per-kernel
counters (see `ortprofile`).  `comparison_dict` is what JSON and the HTML
report use.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, InfermemError
from ..monitor.ortprofile import AllocatorProfile, profile_allocator
from ..monitor.report import json_report, mib, model_costs
from ..monitor.result import MonitorResult
from ..monitor.runtimes import RUNTIMES
from .predict import Prediction, StaticFigures, tflm_arena_size, tflm_tail_bytes, try_static

FORMATS = {"onnxruntime": ".onnx", "litert": ".tflite", "tflm": ".tflite"}


@dataclass(frozen=True)
class RuntimeRun:
    runtime: str
    result: MonitorResult | None = None
    prediction: Prediction | None = None
    allocator: AllocatorProfile | None = None
    unavailable: str | None = None  # why this runtime did not run the model
    arena_size: int | None = None  # TFLM: the arena it was given
    arena_source: str = ""


@dataclass(frozen=True)
class Comparison:
    model: str
    runs: tuple[RuntimeRun, ...]

    def ran(self) -> list[RuntimeRun]:
        return [r for r in self.runs if r.result is not None]


def parse_runtimes(spec: str | None, model: str) -> list[str]:
    """ "all", a comma list, one name, or None (the file's natural runtime)."""
    if not spec:
        return ["onnxruntime" if model.lower().endswith(".onnx") else "tflm"]
    names = list(RUNTIMES) if spec.strip() == "all" else [s.strip() for s in spec.split(",")]
    bad = [n for n in names if n not in RUNTIMES]
    if bad or not names:
        raise BadInput(f"unknown runtime {', '.join(bad) or spec!r}; "
                       f"choose from {', '.join(RUNTIMES)}, a comma list, or all")  # fmt: skip
    return list(dict.fromkeys(names))


def _format_reason(runtime: str, model: str) -> str | None:
    want = FORMATS[runtime]
    if not model.lower().endswith(want):
        return f"{runtime} runs {want} files; this model is {Path(model).suffix or 'unknown'}"
    return None


def _installed_reason(r: MonitorResult) -> str | None:
    e = r.error
    if e is not None and e.phase == "import" and "not installed" in e.message:
        return e.message
    return None


def run_one(
    model: str, runtime: str, *, static: StaticFigures | None, static_note: str,
    baseline: bool, allocator: bool, arena_size: int | None, side_by_side: bool = False, **kw,
) -> RuntimeRun:  # fmt: skip
    """Monitor `model` under `runtime`, with its prediction and allocator profile.
    `side_by_side`: a runtime that is not installed is named as unavailable
    rather than reported as the run's error."""
    from ..monitor.runner import monitor_model

    why = _format_reason(runtime, model)
    if why:
        return RuntimeRun(runtime, unavailable=why)
    tail, source = None, "--arena-size" if arena_size else ""
    if runtime == "tflm" and static is None:  # TFLM trusts the file: never give it one
        why = f"TFLM is not given a model infermem refuses ({static_note})"
        if side_by_side:
            return RuntimeRun(runtime, unavailable=why)
        raise BadInput(why)
    if runtime == "tflm" and not arena_size:
        tail = tflm_tail_bytes(model)
        arena_size = tflm_arena_size(static, tail)
        source = "infermem's plan + TFLM's measured tail, +10% + 1 KiB"
    result = monitor_model(model, runtime, arena_size=arena_size, **kw)
    why = _installed_reason(result) if side_by_side else None
    if why:
        return RuntimeRun(runtime, unavailable=why)
    if runtime == "tflm" and "tflm_tail_bytes" in result.info:
        tail = int(result.info["tflm_tail_bytes"])
    base = _baseline(runtime, kw) if baseline and result.error is None else None
    pred = Prediction(runtime, static, base, tail, static_note)
    prof = None
    if allocator and runtime == "onnxruntime" and result.error is None:
        prof = _allocator(model, kw)
    return RuntimeRun(runtime, result, pred, prof, None, arena_size, source)


def _baseline(runtime: str, kw: dict) -> int | None:
    """Peak RSS of the one-operator model under `runtime`, same options."""
    from ..monitor.runner import monitor_model
    from .baseline import trivial_model

    opts = {k: kw[k] for k in ("python", "threads", "interval_ms", "timeout_s") if k in kw}
    with tempfile.TemporaryDirectory(prefix="infermem-baseline-") as tmp:
        path = trivial_model(runtime, Path(tmp))
        arena = 16 << 10 if runtime == "tflm" else None
        r = monitor_model(str(path), runtime, runs=3, warmup=0, arena_size=arena,
                          uss_interval_ms=None, **opts)  # fmt: skip
    return r.peak_rss_bytes if r.error is None else None


def _allocator(model: str, kw: dict) -> AllocatorProfile | None:
    try:
        return profile_allocator(model, kw.get("input_shapes"), kw.get("threads"),
                                 kw.get("python"))  # fmt: skip
    except InfermemError as e:
        return AllocatorProfile((), None, None, None, "", str(e))


def compare_runtimes(
    model: str, runtimes: list[str], *, input_shapes: dict | None = None,
    baseline: bool = True, allocator: bool = True, arena_size: int | None = None, **kw,
) -> Comparison:  # fmt: skip
    """Each runtime in turn, in a fresh process; see the module docstring."""
    static, note = try_static(model, input_shapes)
    opts = dict(static=static, static_note=note, baseline=baseline, allocator=allocator,
                arena_size=arena_size, side_by_side=len(runtimes) > 1,
                input_shapes=input_shapes or {}, **kw)  # fmt: skip
    runs = [run_one(model, rt, **opts) for rt in runtimes]
    return Comparison(model, tuple(runs))


# -- presenting ----------------------------------------------------------------

COLUMNS = (
    ("runtime", "runtime"),
    ("load_bytes", "load"),
    ("load_s", "load s"),
    ("first_inference_bytes", "1st inf"),
    ("steady_inference_s", "steady ms"),
    ("steady_peak_delta_bytes", "steady Δpeak"),
    ("peak_rss_bytes", "peak RSS"),
    ("peak_uss_bytes", "peak USS"),
    ("tflm_head_bytes", "head KiB"),
    ("tflm_tail_bytes", "tail KiB"),
    ("unexplained_bytes", "unexplained"),
)


def row(run: RuntimeRun) -> dict:
    """The comparison's figures for one runtime (None where not measured)."""
    d: dict = {"runtime": run.runtime, "unavailable": run.unavailable}
    r = run.result
    if r is None:
        return d
    c = model_costs(r)
    d.update(
        ok=r.error is None,
        error=r.error.message if r.error else None,
        load_bytes=_sum(c, "import_and_load_bytes", "session_bytes"),
        load_s=_sum(c, "import_s", "session_s"),
        first_inference_bytes=c.get("first_inference_peak_delta_bytes"),
        steady_inference_s=c.get("steady_inference_s_median"),
        steady_peak_delta_bytes=c.get("steady_peak_delta_bytes"),
        peak_rss_bytes=r.peak_rss_bytes,
        peak_uss_bytes=r.peak_uss_bytes,
        tflm_head_bytes=_int(r.info.get("tflm_head_bytes")),
        tflm_tail_bytes=_int(r.info.get("tflm_tail_bytes")),
        arena_size=run.arena_size,
        leak=r.leak.reason if r.leak else None,
    )
    if run.prediction is not None:
        d["unexplained_bytes"] = run.prediction.explain(r)["unexplained_bytes"]
    return d


def _sum(c: dict, *keys: str):
    vals = [c[k] for k in keys if k in c]
    return sum(vals) if len(vals) == len(keys) else None


def _int(v) -> int | None:
    return int(v) if v not in (None, "") else None


def comparison_dict(c: Comparison, timeline: bool = False) -> dict:
    """Everything about a comparison, for JSON and the HTML report."""
    return {
        "model": c.model,
        "table": [row(r) for r in c.runs],
        "runs": {
            r.runtime: {
                **(json_report(r.result, timeline=timeline) if r.result else {}),
                "unavailable": r.unavailable,
                "arena_size": r.arena_size,
                "arena_source": r.arena_source or None,
                "prediction": r.prediction.explain(r.result) if r.prediction else None,
                "allocator": r.allocator.to_dict() if r.allocator else None,
            }
            for r in c.runs
        },
    }


def _cell(key: str, v) -> str:
    if v is None:
        return "-"
    if key.endswith("_s"):
        return f"{v * 1e3:.2f}" if key == "steady_inference_s" else f"{v:.3f}"
    if key.startswith("tflm_"):
        return f"{v / 1024:.1f}"
    if key.endswith("_bytes"):
        return mib(v).replace(" MiB", "")
    return str(v)


def comparison_table(c: Comparison) -> str:
    """One row per runtime (sizes in MiB); unavailable runtimes with the reason."""
    rows = [row(r) for r in c.runs]
    avail = [r for r in rows if not r.get("unavailable")]
    widths = [max(len(h), *(len(_cell(k, r.get(k))) for r in avail)) if avail else len(h)
              for k, h in COLUMNS]  # fmt: skip
    head = "  " + "  ".join(h.rjust(w) for (_, h), w in zip(COLUMNS, widths, strict=True))
    lines = [f"infermem monitor: {c.model}, side by side (sizes in MiB)", "", head,
             "  " + "-" * (len(head) - 2)]  # fmt: skip
    for r in avail:
        cells = [_cell(k, r.get(k)).rjust(w) for (k, _), w in zip(COLUMNS, widths, strict=True)]
        lines.append("  " + "  ".join(cells) + ("" if r.get("ok") else "  (failed)"))
    lines.append("")
    lines.append("  load: import + file + session creation; 1st inf: the first inference's "
                 "peak above its start; head/tail: TFLM's arena;\n  unexplained: measured "
                 "peak RSS minus the prediction (below)")  # fmt: skip
    for r in rows:
        if r.get("unavailable"):
            lines.append(f"  {r['runtime']}: not run: {r['unavailable']}")
        elif r.get("error"):
            lines.append(f"  {r['runtime']}: error: {r['error']}")
    return "\n".join(lines)


def prediction_lines(run: RuntimeRun) -> list[str]:
    """Predicted vs measured for one run, term by term."""
    if run.prediction is None:
        return []
    ex = run.prediction.explain(run.result)
    labels = {
        "runtime_baseline_bytes": "runtime baseline (one-operator model, measured)",
        "file_bytes": "model file held in memory",
        "weights_copy_bytes": "weights copied by the runtime",
        "planned_arena_bytes": f"arena planned by infermem ({ex['static']['strategy']})"
        if ex["static"] else "arena",
        "tflm_tail_bytes": "TFLM persistent tail (reported by TFLM)",
    }  # fmt: skip
    lines = [f"  predicted vs measured ({run.runtime}):"]
    for k, v in ex["parts"].items():
        lines.append(f"    {labels[k]:<48}{mib(v):>14}")
    if ex["expected_peak_rss_bytes"] is not None:
        lines.append(f"    {'= expected peak RSS':<48}{mib(ex['expected_peak_rss_bytes']):>14}")
    lines.append(f"    {'measured peak RSS':<48}{mib(ex['measured_peak_rss_bytes']):>14}")
    if ex["unexplained_bytes"] is not None:
        u = ex["unexplained_bytes"]
        lines.append(f"    {'unexplained remainder':<48}{('+' if u >= 0 else '') + mib(u):>14}")
    if ex["note"]:
        lines.append(f"    ({ex['note']})")
    if run.arena_size:
        lines.append(f"    TFLM arena_size {run.arena_size:,} B ({run.arena_source})")
    return lines


def allocator_lines(p: AllocatorProfile | None, n: int = 5) -> list[str]:
    """onnxruntime's allocator, first inference: peak, where, the largest users."""
    if p is None:
        return []
    if not p.ops:
        return [f"  onnxruntime allocator: {p.note}"]
    lines = [
        f"  onnxruntime allocator (its profiler, first inference): peak in use "
        f"{mib(p.peak_in_use_bytes)} after {p.peak_node}; arena held {mib(p.arena_held_bytes)}",
        f"    {'node':<44}{'op':<14}{'requested Δ':>13}{'in use after':>14}{'scratch':>11}",
    ]
    shown = {id(o): o for o in [*p.top("requested_delta_bytes", n), *p.top("transient_bytes", 2)]}
    for o in sorted(shown.values(), key=lambda o: -o.requested_delta_bytes - o.transient_bytes):
        lines.append(f"    {o.node[-43:]:<44}{o.op_type[:13]:<14}{mib(o.requested_delta_bytes):>13}"
                     f"{mib(o.in_use_after_bytes):>14}{mib(o.transient_bytes):>11}")  # fmt: skip
    worst = max(p.ops, key=lambda o: o.transient_bytes)
    if worst.transient_bytes:
        lines.append(f"    largest kernel scratch (allocated and freed inside one kernel): "
                     f"{mib(worst.transient_bytes)} in {worst.node} ({worst.op_type})")  # fmt: skip
    else:
        lines.append("    no kernel raised the peak above what it left in use: "
                     "no scratch visible in this profile")  # fmt: skip
    return lines
