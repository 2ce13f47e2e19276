"""The report sections that explain the peak and the flash, the download links
(CSV / JSON as data URLs: the page stays one self-contained file), and the
notes on what each figure includes."""

from __future__ import annotations

import base64
import csv
import io
import json

from .gather import ReportData
from .html_kit import Col, collapsible, esc, hb, name, num, pct, section, src, table
from .peak import OpRef, peak_tensors, weights_per_operator
from .units import shape_str

OPEN_ROWS = 40


def _op(r: OpRef | None) -> str:
    return "graph input" if r is None else f"#{r.index} {esc(r.type)}"


def _ops(refs) -> str:
    if not refs:
        return "graph output"
    shown = ", ".join(_op(r) for r in refs[:4])
    return shown + (f" (+{len(refs) - 4} more)" if len(refs) > 4 else "")


def peak_section(d: ReportData) -> str:
    g, p = d.graph, d.profile
    rows = peak_tensors(g, p)
    if not rows:
        return section("peak", "What makes the peak", "The model has no operators.", "")
    op = p.operators[p.peak_step]
    body_rows = [[name(r.name, 40), esc(shape_str(r.shape)), esc(r.dtype), num(r.bytes),
                  pct(r.bytes / p.peak_bytes if p.peak_bytes else 0), _op(r.producer),
                  _ops(r.consumers), f"{r.first}–{r.last}",
                  esc(", ".join(r.views)) or "–"] for r in rows]
    body_rows.append(["<strong>total (the peak)</strong>", "", "",
                      f"<strong>{num(sum(r.bytes for r in rows))}</strong>", "100.0%",
                      "", "", "", ""])
    cols = [Col("tensor"), Col("shape"), Col("dtype"), Col("bytes", True), Col("of peak", True),
            Col("written by"), Col("read by"), Col("live steps"), Col("views")]
    lead = (f"The {len(rows)} arena tensors alive at step {p.peak_step} (operator "
            f"#{op.index}, {esc(op.type)}), largest first; together they are the live-set "
            f"peak of {num(p.peak_bytes)} B. To lower it, shrink or split the largest, or "
            f"run its readers sooner. {src('computed')}")
    note = ('<p class="note">Sizes are rounded up to the arena alignment '
            f"({d.alignment} B). Kernel scratch buffers and the runtime's persistent data "
            "are not included here (TFLM's measured head includes scratch). Views "
            "(Reshape, Flatten, ...) share their tensor's bytes and are listed with it.</p>")
    return section("peak", "What makes the peak", lead,
                   table(cols, body_rows) + note)


def weights_section(d: ReportData) -> str:
    g, p = d.graph, d.profile
    rows = sorted(weights_per_operator(g), key=lambda r: (-r.bytes, r.index))
    total = p.weights_bytes
    body = [[f"#{r.index}", esc(r.type), hb(r.bytes), num(r.bytes),
             pct(r.bytes / total if total else 0), " ".join(name(t, 28) for t in r.tensors)]
            for r in rows]
    cols = [Col("op", True), Col("type"), Col("weights", True), Col("bytes", True),
            Col("of flash weights", True), Col("tensors")]
    lead = (f"The constant tensors each operator reads, largest first; {num(total)} B of "
            f"weights in all. {src('computed')}")
    note = ('<p class="note">A weight shared by several operators is listed with each, so '
            "the rows can add up to more than the total, which counts it once. Flash needed "
            "(Device fit) adds the model's structure; the runtime's own code is not "
            "included.</p>")
    shown = collapsible(f"Weights of {len(rows)} operators", table(cols, body),
                        len(rows) <= OPEN_ROWS)
    return section("weights", "Weights per operator", lead, shown + note)


def _csv(rows: list[list[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _data_url(text: str, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def downloads(d: ReportData, doc: dict) -> dict[str, tuple[str, str]]:
    """file name -> (mime, text) of everything the page offers to download."""
    g, p = d.graph, d.profile
    ops = [["step", "operator", "type", "live_bytes", "live_tensors", "macs"]]
    ops += [[r.step, r.index, r.type, r.live_bytes, r.live_count, r.macs or ""]
            for r in p.operators]
    peak = [["tensor", "bytes", "shape", "dtype", "producer", "consumers", "first", "last"]]
    peak += [[r.name, r.bytes, "x".join(map(str, r.shape)), r.dtype,
              "" if r.producer is None else r.producer.index,
              " ".join(str(c.index) for c in r.consumers), r.first, r.last]
             for r in peak_tensors(g, p)]
    plan = [["buffer", "tensor_index", "bytes", "first", "last", "offset"]]
    pl = d.best.plan
    plan += [[b.name, "" if b.index is None else b.index, b.size, b.first, b.last,
              pl.offsets.get(b.name, "")] for b in d.best.problem.buffers]
    stem = g.name
    return {
        f"{stem}_report.json": ("application/json", json.dumps(doc, indent=1)),
        f"{stem}_operators.csv": ("text/csv", _csv(ops)),
        f"{stem}_peak_tensors.csv": ("text/csv", _csv(peak)),
        f"{stem}_plan_{d.strategy}.csv": ("text/csv", _csv(plan)),
    }


def downloads_section(d: ReportData, doc: dict) -> str:
    links = []
    for fname, (mime, text) in downloads(d, doc).items():
        links.append(f'<li><a download="{esc(fname)}" href="{_data_url(text, mime)}">'
                     f"{esc(fname)}</a> ({num(len(text.encode('utf-8')))} B)</li>")
    lead = ("The figures of this page as files, embedded in it (nothing is fetched): the "
            "whole report as JSON (as <code>infermem report --json</code>), the operator "
            "table, the peak tensors and infermem's plan as CSV.")
    return section("downloads", "Download the data", lead, f"<ul>{''.join(links)}</ul>")


NOTES = (
    "<strong>Weights (flash)</strong>: constant tensors, each stored tensor counted once. "
    "<strong>Flash needed</strong> adds the model's structure (the file without its "
    "weights); the runtime's own code (interpreter, kernels) and your application are "
    "not included.",
    "<strong>Live-set peak</strong>: arena tensors alive at one step, sizes aligned; kernel "
    "scratch and the runtime's persistent data are not included. No plan without overlaps "
    "can be smaller in this operator order.",
    "<strong>TFLM's planner</strong>: TFLM's greedy planner re-implemented on TFLM's own "
    "problem (kernel scratch included for a .tflite).",
    "<strong>RAM needed</strong> (Device fit): arena + the runtime's persistent data.",
)
TFLITE_NOTES = (
    "<strong>TFLM's arena head</strong>: measured by TFLM's allocator; its persistent "
    "<i>tail</i> is shown apart.",
    "<strong>+ DMO</strong>: outputs placed over their inputs where proven safe for TFLM's "
    "reference kernels; <code>infermem optimize --dmo</code> writes it as an offline plan "
    "TFLM runs as is.",
)
ONNX_NOTES = (
    "<strong>+ DMO</strong> (ONNX): proven for <i>infermem's own arena executor</i> only "
    "(<code>infermem verify --dmo</code>); no deployable ONNX runtime applies these "
    "overlaps.",
)


def notes_section(d: ReportData) -> str:
    """What each headline figure includes, and what it leaves out."""
    items = NOTES + (TFLITE_NOTES if d.graph.format == "tflite" else ONNX_NOTES)
    lis = "".join(f"<li>{x}</li>" for x in items)
    return section("notes", "What the figures include", "Read the numbers with these in mind.",
                   f'<ul class="notes">{lis}</ul>')
