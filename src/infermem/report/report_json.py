"""The report as JSON (`infermem report --json`): the same figures as the HTML
page, each with its provenance, for programs."""

from __future__ import annotations

from ..fit import to_json as fit_json
from ..profile import to_json as profile_json
from .gather import ReportData
from .peak import peak_tensors, weights_per_operator

NOTES = {
    "weights_bytes": "constant tensors (flash), each stored tensor counted once",
    "peak_bytes": "live-set peak in the file's order, arena tensors only (16-byte aligned); "
                  "kernel scratch and the runtime's persistent data are not included",
    "runtime_arena_bytes": "TFLM's measured head when TFLM ran, else TFLM's greedy planner "
                           "re-implemented (computed)",
    "flash": "weights + model structure; the runtime's own code (interpreter, kernels) "
             "and your application are not included",
    "kv_cache_bytes": "a decoder's past key/value inputs + present outputs, held outside the "
                      "arena (in every level's RAM needed); 0 without a KV cache",
    "dmo_onnx": "for ONNX the DMO plan holds for infermem's arena executor only; no "
                "deployable ONNX runtime applies these overlaps",
}


def _plan(pm) -> dict:
    p = pm.plan
    return {"strategy": p.strategy, "arena_bytes": p.arena_bytes,
            "lower_bound_bytes": p.lower_bound_bytes, "optimal": p.optimal,
            "order_changed": tuple(pm.order) != tuple(pm.graph.file_order)}


def report_json(d: ReportData) -> dict:
    """Everything the page shows, as one JSON document (sizes in bytes)."""
    g, p = d.graph, d.profile
    t = d.tflm
    return {
        "model": g.name, "format": g.format, "path": d.path, "alignment": d.alignment,
        "summary": {
            "weights_bytes": p.weights_bytes, "peak_bytes": p.peak_bytes,
            "kv_cache_bytes": p.kv_cache.bytes if p.kv_cache else 0,
            "naive_bytes": p.naive_bytes, "runtime_arena_bytes": d.runtime_bytes,
            "runtime_source": "measured in TFLM" if t is not None else "computed",
            "infermem_bytes": d.best.plan.arena_bytes, "dmo_bytes": d.dmo.plan.arena_bytes,
            "reorder_dmo_bytes": d.reorder_dmo.plan.arena_bytes,
            "smallest_bytes": d.infermem_bytes, "saving": d.saving,
        },
        "peak": {
            "step": p.peak_step, "operator_index": p.peak_operator_index,
            "tensors": [x.to_json() for x in peak_tensors(g, p)],
        },
        "weights_per_operator": [x.to_json() for x in weights_per_operator(g)],
        "planners": [{"strategy": x.strategy, "arena_bytes": x.arena_bytes,
                      "lower_bound_bytes": x.lower_bound_bytes, "gap": x.gap,
                      "seconds": x.seconds} for x in d.plans],
        "plans": {"runtime": _plan(d.runtime), "infermem": _plan(d.best), "dmo": _plan(d.dmo),
                  "reorder_dmo": _plan(d.reorder_dmo)},
        "dmo": list(d.dmo_rows),
        "tflm": None if t is None else {"head_bytes": t.head_bytes, "tail_bytes": t.tail_bytes,
                                        "total_bytes": t.total_bytes},
        "tflm_note": d.tflm_note,
        "profile": profile_json(g, p),
        "fit": fit_json(d.fit),
        "notes": NOTES,
        "seconds": dict(d.seconds),
    }  # fmt: skip
