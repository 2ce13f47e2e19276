"""`infermem report`: one self-contained HTML page from a `ReportData`.

`render(data)` is a pure function: it only lays out what `gather` collected.
The page carries its CSS inline and its plots as base64 PNG, runs no script,
and escapes every string that came from the model file (see `html_kit`).
"""

from __future__ import annotations

import datetime

from .. import __version__
from .gather import ReportData
from .html_kit import esc, hb, num, pct, png, section, src
from .html_peak import downloads_section, notes_section, peak_section, weights_section
from .html_sections import (
    dmo_section,
    fit_section,
    layout_section,
    live_section,
    planners_section,
)
from .layout_svg import CSS as SVG_CSS

CSS = """
:root{--ink:#1f2933;--muted:#7b8794;--soft:#52606d;--line:#e4e7eb;--bg:#f5f6f8;
--accent:#3a6ea5;--good:#4c8c6a;--bad:#b5534a;--warn:#b7852f;--runtime:#c0684f;--dmo:#7a5ea8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,
sans-serif}
main{max-width:1200px;margin:0 auto;padding:36px 28px 56px}
.kicker{text-transform:uppercase;letter-spacing:.09em;font-size:12px;color:var(--muted);
font-weight:600}
h1{font-size:30px;line-height:1.2;margin:4px 0 6px;font-weight:650;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:13px;overflow-wrap:anywhere}
.cards{display:grid;grid-template-columns:repeat(5,minmax(0,1fr));gap:14px;margin:26px 0 6px}
@media (max-width:900px){.cards{grid-template-columns:repeat(2,minmax(0,1fr))}
.cards .card.hero{grid-column:span 2}}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px 12px;
box-shadow:0 1px 2px rgba(31,41,51,.04);display:flex;flex-direction:column}
.card .label{font-size:11.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em;
font-weight:600}
.card .value{font-size:25px;font-weight:650;margin:4px 0 0;font-variant-numeric:tabular-nums;
overflow-wrap:anywhere;line-height:1.25}
.card .exact{font-size:12.5px;color:var(--soft);font-variant-numeric:tabular-nums;margin:2px 0 8px}
.card .src{margin-top:auto;align-self:flex-start}
.card.hero{background:var(--good);border-color:var(--good);color:#fff;
grid-column:span var(--span,1)}
.card.hero .label,.card.hero .exact{color:rgba(255,255,255,.85)}
.card.hero .src{background:rgba(255,255,255,.18);color:#fff}
.card.flat{grid-column:span var(--span,1)}
.card.model .value{font-size:19px}
section{background:#fff;border:1px solid var(--line);border-radius:12px;padding:22px 26px 24px;
margin-top:22px}
h2{font-size:19px;margin:0 0 6px;font-weight:650}
.lead{color:var(--soft);margin:0 0 16px;font-size:14px;max-width:95ch}
.note{color:var(--soft);font-size:13px;margin:12px 0 0;max-width:110ch}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin-top:6px}
th{font-weight:600;text-align:left;color:var(--muted);font-size:11.5px;text-transform:uppercase;
letter-spacing:.05em;border-bottom:1px solid var(--line);padding:8px 10px;white-space:nowrap}
td{padding:6px 10px;border-bottom:1px solid #f0f2f4;vertical-align:middle}
tbody tr:hover td{background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mid,th.mid{text-align:center}
td code{white-space:nowrap}
h3{font-size:14px;margin:18px 0 2px;color:var(--soft);font-weight:600}
tr.peak td{background:#fbf0ec}
tr.runtime td:first-child{box-shadow:inset 3px 0 var(--runtime)}
tr.chosen td:first-child{box-shadow:inset 3px 0 var(--good)}
tr.used td{background:#f3f7f4}
tr.ref td{color:var(--muted);font-style:italic}
.src{display:inline-block;font-size:11px;line-height:1.6;padding:0 8px;border-radius:999px;
white-space:nowrap;font-weight:500}
.src.computed{background:#e8eef6;color:#2f5d8c}
.src.measured{background:#e3f1e8;color:#33704f}
.src.estimate{background:#f6eedd;color:#86601c}
.bar{display:inline-block;width:110px;height:8px;background:#eef1f4;border-radius:4px;
vertical-align:middle;overflow:hidden}
.bar>span{display:block;height:100%;border-radius:4px}
.name{display:inline-block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
vertical-align:bottom;font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f0f2f4;
padding:1px 5px;border-radius:4px}
details{margin-top:14px}
summary{cursor:pointer;color:var(--accent);font-weight:600;font-size:14px}
img{max-width:100%;height:auto;display:block;margin:4px auto 0}
.yes{color:var(--good);font-weight:700}.no{color:var(--bad);font-weight:700}
.ext{color:var(--warn);font-weight:600}.na{color:var(--muted)}
.legend{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;color:var(--soft);margin-top:10px}
.swatch{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:6px}
footer{color:var(--muted);font-size:12.5px;margin-top:26px;line-height:1.7}
footer .src{margin-right:4px}
"""


CARD_COLUMNS = 5  # the saving card fills the last row


def _card(label: str, value: str, exact: str, source: str, cls: str = "", span: int = 1) -> str:
    """`value`, `exact` and `source` are markup from the kit's builders."""
    style = f' style="--span:{int(span)}"' if span > 1 else ""
    return (f'<div class="card {esc(cls)}"{style}><div class="label">{esc(label)}</div>'
            f'<div class="value">{value}</div><div class="exact">{exact}</div>{source}</div>')


def _bytes_card(label: str, n: int, sub: str, source: str, cls: str = "") -> str:
    return _card(label, hb(n), f"{num(n)} B{' · ' + sub if sub else ''}", source, cls)


def cards(d: ReportData) -> str:
    g, p = d.graph, d.profile
    peak = p.operators[p.peak_step] if p.peak_step is not None else None
    where = f"at step {peak.step} ({esc(peak.type)})" if peak else "no operators"
    out = [
        _card("model", esc(g.name), f"{esc(g.format)} · {len(g.operators)} operators · "
              f"{len(g.tensors)} tensors", src("computed", "read from the file"), "model"),
        _bytes_card("weights (flash)", p.weights_bytes, "", src("computed")),
        _bytes_card("live-set peak", p.peak_bytes, where, src("computed")),
        _bytes_card("TFLM's planner", d.runtime.plan.arena_bytes, "greedy, re-implemented",
                    src("computed")),
    ]
    if g.format == "tflite":
        if d.tflm is not None:
            out.append(_bytes_card("TFLM's arena head", d.tflm.head_bytes,
                                   f"+ tail {num(d.tflm.tail_bytes)} B", src("measured")))
        else:
            out.append(_card("TFLM's arena head", "–", esc(d.tflm_note.split(":")[0]),
                             src("measured", "not measured")))
    bp = d.best.plan
    gap = "equals the lower bound" if bp.gap == 0 else f"{pct(bp.gap, signed=True)} vs bound"
    out += [
        _bytes_card(f"infermem {d.strategy}", bp.arena_bytes, gap, src("computed")),
        _bytes_card("+ DMO" if g.format == "tflite" else "+ DMO (executor only)",
                    d.dmo.plan.arena_bytes, "outputs over inputs", src("computed")),
        _bytes_card("+ reorder + DMO", d.reorder_dmo.plan.arena_bytes,
                    "memory-optimal order", src("computed")),
    ]
    against = "TFLM's measured head" if d.tflm is not None else "TFLM's planner"
    saved = d.runtime_bytes - d.infermem_bytes
    what = (f"{num(saved)} B less than {against}" if saved > 0 else
            f"the runtime's arena is already as small ({against})" if saved == 0 else
            f"{num(-saved)} B more than {against}")
    out.append(_card("saving vs the runtime", esc(pct(d.saving)), what,
                     src("measured" if d.tflm is not None else "computed",
                         "infermem's plan vs " + ("TFLM, measured" if d.tflm is not None
                                                  else "TFLM's planner")),
                     "hero" if saved > 0 else "flat",
                     CARD_COLUMNS - len(out) % CARD_COLUMNS))
    return f'<div class="cards">{"".join(out)}</div>'


def _header(d: ReportData) -> str:
    g = d.graph
    return (
        '<header><div class="kicker">infermem memory report</div>'
        f"<h1>{esc(g.name)}</h1>"
        f'<div class="meta">{esc(d.path)} · {esc(g.format)} · arena alignment '
        f"{d.alignment} B · strategy <code>{esc(d.strategy)}</code> · time limit "
        f"{d.time_limit:g} s</div>"
        + "".join(f'<div class="meta">{esc(n)}</div>' for n in g.meta.get("shape_notes", ()))
        + "</header>"
    )


def _footer(d: ReportData) -> str:
    s = d.seconds
    parts = " · ".join(f"{esc(k)} {v:.2f} s" for k, v in s.items())
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (
        "<footer>"
        f"{src('computed')} planned or counted by infermem from the model file, no runtime run. "
        f"{src('measured')} reported by TFLite Micro's own allocator "
        f"(<code>print_allocations</code>) in a child process. "
        f"{src('estimate')} fitted formula, stated as such.<br>"
        f"Every plan shown passed infermem's validator. TFLM: {esc(d.tflm_note)}.<br>"
        f"Gathered in {sum(s.values()):.2f} s ({parts}). "
        f"infermem {esc(__version__)}, {esc(when)}.</footer>"
    )


def render(d: ReportData, plots: dict[str, bytes] | None = None,
           runtimes: dict | None = None, patched=None) -> str:
    """The whole page.  `plots` (name -> PNG) default to `make_plots(d)`; the
    arena layouts are inline SVG (`layout_svg`), one hover title per tensor;
    `runtimes`: a `sidebyside.comparison_dict` document, shown as a section;
    `patched`: an `api.patching.PatchProfileResult`, shown after the live memory."""
    from .layout_svg import layout_svg
    from .report_json import report_json
    from .runtimes_section import runtimes_section

    plots = make_plots(d) if plots is None else plots
    body = "".join([
        _header(d), cards(d), notes_section(d),
        live_section(d, png(plots["live"], "live bytes per operator step")),
        _patch(patched),
        peak_section(d), weights_section(d),
        planners_section(d),
        layout_section(d, layout_svg(layout_strips(d))),
        dmo_section(d), fit_section(d),
        runtimes_section(runtimes) if runtimes else "",
        downloads_section(d, report_json(d)),
        _footer(d),
    ])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>infermem report: {esc(d.graph.name)}</title><style>{CSS}{SVG_CSS}</style>"
        "</head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _patch(r) -> str:
    if r is None:
        return ""
    from .html_patch import patch_section
    from .plots import patch_plot

    img = "" if r.after is None else png(
        patch_plot(r.before.profile, r.after.profile, r.stage_before.stage_ops,
                   r.stage_after.stage_ops), "live bytes per operator step, before and after")
    return patch_section(r, img)


def make_plots(d: ReportData) -> dict[str, bytes]:
    from .plots import DMO, GOOD, RUNTIME, live_plot

    lines = {
        f"TFLM's planner ({d.runtime.plan.arena_bytes:,} B)":
            (d.runtime.plan.arena_bytes, RUNTIME),
        f"infermem {d.strategy} ({d.best.plan.arena_bytes:,} B)": (d.best.plan.arena_bytes, GOOD),
        f"+ DMO ({d.dmo.plan.arena_bytes:,} B)": (d.dmo.plan.arena_bytes, DMO),
    }
    return {"live": live_plot(d.profile, lines, d.reorder_profile)}


def layout_strips(d: ReportData) -> list:
    from .layout_svg import Strip
    from .plots import DMO, GOOD, RUNTIME

    return [
        Strip("runtime: TFLM's planner (tflm)", d.runtime.problem, d.runtime.plan, RUNTIME),
        Strip(f"infermem ({d.strategy})", d.best.problem, d.best.plan, GOOD),
        Strip(f"infermem ({d.strategy}) + DMO", d.dmo.problem, d.dmo.plan, DMO),
    ]


__all__ = ["CSS", "cards", "layout_strips", "make_plots", "render", "section"]
