"""Arena layouts as inline SVG: one strip per plan, x = operator step, y =
address, one rectangle per buffer with a `<title>` (the browser's hover
tooltip: name, bytes, offset, lifetime).  No script: the page stays readable
anywhere.  Long models get wider strips (at least `STEP_PX` per step) inside a
horizontally scrolling box, so a 400-operator model is a scrollable strip, not
a smear; all strips share one address scale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..planners.problem import Plan, Problem
from .html_kit import esc

STEP_PX = 6  # minimum width of one operator step
MIN_WIDTH = 720
HEIGHT = 220  # plot height of the tallest arena
MARGIN_LEFT, MARGIN_TOP, MARGIN_BOTTOM = 64, 22, 22


@dataclass(frozen=True)
class Strip:
    title: str
    problem: Problem
    plan: Plan
    colour: str  # CSS colour of the buffers


def _ticks(top: int) -> list[tuple[int, str]]:
    """Four or five round address ticks up to `top`, labelled in one unit
    (KiB from 10 KiB up, else bytes)."""
    unit, name = (1024, "KiB") if top >= 10 * 1024 else (1, "B")
    span = top / unit
    if span <= 0:
        return [(0, f"0 {name}")]
    raw = span / 4
    mag = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = int(span // step) + 1
    return [(int(k * step * unit), f"{k * step:,g} {name}") for k in range(count)]


def strip_svg(s: Strip, steps: int, top: int) -> str:
    """One strip: the plan's buffers on a shared scale (`steps` wide, `top` high)."""
    width = max(MIN_WIDTH, MARGIN_LEFT + STEP_PX * max(steps, 1) + 12)
    plot_w = width - MARGIN_LEFT - 12
    sx = plot_w / max(steps, 1)
    sy = HEIGHT / max(top, 1)
    total_h = MARGIN_TOP + HEIGHT + MARGIN_BOTTOM

    def y(addr: int) -> float:
        return MARGIN_TOP + HEIGHT - addr * sy

    parts = [f'<svg width="{width}" height="{total_h}" '
             f'viewBox="0 0 {width} {total_h}" role="img" class="layout">',
             f"<title>{esc(s.title)}: {s.plan.arena_bytes:,} B</title>",
             f'<text x="{MARGIN_LEFT}" y="14" class="t">{esc(s.title)} · '
             f"{s.plan.arena_bytes:,} B</text>"]
    for t, label in _ticks(top):
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{width - 12}" y1="{y(t):.1f}" '
                     f'y2="{y(t):.1f}" class="g"/><text x="{MARGIN_LEFT - 6}" '
                     f'y="{y(t) + 4:.1f}" class="a">{label}</text>')
    for b in s.problem.buffers:
        off = s.plan.offsets.get(b.name)
        if off is None or b.size == 0:
            continue
        x0 = MARGIN_LEFT + b.first * sx
        w = max((b.last - b.first + 1) * sx - 0.5, 1.0)
        h = max(b.size * sy, 0.8)
        tip = (f"{b.name}: {b.size:,} B at offset {off:,}, steps {b.first}–{b.last}"
               + (f", tensor {b.index}" if b.index is not None else ""))
        parts.append(f'<rect x="{x0:.1f}" y="{y(off + b.size):.1f}" width="{w:.1f}" '
                     f'height="{h:.1f}" fill="{esc(s.colour)}"><title>{esc(tip)}</title></rect>')
    arena_y = y(s.plan.arena_bytes)
    parts.append(f'<line x1="{MARGIN_LEFT}" x2="{width - 12}" y1="{arena_y:.1f}" '
                 f'y2="{arena_y:.1f}" class="arena"><title>arena {s.plan.arena_bytes:,} B'
                 "</title></line>")
    parts.append(f'<text x="{MARGIN_LEFT}" y="{total_h - 6}" class="a0">step 0</text>'
                 f'<text x="{width - 12}" y="{total_h - 6}" class="a">step {steps - 1}</text>')
    parts.append("</svg>")
    return "".join(parts)


def layout_svg(strips: Sequence[Strip]) -> str:
    """All strips on one address scale, each in a horizontally scrolling box."""
    steps = max((x.problem.steps for x in strips), default=1)
    top = max((x.plan.arena_bytes for x in strips), default=1)
    return "".join(f'<div class="scroll svgbox">{strip_svg(x, steps, top)}</div>'
                   for x in strips)


CSS = """
.svgbox{border:1px solid var(--line);border-radius:8px;margin-top:10px;padding:4px 0}
svg.layout{display:block}
svg.layout rect{stroke:#fff;stroke-width:.4;opacity:.85}
svg.layout rect:hover{opacity:1;stroke:#1f2933;stroke-width:1}
svg.layout .g{stroke:#eef1f4;stroke-width:1}
svg.layout .arena{stroke:#1f2933;stroke-width:1.2;stroke-dasharray:4 3}
svg.layout text{font:11px -apple-system,Segoe UI,Roboto,Arial,sans-serif;fill:#52606d}
svg.layout .a{text-anchor:end}
svg.layout .t{font-weight:600;fill:#1f2933}
"""
