"""The terminal view and JSON of a sparsity report (per weight tensor)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from ..whatif import TensorSparsity
from .units import human_bytes, shape_str


def render_sparsity(rows: Sequence[TensorSparsity], console: Console, title: str) -> None:
    table = Table(title=title)
    for col in ("weight", "shape", "dtype", "zeros", "dense", "CSR", "bitmask", "best"):
        table.add_column(col, justify="left" if col in ("weight", "shape", "dtype") else "right")
    for r in rows:
        table.add_row(r.name, shape_str(r.shape), r.dtype, f"{r.zero_fraction:.1%}",
                      f"{r.dense_bytes:,}", f"{r.csr_bytes:,}", f"{r.bitmask_bytes:,}", r.best[0])
    console.print(table)
    dense = sum(r.dense_bytes for r in rows)
    best = sum(r.best[1] for r in rows)
    console.print(
        f"Weights dense {human_bytes(dense)} ({dense:,} B); each in its smallest storage "
        f"{human_bytes(best)} ({best:,} B).  CSR = values + column indices + row pointers "
        "(rows = dim 0), index widths the narrowest unsigned int that holds them; "
        "bitmask = values + 1 bit per element."
    )


def sparsity_json(rows: Sequence[TensorSparsity]) -> list[dict]:
    return [
        {"name": r.name, "shape": list(r.shape), "dtype": r.dtype, "elements": r.elements,
         "zeros": r.zeros, "zero_fraction": round(r.zero_fraction, 6),
         "dense_bytes": r.dense_bytes, "csr_bytes": r.csr_bytes,
         "bitmask_bytes": r.bitmask_bytes, "csr_index_bytes": r.csr_index_bytes,
         "csr_pointer_bytes": r.csr_pointer_bytes, "best": r.best[0]}
        for r in rows
    ]
