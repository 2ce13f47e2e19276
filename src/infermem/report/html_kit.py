"""Small HTML builders for the report: every dynamic string goes through `esc`.

A model file is untrusted input: its tensor names, operator types and model
name reach the page, so nothing is interpolated unescaped.  Builders return
strings of markup; callers pass markup only from these builders.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from .units import human_bytes

SOURCES = {
    "computed": "computed from the model",
    "measured": "measured in TFLite Micro",
    "estimate": "estimate",
}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def num(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def hb(n: int | None) -> str:
    return "–" if n is None else esc(human_bytes(n))


def pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.1%}".replace("-", "−") if signed else f"{x:.1%}"


def src(kind: str, text: str | None = None) -> str:
    """The provenance pill every figure carries."""
    return f'<span class="src {esc(kind)}">{esc(text or SOURCES[kind])}</span>'


def name(text: str, width: int = 32) -> str:
    """A tensor name shown short, full on hover: the first of TFLite's
    ';'-joined names, cut on the left (the end of a path is what differs)."""
    short = text.split(";")[0]
    if len(short) > width:
        short = "…" + short[-(width - 1):]
    return f'<span class="name" title="{esc(text)}">{esc(short)}</span>'



def bar(value: int, top: int, colour: str = "var(--accent)") -> str:
    width = 0.0 if top <= 0 else max(0.0, min(100.0, 100.0 * value / top))
    return (f'<span class="bar"><span style="width:{width:.1f}%;background:{esc(colour)}">'
            "</span></span>")


def png(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{esc(alt)}">'


@dataclass(frozen=True)
class Col:
    label: str
    numeric: bool = False  # right-aligned, tabular figures
    center: bool = False  # marks (✓ / ✗)

    @property
    def attr(self) -> str:
        return ' class="num"' if self.numeric else ' class="mid"' if self.center else ""


def table(cols: Sequence[Col], rows: Sequence[Sequence[str]],
          classes: Sequence[str] | None = None) -> str:
    """`rows` hold markup (already escaped by the builders above)."""
    head = "".join(f"<th{c.attr}>{esc(c.label)}</th>" for c in cols)
    body = []
    for i, row in enumerate(rows):
        cls = classes[i] if classes else ""
        cells = "".join(f"<td{c.attr}>{v}</td>" for c, v in zip(cols, row, strict=True))
        body.append(f'<tr class="{esc(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def collapsible(summary: str, content: str, open_: bool) -> str:
    return (f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>"
            f"{content}</details>")


def section(ident: str, title: str, lead: str, body: str) -> str:
    """`lead` is markup (callers escape what they put in it)."""
    return (f'<section id="{esc(ident)}"><h2>{esc(title)}</h2>'
            f'<p class="lead">{lead}</p>{body}</section>')
