"""The sweep's HTML page: one self-contained matrix, models × devices.

Each cell names the smallest chosen level at which the model fits the
device on-chip, coloured by that level; `ext` where it fits only using the
board's external memory, `no` where it fits at no level.  A failed model's
row is marked and says why.  The table reads as is; a tiny inline script
sorts it by a column when its header is clicked (numbers by value).  Every
string from a model or a file name is escaped.
"""

from __future__ import annotations

from ..report.fit_table import SHORT
from ..report.html_kit import esc, hb
from .writers import fit_cell

COLOURS = {"runtime": "#4c8c6a", "infermem": "#3a6ea5", "reorder": "#5f8fc4",
           "dmo": "#7a5ea8", "fuse": "#4f8f8f", "patch": "#a55a5a", "int8": "#b7852f"}
CSS = """
body{margin:0;background:#f5f6f8;color:#1f2933;font:14px/1.5 -apple-system,BlinkMacSystemFont,
"Segoe UI",Roboto,Arial,sans-serif}
main{padding:28px}h1{font-size:24px;margin:0 0 4px}.meta{color:#7b8794;font-size:13px}
.legend{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0;font-size:13px}
.scroll{overflow-x:auto;background:#fff;border:1px solid #e4e7eb;border-radius:10px}
table{border-collapse:collapse;font-size:12.5px}
th{position:sticky;top:0;background:#fff;font-weight:600;color:#52606d;padding:6px 8px;
border-bottom:1px solid #e4e7eb;cursor:pointer;white-space:nowrap}
th.dev{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;max-height:160px}
td{padding:4px 8px;border-bottom:1px solid #f0f2f4;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.lv{text-align:center;color:#fff;font-weight:600}
td.no{text-align:center;color:#b5534a}td.ext{text-align:center;color:#b7852f;font-weight:600}
td.na{text-align:center;color:#7b8794}
tr.failed td{background:#fbf0ec}td.why{color:#b5534a;white-space:normal;max-width:60ch}
.chip{display:inline-block;padding:0 8px;border-radius:999px;color:#fff;font-weight:600}
"""
SCRIPT = """
document.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),up=th.dataset.dir!=='asc';
th.dataset.dir=up?'asc':'desc';function key(r){var c=r.cells[i];
var v=c?(c.dataset.sort||c.textContent):'';var n=parseFloat(v);return isNaN(n)?v:n;}
rows.sort(function(a,b){var x=key(a),y=key(b);
var r=(typeof x===typeof y)?(x<y?-1:x>y?1:0):(typeof x==='number'?-1:1);return up?r:-r;});
rows.forEach(function(r){tb.appendChild(r);});});});
"""


def _cell(dev: dict, levels: list[str]) -> str:
    lv = dev["smallest_level"]
    if lv is not None:
        return (f'<td class="lv" style="background:{COLOURS[lv]}" data-sort="{levels.index(lv)}">'
                f"{esc(SHORT[lv])}</td>")
    ext = next((x for x in levels if fit_cell(dev, x) == "ext"), None)
    if ext is not None:
        return f'<td class="ext" data-sort="{len(levels)}" title="{esc(dev["verdict"])}">ext</td>'
    if all(v is None for v in dev["fits"].values()):
        return f'<td class="na" data-sort="{len(levels) + 2}">n/a</td>'
    return f'<td class="no" data-sort="{len(levels) + 1}" title="{esc(dev["verdict"])}">no</td>'


def _best(m: dict, key: str) -> int | None:
    """The smallest figure over the levels that keep the model as it is."""
    vals = [v[key] for v in m["levels"].values()
            if v.get(key) is not None and not v["changes_model"]]
    return min(vals) if vals else None


def _row(m: dict, devices: list[str], levels: list[str]) -> str:
    name = f'<td title="{esc(m["model"])}">{esc(m["name"])}</td><td>{esc(m["format"])}</td>'
    if m["status"] != "ok":
        why = f'{esc(m["error_kind"])}: {esc(m["error"])}'
        return (f'<tr class="failed">{name}<td colspan="2">FAILED</td>'
                f'<td class="why" colspan="{len(devices)}">{why}</td></tr>')
    ram, flash = _best(m, "ram_bytes"), _best(m, "flash_bytes")
    cells = "".join(_cell(m["devices"][d], levels) for d in devices)
    return (f'<tr>{name}<td class="num" data-sort="{ram}">{hb(ram)}</td>'
            f'<td class="num" data-sort="{flash}">{hb(flash)}</td>{cells}</tr>')


def to_html(doc: dict) -> str:
    levels = doc["options"]["levels"]
    devices = [d["name"] for d in doc["devices"]]
    s = doc["summary"]
    legend = "".join(f'<span class="chip" style="background:{COLOURS[lv]}">{esc(SHORT[lv])}</span>'
                     for lv in levels)
    head = "".join(f'<th class="dev">{esc(d)}</th>' for d in devices)
    rows = "".join(_row(m, devices, levels) for m in doc["models"])
    state = "" if s["complete"] else f" — incomplete: {s['done']} of {s['models']} done"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>infermem sweep</title>
<style>{CSS}</style></head><body><main>
<h1>infermem sweep: {s['models']} models × {len(devices)} devices</h1>
<div class="meta">{s['done']} done, {s['failed']} failed, {s['cached']} from the cache, \
{s['seconds']} s; infermem {esc(doc['infermem_version'])}{esc(state)}</div>
<div class="legend">smallest level that fits on-chip: {legend}
<span>ext: only with external memory</span><span>no: fits at no level</span>
<span>RAM / flash: the smallest at a level that keeps the model as it is</span>
<span>click a header to sort</span></div>
<div class="scroll"><table><thead><tr><th>model</th><th>format</th><th>RAM</th><th>flash</th>
{head}</tr></thead><tbody>
{rows}
</tbody></table></div></main><script>{SCRIPT}</script></body></html>
"""
