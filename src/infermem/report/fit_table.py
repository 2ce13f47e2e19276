"""The terminal view of `infermem fit`: what the model needs, then each device."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from ..batch import MaxBatch
from ..fit import FitReport
from .units import human_bytes

_MARK = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "n/a"}
SHORT = {"runtime": "runtime", "infermem": "infermem", "reorder": "+reorder", "dmo": "+DMO",
         "fuse": "+fuse", "patch": "+patch", "int8": "+int8"}


FLASH_EXCLUDES = ("the runtime's own code (interpreter, kernels) and your application are not "
                  "included: add their size from your firmware build")


def short_label(level: str, fmt: str) -> str:
    """Column label of a level; ONNX DMO is marked as the executor's alone."""
    return "+DMO (executor)" if level == "dmo" and fmt != "tflite" else SHORT[level]


def render_needs(report: FitReport, console: Console) -> None:
    n = report.needs
    table = Table(title=f"{n.model} ({n.format}): memory needed at each level",
                  box=box.SIMPLE_HEAD)
    for col in ("level", "arena", "RAM needed", "flash needed"):
        table.add_column(col, justify="left" if col == "level" else "right")
    for lv in n.levels:
        if not lv.available:
            table.add_row(lv.label, "n/a", "n/a", "n/a", style="dim")
            continue
        table.add_row(lv.label, _bytes(lv.arena_bytes), _bytes(lv.ram_bytes),
                      _bytes(lv.flash_bytes))
    console.print(table)
    for lv in n.levels:
        console.print(f"  {lv.label}: {lv.how}", highlight=False)
    console.print(
        f"RAM needed = arena + runtime persistent data {human_bytes(n.persistent.bytes)} "
        f"({n.persistent.source}){_kv(n.kv_cache_bytes)}.\n"
        f"Flash needed = weights + model structure "
        f"{human_bytes(n.structure_bytes)} (the model file without its weights); "
        f"{FLASH_EXCLUDES}."
    )
    if n.whatif:
        console.print(f"[yellow]{n.whatif}[/yellow]")


def _kv(n: int) -> str:
    return (f" + KV cache {n:,} B (past inputs + present outputs, held outside the arena)"
            if n else "")


def render_devices(report: FitReport, console: Console) -> None:
    table = Table(title="fits? on-chip SRAM and flash ('ext': only with the board's "
                        "external RAM / flash)", box=box.SIMPLE_HEAD)
    width = max((len(f.device.name) for f in report.devices), default=6)
    table.add_column("device", no_wrap=True, min_width=width)  # names are never cut
    table.add_column("SRAM", justify="right", no_wrap=True)
    table.add_column("flash", justify="right", no_wrap=True)
    names = [lv.name for lv in report.needs.levels]
    for name in names:
        table.add_column(short_label(name, report.needs.format), justify="center",
                         no_wrap=True)
    for f in report.devices:
        d = f.device
        cells = [_cell(f.fits[n], f.fits_external[n]) for n in names]
        flash = _compact(d.flash_bytes) if d.flash_bytes is not None else "card"
        table.add_row(d.name, _compact(d.sram_bytes), flash, *cells)
    console.print(table)
    for f in report.devices:
        console.print(f"  {f.device.name}: {f.verdict}", highlight=False)
    headline = [f.device.name for f in report.devices if "only with infermem" in f.verdict]
    if headline:
        console.print(f"[bold]Fits only with infermem's optimisations:[/bold] "
                      f"{', '.join(headline)}")


def _bytes(n: int) -> str:
    return f"{n:,} B"


def _compact(n: int) -> str:
    """'96 KiB', '1.5 MiB': whole numbers without the '.0'."""
    return human_bytes(n).replace(".0 ", " ")


def _cell(fits: bool | None, external: bool | None) -> str:
    if fits is None or fits:
        return _MARK[fits]
    return "[yellow]ext[/yellow]" if external else _MARK[False]


def render_max_batch(r: MaxBatch, console: Console) -> None:
    if r.batch == 0:
        console.print(
            f"[bold]Not even batch 1 fits {human_bytes(r.budget_bytes)}[/bold]: "
            f"arena {r.above.arena_bytes:,} B{_kvp(r.above)} + weights "
            f"{r.above.weights_bytes:,} B = "
            f"{r.above.total_bytes:,} B with strategy {r.strategy}"
        )
        return
    capped = " (search capped there; larger batches may fit too)" if r.capped else ""
    console.print(
        f"[bold]Largest batch within {human_bytes(r.budget_bytes)} ({r.budget_bytes:,} B): "
        f"{r.batch}[/bold]{capped}\n"
        f"  batch {r.at.batch}: arena {r.at.arena_bytes:,} B{_kvp(r.at)} + weights "
        f"{r.at.weights_bytes:,} B"
        f" = {r.at.total_bytes:,} B (fits)\n"
        f"  batch {r.above.batch}: arena {r.above.arena_bytes:,} B{_kvp(r.above)} + weights "
        f"{r.above.weights_bytes:,} B = {r.above.total_bytes:,} B "
        f"({'fits' if r.above.fits else 'does not fit'})\n"
        f"  {len(r.probes)} plans with strategy {r.strategy}; weights counted as resident "
        "in RAM, runtime overhead not included"
    )


def _kvp(p) -> str:
    return f" + KV cache {p.kv_bytes:,} B" if p.kv_bytes else ""


def max_batch_json(r: MaxBatch) -> dict:
    def point(p):
        return None if p is None else {"batch": p.batch, "arena_bytes": p.arena_bytes,
                                       "weights_bytes": p.weights_bytes,
                                       "kv_cache_bytes": p.kv_bytes,
                                       "total_bytes": p.total_bytes, "fits": p.fits}

    return {"budget_bytes": r.budget_bytes, "max_batch": r.batch, "strategy": r.strategy,
            "capped": r.capped, "at": point(r.at), "above": point(r.above),
            "probes": [point(p) for p in r.probes]}
