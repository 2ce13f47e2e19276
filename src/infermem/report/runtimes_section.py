"""The report's "Real runtimes side by side" section, from the document
`sidebyside.comparison_dict` returns (the same as `monitor --runtime all --json`).

Figures are measured in fresh processes (RSS, USS, TFLM's own report) or
derived from those measurements and infermem's plan (the unexplained
remainder); nothing here computes a new one.
"""

from __future__ import annotations

from .html_kit import Col, esc, hb, section, src, table


def _ms(s: float | None) -> str:
    return "–" if s is None else f"{s * 1e3:.2f}"


def runtimes_section(doc: dict) -> str:
    """One row per runtime; runtimes that could not run the model, with the reason."""
    rows, notes = [], []
    for r in doc["table"]:
        if r.get("unavailable"):
            notes.append(f"<li>{esc(r['runtime'])}: not run: {esc(r['unavailable'])}</li>")
            continue
        if r.get("error"):
            notes.append(f"<li>{esc(r['runtime'])}: error: {esc(r['error'])}</li>")
        rows.append([
            esc(r["runtime"]), hb(r.get("load_bytes")), hb(r.get("first_inference_bytes")),
            _ms(r.get("steady_inference_s")), hb(r.get("peak_rss_bytes")),
            hb(r.get("peak_uss_bytes")), hb(r.get("tflm_head_bytes")),
            hb(r.get("tflm_tail_bytes")), _signed(r.get("unexplained_bytes")),
        ])  # fmt: skip
    cols = [Col("runtime"), Col("load", True), Col("1st inference", True),
            Col("steady ms", True), Col("peak RSS", True), Col("peak USS", True),
            Col("TFLM head", True), Col("TFLM tail", True), Col("unexplained", True)]  # fmt: skip
    body = table(cols, rows) if rows else ""
    if notes:
        body += f"<ul>{''.join(notes)}</ul>"
    lead = (
        "The model run in each runtime, each in a fresh process: load (import, file, "
        "session), the first inference's peak above its start, the median steady "
        "inference, peak RSS and USS, TFLM's arena as TFLM reports it, and what the "
        "measured peak exceeds infermem's prediction by (runtime baseline from a "
        "one-operator model + file + weights copy + planned arena + TFLM tail). "
        + src("measured", "measured in each runtime")
    )
    return section("runtimes", "Real runtimes side by side", lead, body)


def _signed(n: int | None) -> str:
    if n is None:
        return "–"
    return ("+" if n >= 0 else "−") + hb(abs(n))
