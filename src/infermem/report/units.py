"""Human-readable numbers for tables (the JSON always carries exact integers)."""

from __future__ import annotations


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,} B"


def human_count(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f}{unit}"
    return str(n)


def shape_str(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"
