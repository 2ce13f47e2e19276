"""What a monitored run means, in words and in JSON.

For a model run the phases map onto the costs a deployer asks about: what
importing the runtime and loading the file cost, what creating the session
cost, how much more the first inference needs than later ones (runtimes
allocate their activation arenas lazily), and what each steady-state
inference adds at its peak.  Every figure is measured (RSS, bytes).
"""

from __future__ import annotations

import numpy as np

from .leak import median
from .result import MonitorResult


def model_costs(r: MonitorResult) -> dict:
    """Named costs from the phases of `infermem monitor MODEL` (missing phases omitted)."""
    out: dict = {}
    imp, load, sess = r.phase("import"), r.phase("load"), r.phase("session")
    first, steady = r.phase("first_inference"), r.phase("steady")
    if imp:
        out["baseline_rss_bytes"] = imp.start_rss_bytes
        out["import_bytes"] = imp.growth_bytes
        out["import_s"] = round(imp.duration_s, 6)
    if load:
        out["load_bytes"] = load.growth_bytes
    if imp and load:
        out["import_and_load_bytes"] = imp.growth_bytes + load.growth_bytes
    if sess:
        out["session_bytes"] = sess.growth_bytes
        out["session_peak_delta_bytes"] = sess.peak_delta_bytes
        out["session_s"] = round(sess.duration_s, 6)
    if first:
        out["first_inference_bytes"] = first.growth_bytes
        out["first_inference_peak_delta_bytes"] = first.peak_delta_bytes
        out["first_inference_s"] = round(first.duration_s, 6)
    it = r.iterations
    if len(it):
        delta = it.peak_delta
        out["steady_peak_delta_bytes"] = int(delta.max())
        out["steady_peak_delta_bytes_median"] = int(median(delta))
        out["steady_inference_s_median"] = round(float(median(it.end_s - it.start_s)), 6)
        if first:
            out["first_inference_extra_bytes"] = first.peak_delta_bytes - int(median(delta))
    if steady:
        out["steady_growth_bytes"] = steady.growth_bytes
    return out


def json_report(r: MonitorResult, timeline: bool = True) -> dict:
    d = r.to_dict(timeline=timeline)
    if "model" in r.target:
        d["costs"] = model_costs(r)
    return d


def mib(b: float | None) -> str:
    return "-" if b is None else f"{b / (1 << 20):.2f} MiB"


def _signed(b: int) -> str:
    return ("+" if b >= 0 else "") + mib(b)


def _trend_growth(r: MonitorResult) -> float | None:
    """RSS growth over the span the allocation sites cover."""
    g, tl = r.allocations, r.timeline
    if g is None or g.t_from_s is None or not len(tl):
        return None
    a = np.searchsorted(tl.t_s, g.t_from_s)
    b = np.searchsorted(tl.t_s, g.t_to_s, side="right") - 1
    return float(tl.rss_bytes[b] - tl.rss_bytes[min(a, b)]) if b >= 0 else None


def text_report(r: MonitorResult) -> str:
    """A terminal summary: phases table, named costs, peak, leak verdict."""
    what = r.target.get("model") or " ".join(r.target.get("command", []))
    lines = [f"infermem monitor: {what}"]
    if "runtime" in r.target:
        ver = r.info.get("runtime_version", "")
        lines[0] += f" ({r.target['runtime']} {ver})".rstrip()
    if r.info.get("inputs"):
        lines.append(f"  inputs: {r.info['inputs']}")
    head = f"  {'phase':<18}{'start s':>9}{'dur s':>9}{'RSS start':>14}{'peak':>14}{'growth':>14}"
    if r.phases:
        lines += ["", head, "  " + "-" * (len(head) - 2)]
    for p in r.phases:
        mark = "" if p.complete else "  (did not finish)"
        lines.append(
            f"  {p.name[:17]:<18}{p.start_s:>9.3f}{p.duration_s:>9.3f}"
            f"{mib(p.start_rss_bytes):>14}{mib(p.peak_rss_bytes):>14}"
            f"{_signed(p.growth_bytes):>14}{mark}"
        )
    lines.append("")
    costs = model_costs(r) if "model" in r.target else {}
    labels = [
        ("import_and_load_bytes", "import + load"),
        ("session_bytes", "session creation"),
        ("first_inference_bytes", "first inference (kept)"),
        ("first_inference_extra_bytes", "first inference extra peak"),
        ("steady_peak_delta_bytes", "steady per-inference peak delta (max)"),
    ]
    for key, label in labels:
        if key in costs:
            lines.append(f"  {label:<40}{_signed(costs[key]):>14}")
    lines.append(f"  {'peak RSS':<40}{mib(r.peak_rss_bytes):>14}")
    if r.peak_uss_bytes is not None:
        lines.append(f"  {'peak USS (sampled)':<40}{mib(r.peak_uss_bytes):>14}")
    lines.append(f"  {'wall time':<40}{r.duration_s:>12.3f} s")
    if r.leak is not None and (r.leak.assessed or r.error is None):
        lines += ["", f"  {r.leak.reason}"]
    if r.leak_uss is not None and r.leak_uss.assessed:
        lines.append(f"  USS: {r.leak_uss.reason}")
    if r.allocations is not None:
        from .tracealloc import text_lines

        lines += ["", *text_lines(r.allocations, _trend_growth(r))]
    if r.error is not None:
        lines += ["", f"  error: {r.error.message}"]
    return "\n".join(lines)
