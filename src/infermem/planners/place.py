"""The placement engine every greedy shares: put buffers, in a given order,
at the lowest (first fit) or tightest (best fit) free offset.

For the buffer being placed (size s) each already-placed buffer j that lives
at the same time forbids the open range of start offsets (o_j - s, o_j + s_j).
An allowed overlap shrinks that range: as j's output with reach k the buffer
may start anywhere up to min(o_j, o_j + k - s); as j's input it may start
from max(o_j, end_j - k).  Sorting the forbidden ranges by their low end and
sweeping them is TFLM's gap search over "simultaneously active buffers ordered
by offset" exactly: "the gap before the next buffer is >= s" is "the candidate
is <= o_next - s", and skipping a buffer moves the candidate to its end.

Largest-first greedies put the biggest buffer at 0, where no output can go
below it.  `mirror=True` plans in a flipped address space (x' = H - x - s,
packing from the top down) where an output B of input A must satisfy
end'(A) <= end'(B) and end'(A) - x'(B) <= k, then flips the offsets back.
"""

from __future__ import annotations

from collections.abc import Sequence

from .context import Context


def forbidden(
    ctx: Context, i: int, off: Sequence[int], use_overlaps: bool, mirror: bool = False
) -> list[tuple]:
    """Sorted (lo, hi): placing i at x clashes with a placed buffer iff lo < x < hi
    (a range with lo >= hi forbids nothing and is harmless to both fits)."""
    s = ctx.size[i]
    size = ctx.size
    allow = ctx.allow[i] if use_overlaps else None
    if not allow:
        out = [(o - s, o + size[j]) for j in ctx.nbr[i] if (o := off[j]) >= 0]
        out.sort()
        return out
    out = [(o - s, o + size[j]) for j in ctx.nbr[i] if j not in allow and (o := off[j]) >= 0]
    out += [allowed_range(ctx, j, ks, s, off[j], mirror) for j, ks in allow.items() if off[j] >= 0]
    out.sort()
    return out


def allowed_range(ctx: Context, j: int, ks: tuple, s: int, o: int, mirror: bool) -> tuple:
    """The forbidden range of a buffer of size s against placed j (at o) when
    an overlap allows (k_out, k_in) = ks: i may reach k_out into j, j k_in into i."""
    k_out, k_in = ks
    e = o + ctx.size[j]
    lo, hi = o - s, e
    if mirror:
        if k_out is not None:
            hi = min(hi, max(e - s, e - k_out))
        if k_in is not None:
            lo = max(lo, min(e, o + k_in) - s)
    else:
        if k_out is not None:
            lo = max(lo, min(o, o + k_out - s))
        if k_in is not None:
            hi = min(hi, max(o, e - k_in))
    return lo, hi


def _up(x: int, a: int) -> int:
    return -(-x // a) * a


def first_fit(ranges: list[tuple], alignment: int) -> int:
    """Lowest aligned x >= 0 outside every range (TFLM's GreedyMemoryPlanner)."""
    x = 0
    for lo, hi in ranges:
        if x <= lo:
            break
        if x < hi:
            x = _up(hi, alignment)
    return x


def best_fit(ranges: list[tuple], alignment: int) -> int:
    """Bottom of the tightest gap that fits, else above everything (TFLite's
    ArenaPlanner: among gaps between live buffers the one with least slack;
    the first such gap on ties; the top of the arena only when none fits)."""
    x = 0
    best, slack = -1, None
    for lo, hi in ranges:
        if x <= lo and (slack is None or lo - x < slack):
            best, slack = x, lo - x
            if slack < alignment:
                return best
        if x < hi:
            x = _up(hi, alignment)
    return x if best < 0 else best


def place(
    ctx: Context,
    order: Sequence[int],
    fit: str = "first",
    use_overlaps: bool = True,
    off: list[int] | None = None,
    start: int = 0,
    mirror: bool = False,
) -> list[int]:
    """Offsets (by index) after placing order[start:] on top of `off` (fixed
    buffers and order[:start] already placed there).  Fixed buffers keep theirs.
    With `mirror` (no fixed buffers, no partial `off`) the result is flipped.
    Zero-byte buffers go to 0 and constrain nothing (TFLM skips them too)."""
    if mirror and (start or off is not None or any(f is not None for f in ctx.fixed)):
        raise ValueError("mirrored placement needs a fresh start and no fixed buffers")
    off = ctx.initial() if off is None else off
    use = use_overlaps and bool(ctx.problem.overlaps)
    if ctx.nbr is None:
        _place_dense(ctx, order[start:], fit, use, off, mirror)
    else:
        choose = first_fit if fit == "first" else best_fit
        al, fixed, size = ctx.alignment, ctx.fixed, ctx.size
        for i in order[start:]:
            if fixed[i] is None:
                # zero bytes never clash; TFLM does not even plan them
                off[i] = choose(forbidden(ctx, i, off, use, mirror), al) if size[i] else 0
    if mirror:
        top = peak(ctx, off)
        off = [top - o - s if s else 0 for o, s in zip(off, ctx.size, strict=True)]
    return off


def _place_dense(
    ctx: Context, order: Sequence[int], fit: str, use: bool, off: list[int], mirror: bool
) -> None:
    """`place`'s loop without neighbour lists (see place_dense), same offsets."""
    from . import place_dense as D

    placed = D.Placed(ctx, off)
    choose = D.FITS[fit]
    for i in order:
        if ctx.fixed[i] is None:
            if ctx.size[i]:
                lo, hi = D.forbidden(ctx, i, placed, off, use, mirror, allowed_range)
                off[i] = choose(lo, hi, ctx.alignment)
            else:
                off[i] = 0
            placed.add(ctx, i, off[i])


def arena(ctx: Context, off: Sequence[int]) -> int:
    """Bytes the placement spans with the true (unpadded) sizes."""
    bufs = ctx.problem.buffers
    return max((o + b.size for o, b in zip(off, bufs, strict=True)), default=0)


def peak(ctx: Context, off: Sequence[int]) -> int:
    """Bytes spanned with padded sizes: what the greedies actually minimise."""
    return max((o + s for o, s in zip(off, ctx.size, strict=True)), default=0)
