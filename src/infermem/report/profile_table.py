"""The terminal view of a static profile."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..profile import Profile
from .units import human_bytes, human_count, shape_str


def render_profile(p: Profile, console: Console) -> None:
    table = Table(title=f"{p.model} ({p.format}) — live arena per operator, file order")
    for col, justify in (("step", "right"), ("op", "right"), ("type", "left"),
                         ("output shape", "left"), ("live", "right"), ("MACs", "right"),
                         ("# live", "right")):
        table.add_column(col, justify=justify)
    for r in p.operators:
        is_peak = r.step == p.peak_step
        table.add_row(
            str(r.step), str(r.index), r.type,
            ", ".join(shape_str(s) for _, s in r.outputs),
            human_bytes(r.live_bytes), human_count(r.macs), str(len(r.live_tensors)),
            style="bold red" if is_peak else None,
        )
    console.print(table)
    peak = p.operators[p.peak_step] if p.peak_step is not None else None
    where = f" at step {peak.step} (operator {peak.index}, {peak.type})" if peak else ""
    console.print(
        f"[bold]RAM (arena) live-set peak:[/bold] {human_bytes(p.peak_bytes)} "
        f"({p.peak_bytes:,} B){where}\n"
        f"[bold]Flash (weights):[/bold] {human_bytes(p.weights_bytes)} ({p.weights_bytes:,} B)\n"
        f"Naive arena (no reuse): {human_bytes(p.naive_bytes)} · inputs "
        f"{human_bytes(p.input_bytes)} · outputs {human_bytes(p.output_bytes)} · "
        f"{human_count(p.total_macs)} MACs · sizes aligned to {p.alignment} B · "
        "computed from the model file"
    )
