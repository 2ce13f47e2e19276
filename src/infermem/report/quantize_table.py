"""The terminal view and JSON of `infermem quantize`."""

from __future__ import annotations

import dataclasses

from rich.console import Console
from rich.table import Table

from ..quantize import QuantizeResult
from .units import human_bytes


def render_quantize(r: QuantizeResult, console: Console) -> None:
    console.print(f"[bold]{r.output}[/bold]: {r.mode} quantization of {r.source}, "
                  f"calibrated on {r.calibration}")
    if r.warning:
        console.print(f"[yellow]warning: {r.warning}[/yellow]")
    table = Table(title="before / after (as deployed: int8 tensors of a QDQ model counted as int8)")
    for col in ("", "weights", "arena (best plan)", "live-set peak", "file"):
        table.add_column(col, justify="left" if not col else "right")
    for label, f in (("float", r.before), ("quantized", r.after)):
        table.add_row(label, human_bytes(f.weights_bytes), human_bytes(f.arena_bytes),
                      human_bytes(f.peak_bytes), human_bytes(f.file_bytes))
    console.print(table)
    for f in (r.before, r.after):
        if f.note:
            console.print(f"[yellow]{f.note}[/yellow]")
    errors = Table(title=f"output error vs the float model on {r.evaluation} (onnxruntime)")
    for col in ("output", "max |diff|", "mean |diff|", "cosine"):
        errors.add_column(col, justify="left" if col == "output" else "right")
    for e in r.errors:
        errors.add_row(e.name, f"{e.max_abs:.4g}", f"{e.mean_abs:.4g}", f"{e.cosine:.5f}")
    console.print(errors)


def quantize_json(r: QuantizeResult) -> dict:
    return dataclasses.asdict(r)
