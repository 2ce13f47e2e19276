"""`optimize --patch`: choose a patched rewrite, then plan and verify it in TFLM.

The rewrite is chosen by `choose`, the candidates ranked by the plan this call
writes (`offline_ranker`: infermem's strategy, DMO with `dmo`, as TFLM realises
it; reordering, applied afterwards, is not ranked), then handed to
`tflm.optimize` as the model to plan (infermem's strategy, DMO and reordering
as asked), which verifies it against the *original* file: the
written model is bit-identical in TFLM to what the user gave, or nothing is
written.  When no rewrite lowers the arena the model is planned as it is and
the reason is returned with the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..tflm.optimize import OptimizeResult, optimize
from . import PatchResult, parse_grid
from .choose import Choice, Ranker, choose, offline_ranker


@dataclass(frozen=True)
class PatchedOptimize:
    optimize: OptimizeResult
    patch: PatchResult | None  # None: the graph was left as it is
    reason: str  # what was patched, or why nothing was
    choice: Choice


def optimize_patched(
    src: str | Path,
    dst: str | Path,
    patch: str = "auto",
    patch_until: int | None = None,
    max_mac_overhead: float = 0.25,
    rank: Ranker | None = None,
    **options,
) -> PatchedOptimize:
    """`tflm.optimize(src, dst, **options)` on the best patched rewrite of `src`
    (`patch`: 'auto' or a grid 'RxC'; stage end `patch_until` or chosen), the
    candidates ranked by `rank` (default: the plan `options` make)."""
    grids = None if patch == "auto" else [parse_grid(patch)]
    if rank is None:
        rank = offline_ranker(*(options.get(k, d) for k, d in (
            ("strategy", "best"), ("dmo", False), ("time_limit", 10.0), ("alignment", 16),
            ("preserve_inputs", False))))
    choice = choose(src, grids, patch_until, max_mac_overhead, rank=rank)
    data = choice.result.data if choice.result else None
    r = optimize(src, dst, rewritten=data, **options)
    return PatchedOptimize(r, choice.result, choice.reason, choice)
