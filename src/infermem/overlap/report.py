"""The terminal view of `explain`: per operator, the overlap proven and used."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render_explain(rows: list[dict], console: Console) -> None:
    table = Table(title="DMO: output over an input whose lifetime ends at the operator")
    for col, justify in (("op", "right"), ("type", "left"), ("in#", "right"),
                         ("out B", "right"), ("in B", "right"), ("min dist B", "right"),
                         ("proven B", "right"), ("used B", "right"),
                         ("method", "left")):  # fmt: skip
        table.add_column(col, justify=justify, overflow="fold")
    for r in rows:
        d = "-" if r["min_distance"] is None else f"{r['min_distance']:,}"
        how = r["method"] if r["max_overlap"] else (r["note"] or "-")
        table.add_row(
            str(r["op"]), r["type"], str(r["positions"][0]), f"{r['output_bytes']:,}",
            f"{r['input_bytes']:,}", d, f"{r['max_overlap']:,}", f"{r.get('used', 0):,}", how,
            style="bold green" if r.get("used") else None,
        )  # fmt: skip
    console.print(table)
    used = sum(r.get("used", 0) for r in rows)
    console.print(
        f"{sum(1 for r in rows if r['max_overlap'])} of {len(rows)} pairs may overlap; "
        f"the plan overlaps {sum(1 for r in rows if r.get('used'))} of them, "
        f"{used:,} B in all.  'min dist' is the smallest safe offset(input) - offset(output) "
        "derived from the kernel's loop order; 'proven' is what the planner may use after "
        "rounding that distance up to the alignment; 'in#' is the input's position."
    )
