"""The largest size whose memory need fits a budget: exponential, then binary search.

Shared by `--max-batch` and `--max-seq`.  The size doubles from 1 until a
probe does not fit (or the cap is reached), then the gap between the last
size that fitted and the first that did not is bisected.  It assumes the
need grows with the size (every activation and the KV cache scale with the
batch and the length); the answer L and L + 1 are always both probed, so
the result shows the plan that fits next to the one that does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Probe(Protocol):
    @property
    def fits(self) -> bool: ...


P = TypeVar("P", bound=Probe)


@dataclass(frozen=True)
class Found(Generic[P]):
    size: int  # 0 when not even 1 fits
    at: P | None  # the probe at `size`
    above: P  # the probe at `size + 1` (does not fit), or at the cap when capped
    probes: tuple[P, ...]  # every probe, in search order
    capped: bool  # stopped at the cap, still fitting


def largest(probe: Callable[[int], P], cap: int) -> Found[P]:
    """The largest size in 1..cap for which `probe(size).fits`."""
    done: list[P] = []

    def at(n: int) -> P:
        p = probe(n)
        done.append(p)
        return p

    lo, lo_n, hi, hi_n = None, 0, at(1), 1
    while hi.fits and hi_n < cap:
        lo, lo_n = hi, hi_n
        hi_n = min(hi_n * 2, cap)
        hi = at(hi_n)
    if hi.fits:
        return Found(hi_n, hi, hi, tuple(done), True)
    while hi_n - lo_n > 1:
        mid_n = (lo_n + hi_n) // 2
        mid = at(mid_n)
        if mid.fits:
            lo, lo_n = mid, mid_n
        else:
            hi, hi_n = mid, mid_n
    return Found(lo_n, lo, hi, tuple(done), False)
