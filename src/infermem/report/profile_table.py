"""The terminal view of a static profile.

A fixed-width text table rather than a rich Table: a 400-operator model must
print in milliseconds, and the live column carries a bar so the peak is seen
before it is read.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from ..kvcache import kv_line
from ..profile import Profile
from .units import human_bytes, human_count, shape_str

BAR_WIDTH = 20
BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: int, peak: int, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of `value / peak` in eighths of a character."""
    if peak <= 0:
        return " " * width
    eighths = round(value / peak * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[rest] if rest else "")).ljust(width)


def render_profile(p: Profile, console: Console) -> None:
    shapes = [", ".join(shape_str(s) for _, s in r.outputs) for r in p.operators]
    w_type = max([len("type")] + [len(r.type) for r in p.operators])
    w_shape = min(28, max([len("output shape")] + [len(s) for s in shapes]))
    header = (f"{'step':>5} {'op':>5}  {'type':<{w_type}}  {'output shape':<{w_shape}}  "
              f"{'live':>10}  {'':<{BAR_WIDTH}}  {'MACs':>8}  {'#live':>5}")
    text = Text()
    text.append(f"{p.model} ({p.format}): live arena per operator, in the file's order\n",
                style="bold")
    text.append(header + "\n", style="bold underline")
    for r, shape in zip(p.operators, shapes, strict=True):
        if len(shape) > w_shape:
            shape = shape[: w_shape - 1] + "…"
        line = (f"{r.step:>5} {r.index:>5}  {r.type:<{w_type}}  {shape:<{w_shape}}  "
                f"{human_bytes(r.live_bytes):>10}  {bar(r.live_bytes, p.peak_bytes)}  "
                f"{human_count(r.macs):>8}  {r.live_count:>5}")
        text.append(line + ("  ◀ peak" if r.step == p.peak_step else "") + "\n",
                    style="bold red" if r.step == p.peak_step else None)
    console.print(text, highlight=False, soft_wrap=True, end="")
    peak = p.operators[p.peak_step] if p.peak_step is not None else None
    where = f" at step {peak.step} (operator {peak.index}, {peak.type})" if peak else ""
    console.print(
        f"\n[bold]RAM (arena) live-set peak:[/bold] {human_bytes(p.peak_bytes)} "
        f"({p.peak_bytes:,} B){where}\n"
        f"[bold]Flash (weights):[/bold] {human_bytes(p.weights_bytes)} ({p.weights_bytes:,} B)\n"
        f"{kv_line(p.kv_cache)}"
        f"Naive arena (no reuse): {human_bytes(p.naive_bytes)} · inputs "
        f"{human_bytes(p.input_bytes)} · outputs {human_bytes(p.output_bytes)} · "
        f"{human_count(p.total_macs)} MACs · sizes aligned to {p.alignment} B · "
        "computed from the model file",
        highlight=False,
    )
