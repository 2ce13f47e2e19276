"""Terminal tables and the plot for context length under a budget (`fit
--max-seq`) and memory against length (`profile --sweep`)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from .units import human_bytes

NOTE = ("arena = infermem's plan (strategy {s}); KV cache = past inputs + present outputs, "
        "held outside the arena; weights resident in RAM; runtime overhead not included")


def _dims(p, skip: str = "") -> str:
    return ", ".join(f"{k}={v}" for k, v in p.values if k != skip)


def _figures(p) -> str:
    if p.refused:
        return f"the model refuses it: {p.refused}"
    return (f"arena {p.arena_bytes:,} B + KV cache {p.kv_bytes:,} B + weights "
            f"{p.weights_bytes:,} B = {p.total_bytes:,} B "
            f"({'fits' if p.fits else 'does not fit'})")


def render_max_seq(r, console: Console) -> None:
    """The found length, the figures there and at length + 1."""
    budget = f"{human_bytes(r.budget_bytes)} ({r.budget_bytes:,} B)"
    if r.length == 0:
        console.print(f"[bold]Not even {r.dim}=1 fits {budget}[/bold] "
                      f"({_dims(r.above, r.dim)}): {_figures(r.above)}", highlight=False)
        return
    capped = " (search capped there; longer ones may fit too)" if r.capped else ""
    limit = (" — the model's own limit, not the budget" if r.above.refused else "")
    console.print(
        f"[bold]Largest {r.dim} within {budget}: {r.length}[/bold]{capped}{limit}\n"
        f"  with {_dims(r.at, r.dim)}\n"
        f"  {r.dim}={r.at.value(r.dim)}: {_figures(r.at)}\n"
        f"  {r.dim}={r.above.value(r.dim)}: {_figures(r.above)}\n"
        f"  {len(r.probes)} plans; {NOTE.format(s=r.strategy)}", highlight=False)


def render_frontier(rows, console: Console) -> None:
    """`--max-seq` with `--max-batch`: the largest length per batch."""
    if not rows:
        console.print("[bold]Not even batch 1 at length 1 fits the budget[/bold]")
        return
    first = rows[0][1]
    table = Table(title=f"largest {first.dim} per batch within "
                        f"{human_bytes(first.budget_bytes)} ({first.budget_bytes:,} B)")
    for col in ("batch", f"largest {first.dim}", "total there", f"at {first.dim} + 1"):
        table.add_column(col, justify="right")
    for b, r in rows:
        above = "refused by the model" if r.above.refused else f"{r.above.total_bytes:,} B"
        table.add_row(str(b), f"{r.length:,}" + (" (cap)" if r.capped else ""),
                      f"{r.at.total_bytes:,} B", above)
    console.print(table)
    console.print(f"the next batch (x2) does not fit even at {first.dim}=1; "
                  + NOTE.format(s=first.strategy), highlight=False)


def render_sweep(r, console: Console) -> None:
    """One row per length: arena, KV cache, weights, total."""
    fixed = _dims(r.points[0], r.dim) if r.points else ""
    table = Table(title=f"{Path(r.model).name}: memory against {r.dim}"
                        + (f" ({fixed})" if fixed else ""))
    for col in (r.dim, "arena", "KV cache", "weights", "total"):
        table.add_column(col, justify="right")
    for p in r.points:
        if p.refused:
            table.add_row(f"{p.value(r.dim):,}", "refused by the model", "", "", "")
            continue
        table.add_row(f"{p.value(r.dim):,}", human_bytes(p.arena_bytes), human_bytes(p.kv_bytes),
                      human_bytes(p.weights_bytes), human_bytes(p.total_bytes))
    console.print(table)
    for p in r.points:
        if p.refused:
            console.print(f"{r.dim}={p.value(r.dim)}: the model refuses it: {p.refused}",
                          highlight=False)
    console.print(NOTE.format(s="best"), highlight=False)


def plot_sweep(r, path: Path) -> None:
    """Stacked lines of arena, KV cache and weights against length, and the total."""
    from ..outputs import atomic_write
    from .layout_plot import check_plot_path
    from .plots import ACCENT, DMO, GOOD, INK, _pyplot, _tidy, unit_for

    fmt = check_plot_path(path)
    pts = [p for p in r.points if not p.refused]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    try:
        u = unit_for(max([p.total_bytes for p in pts] + [1]))
        xs = [p.value(r.dim) for p in pts]
        for label, get, colour in (("weights", lambda p: p.weights_bytes, GOOD),
                                   ("KV cache", lambda p: p.kv_bytes, DMO),
                                   ("arena", lambda p: p.arena_bytes, ACCENT),
                                   ("total", lambda p: p.total_bytes, INK)):
            ax.plot(xs, [u.of(get(p)) for p in pts], "o-", color=colour, label=label,
                    linewidth=1.6, markersize=3)
        if len(xs) > 2 and xs[-1] / max(xs[0], 1) >= 8:
            ax.set_xscale("log", base=2)
        ax.set_xlabel(r.dim.replace("_", " "))
        ax.set_ylabel(f"bytes ({u.name})")
        _tidy(ax)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        with atomic_write(path) as f:
            fig.savefig(f, format=fmt)
    finally:
        plt.close(fig)
