"""The sections of the HTML report below the summary cards.

Each function lays out one part of a `ReportData`; none computes a figure
(differences and percentages of figures shown are the only arithmetic).
"""

from __future__ import annotations

from .fit_table import short_label
from .gather import ReportData
from .html_kit import Col, bar, collapsible, esc, hb, name, num, pct, section, src, table
from .units import human_count, shape_str

OPEN_ROWS = 40  # longer tables start folded


def live_section(d: ReportData, img: str) -> str:
    p = d.profile
    rows, classes = [], []
    for r in p.operators:
        outs = " ".join(name(n) for n, _ in r.outputs) or "–"
        shapes = esc(", ".join(shape_str(s) for _, s in r.outputs))
        rows.append([str(r.step), str(r.index), esc(r.type), outs, shapes, num(r.live_bytes),
                     bar(r.live_bytes, p.peak_bytes), esc(human_count(r.macs)),
                     str(r.live_count)])
        classes.append("peak" if r.step == p.peak_step else "")
    cols = [Col("step", True), Col("op", True), Col("type"), Col("output"), Col("shape"),
            Col("live B", True), Col(""), Col("MACs", True), Col("# live", True)]
    n = len(rows)
    body = img + _reorder_note(d) + collapsible(
        f"Per operator: {n} steps, peak row highlighted", table(cols, rows, classes),
        n <= OPEN_ROWS)
    lead = ("Bytes of arena tensors alive at each step of the file's operator order. "
            "Without overlapping buffers no plan can use less than the peak: it is the "
            "live-set lower bound. Dashed lines: the arenas planned below. "
            + src("computed"))
    return section("live", "Live memory per operator", lead, body)


def _reorder_note(d: ReportData) -> str:
    rp = d.reorder_profile
    if rp is None:
        return ('<p class="note">No operator order has a lower live-set peak than the '
                "file's own (searched by <code>schedule.best_order</code>).</p>")
    proven = {True: "proven optimal", False: "best found in the time limit",
              None: ""}[d.reorder_dmo.order_proven_optimal]
    return (f'<p class="note">Memory-optimal operator order ({esc(proven)}): peak '
            f"{num(rp.peak_bytes)} B instead of {num(d.profile.peak_bytes)} B "
            f"({pct(rp.peak_bytes / d.profile.peak_bytes - 1, signed=True)}), drawn dashed. "
            f"{src('computed')}</p>")


def planners_section(d: ReportData) -> str:
    from ..planners import STRATEGIES

    runtime = d.runtime.plan.arena_bytes
    top = max(p.arena_bytes for p in d.plans)
    rows, classes = [], []
    for p in d.plans:
        doc = (STRATEGIES[p.strategy].__doc__ or "").strip().splitlines()
        optimal = "proven" if p.optimal else ""
        rows.append([f"<code>{esc(p.strategy)}</code>", esc(doc[0] if doc else ""),
                     hb(p.arena_bytes), bar(p.arena_bytes, top), num(p.arena_bytes),
                     pct(p.gap, signed=True),
                     pct(p.arena_bytes / runtime - 1, signed=True) if runtime else "–",
                     esc(optimal), f"{p.seconds * 1000:,.1f}"])
        classes.append("runtime" if p.strategy == "tflm" else
                       "chosen" if p.strategy == d.strategy else "")
    lb = d.plans[0].lower_bound_bytes
    rows.append(["lower bound", "live-set peak of the planning problem: no plan goes below",
                 hb(lb), bar(lb, top), num(lb), "", "", "", ""])
    classes.append("ref")
    cols = [Col("strategy"), Col("what it does"), Col("arena", True), Col(""),
            Col("bytes", True), Col("vs bound", True), Col("vs TFLM", True),
            Col("optimal", True), Col("ms", True)]
    what = ("TFLM's own planning problem (scratch buffers included)"
            if d.graph.format == "tflite" else "the model's arena tensors")
    lead = (f"Every fast strategy on {what}, in the file's operator order, without overlaps. "
            "Orange edge: what the runtime does today; green edge: the strategy this report "
            f"uses. Each plan passed the validator. {src('computed')}")
    return section("planners", "Planner comparison", lead, table(cols, rows, classes))


def layout_section(d: ReportData, img: str) -> str:
    r, b, m = (x.plan.arena_bytes for x in (d.runtime, d.best, d.dmo))
    lead = ("Where each tensor sits in the arena: x = operator step, y = address, one box per "
            "buffer (hover for its name, size, offset and lifetime), the dashed line is the "
            "arena size. All three strips share one address scale; long models scroll "
            f"sideways. With DMO an output may start inside the input it replaces. "
            f"{src('computed')}")
    note = (f'<p class="note">Runtime {num(r)} B → infermem {num(b)} B '
            f"({pct(b / r - 1 if r else 0, signed=True)}) → with DMO {num(m)} B "
            f"({pct(m / r - 1 if r else 0, signed=True)}).</p>")
    return section("layout", "Arena layouts", lead, img + note)


def dmo_section(d: ReportData) -> str:
    rows, classes = [], []
    for x in d.dmo_rows:
        used = x.get("used", 0)
        how = x["method"] if x["max_overlap"] else (x["note"] or "–")
        dist = "–" if x["min_distance"] is None else num(x["min_distance"])
        rows.append([str(x["op"]), esc(x["type"]), name(x["output"], 24), name(x["input"], 24),
                     num(x["output_bytes"]), num(x["input_bytes"]), dist,
                     num(x["max_overlap"]), num(used), esc(how)])
        classes.append("used" if used else "")
    cols = [Col("op", True), Col("type"), Col("output"), Col("input"), Col("out B", True),
            Col("in B", True), Col("min dist B", True), Col("proven B", True),
            Col("used B", True), Col("method")]
    lead = ("Diagonal memory optimisation: an operator's output may overlap an input whose "
            "lifetime ends there, by as much as the kernel's read/write order makes safe. "
            "<em>proven</em>: the overlap derived for the kernel that runs it (method: "
            "<em>analytic</em> = closed-form rule from the loop order, <em>traced</em> = "
            "recorded reads and writes); <em>used</em>: what the DMO plan actually shares. "
            + src("computed"))
    if not rows:
        return section("dmo", "DMO: overlaps proven and used", lead,
                       '<p class="note">No operator output has an input whose lifetime ends '
                       "at that operator: nothing to overlap.</p>")
    may = sum(1 for x in d.dmo_rows if x["max_overlap"])
    used = [x.get("used", 0) for x in d.dmo_rows]
    summary = (f'<p class="note">{may} of {len(rows)} pairs may overlap; the plan overlaps '
               f"{sum(1 for u in used if u)} of them, {num(sum(used))} B in all: arena "
               f"{num(d.best.plan.arena_bytes)} B → {num(d.dmo.plan.arena_bytes)} B. "
               "For a .tflite, <code>infermem optimize --dmo</code> writes this plan into a "
               "copy of the model and verifies it in TFLM.</p>")
    body = summary + collapsible(f"Per operator: {len(rows)} candidate pairs",
                                 table(cols, rows, classes), len(rows) <= OPEN_ROWS)
    return section("dmo", "DMO: overlaps proven and used", lead, body)


def _mark(fits: bool | None, external: bool | None) -> str:
    if fits is None:
        return '<span class="na">n/a</span>'
    if fits:
        return '<span class="yes">✓</span>'
    return '<span class="ext">ext</span>' if external else '<span class="no">✗</span>'


def _kv_note(n: int) -> str:
    return (f" + the KV cache {num(n)} B (a decoder's past key/value inputs and present "
            "outputs, held outside the arena)" if n else "")


def fit_section(d: ReportData) -> str:
    n = d.fit.needs
    measured_tail = n.persistent.source.startswith("measured")
    level_rows = []
    for lv in n.levels:
        kind = "measured" if lv.name == "runtime" and lv.how.startswith("measured") else (
            "estimate" if lv.changes_model else "computed")
        level_rows.append([esc(lv.label), hb(lv.arena_bytes), num(lv.arena_bytes),
                           num(lv.ram_bytes), num(lv.flash_bytes),
                           f"{src(kind, 'what-if' if kind == 'estimate' else None)} "
                           f"{esc(lv.how)}"])
    levels = table([Col("level"), Col("arena", True), Col("arena B", True),
                    Col("RAM needed B", True), Col("flash needed B", True), Col("how")],
                   level_rows)
    names = [lv.name for lv in n.levels]
    dev_rows = []
    for f in d.fit.devices:
        dv = f.device
        dev_rows.append([esc(dv.name), hb(dv.sram_bytes),
                         hb(dv.flash_bytes) if dv.flash_bytes is not None else "card",
                         *(_mark(f.fits[k], f.fits_external[k]) for k in names),
                         esc(f.verdict)])
    cols = [Col("device"), Col("SRAM", True), Col("flash", True),
            *(Col(short_label(k, n.format), center=True) for k in names), Col("verdict")]
    devices = table(cols, dev_rows)
    note = (f'<p class="note">RAM needed = arena + the runtime\'s persistent data '
            f"{num(n.persistent.bytes)} B "
            f"{src('measured' if measured_tail else 'estimate')} ({esc(n.persistent.source)})"
            f"{_kv_note(n.kv_cache_bytes)}. "
            f"Flash needed = weights + model structure {num(n.structure_bytes)} B; "
            "the runtime's own code and your application are not included. "
            "✓ fits on-chip · <span class=\"ext\">ext</span> only with the board's external "
            "memory · ✗ does not fit.</p>")
    lead = ("RAM and flash at each level of optimisation, each adding to the one before, "
            "checked against real targets (devices from infermem's catalog; choose with "
            "<code>--device</code>).")
    body = (f"<h3>What the model needs at each level</h3>{levels}"
            f"<h3>Does it fit?</h3>{devices}{note}")
    return section("fit", "Device fit", lead, body)
