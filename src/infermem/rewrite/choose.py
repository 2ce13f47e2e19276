"""Choose the stage end and grid: the smallest planned arena within a MAC budget.

Every candidate (a cut of the patchable prefix x a grid) is rewritten; those
whose halo recomputation stays within `max_mac_overhead` are planned by a
`Ranker`: the arena the user will actually get from the command's output.
`optimize --patch` ranks by the plan it writes (infermem's strategy, DMO with
`--dmo`, as TFLM realises it: `offline_ranker`), `plan --patch` and fit's patch
level by the plan they print; the default is TFLM's own greedy planner (the
arena without infermem's plan; TFLM's planning problem, scratch buffers
included).  The smallest arena wins; ties go to fewer MACs.  The winner is
kept only if it beats the original model's arena under the same ranker, so
patching never makes a model worse: otherwise the one-line reason says why
nothing was rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..planners import plan
from ..tflm._model import model_from_bytes
from ..tflm.problem import build
from . import PatchResult, load_tree, model_macs, patch_stage
from .stage import cuts, find_stage, patchable_prefix, stage_at
from .tflite_patch import rewrite

AUTO_GRIDS = tuple((n, n) for n in range(2, 7))
# Planning seconds per candidate when ranking with infermem's planners: `best`
# then gives its exact solver 0.3 s (instead of up to 3 s); the winner is
# planned again with the caller's full time limit.
RANK_TIME_LIMIT = 1.0


@dataclass(frozen=True)
class Candidate:
    until: int  # last operator of the stage
    grid: tuple[int, int]
    mac_overhead: float
    arena_bytes: int | None  # None: over the MAC budget, not planned


@dataclass(frozen=True)
class Choice:
    result: PatchResult | None  # None: the model is left as it is
    arena_before: int  # planned head of the original (same planner)
    arena_after: int | None
    reason: str  # one line: what was chosen, or why nothing was
    tried: tuple[Candidate, ...]
    ranked_by: str = "TFLM's own planner"  # what arena_before/after are


def planned_arena(data: bytes, strategy: str = "tflm", time_limit: float = 10.0) -> int:
    """The head TFLM needs for a model held in memory, planned by `strategy`."""
    return plan(build(model_from_bytes(data, "model")).problem, strategy,
                time_limit=time_limit).arena_bytes


@dataclass(frozen=True)
class Ranker:
    """How candidates are compared: `arena(model bytes)`, and what that is in words."""

    arena: Callable[[bytes], int]
    name: str


TFLM_PLANNER = Ranker(planned_arena, "TFLM's own planner")  # for .tflite bytes


def offline_ranker(strategy: str = "best", dmo: bool = False, time_limit: float = 10.0,
                   alignment: int = 16, preserve_inputs: bool = False) -> Ranker:
    """The arena `optimize` writes for a .tflite candidate: infermem's `strategy`
    plan (with DMO's proven overlaps), as TFLM realises it (`tflm.plan_offsets`),
    planned for at most RANK_TIME_LIMIT seconds."""
    from ..frontends.tflite import load_tflite_bytes
    from ..tflm.optimize import plan_offsets

    limit = min(time_limit, RANK_TIME_LIMIT)

    def arena(data: bytes) -> int:
        graph = load_tflite_bytes(data, "candidate", "candidate") if dmo else None
        return plan_offsets(model_from_bytes(data, "candidate"), strategy, preserve_inputs,
                            limit, dmo, alignment, graph)[2].arena_bytes

    return Ranker(arena, plan_name(strategy, dmo))


def plan_name(strategy: str, dmo: bool) -> str:
    """'infermem's best plan + DMO', the words a Ranker is stated with."""
    return f"infermem's {strategy} plan" + (" + DMO" if dmo else "")


def _default_ranker(source, strategy: str) -> Ranker:
    name = "TFLM's own planner" if strategy == "tflm" else f"the {strategy} planner"
    return Ranker(lambda data: source.arena(data, strategy), name)


class TfliteSource:
    """A .tflite read once and its patchable prefix: what `choose` rewrites
    candidate after candidate (`onnx_patch.OnnxSource` is the ONNX one)."""

    format = "tflite"

    def __init__(self, src: str | Path | bytes) -> None:
        self.stem = "model" if isinstance(src, bytes) else Path(src).stem
        self.raw, self.tree = load_tree(src)
        self.prefix, self.why = patchable_prefix(self.tree)
        self.macs = model_macs(self.tree)

    def ends(self) -> list[int]:
        return cuts(self.tree, self.prefix)

    def stage(self, until: int | None = None):
        return find_stage(self.tree, until)

    def stage_at(self, k: int):
        return stage_at(self.tree, self.prefix, k)

    def macs_after(self, stage, grid: tuple[int, int]) -> int:
        return model_macs(rewrite(self.tree, stage, grid).model)

    def patch(self, stage, grid: tuple[int, int], shrink_halo: int = 0) -> PatchResult:
        return patch_stage(self.raw, self.tree, stage, grid, shrink_halo)

    def arena(self, data: bytes, strategy: str) -> int:
        return planned_arena(data, strategy)

    def load(self, data: bytes, name: str):
        """A rewritten model (bytes) as infermem's Graph."""
        from ..frontends.tflite import load_tflite_bytes

        return load_tflite_bytes(data, name, self.stem)


def open_source(src: str | Path | bytes, input_shapes=None):
    """The `choose` view of a .tflite or an ONNX model (by content)."""
    raw = src if isinstance(src, bytes) else None
    if raw is None:
        from ..frontends import sniff_format

        fmt = sniff_format(Path(src))
    else:
        fmt = "tflite" if raw[4:8] == b"TFL3" else "onnx"
    if fmt == "tflite":
        if input_shapes:
            raise BadInput("--input-shape with --patch: the .tflite rewrite keeps the stored "
                           "shapes")
        return TfliteSource(src)
    from .onnx_patch import OnnxSource

    return OnnxSource(src, input_shapes)


def choose(
    src,
    grids: Sequence[tuple[int, int]] | None = None,
    until: int | None = None,
    max_mac_overhead: float = 0.25,
    strategy: str = "tflm",
    input_shapes=None,
    rank: Ranker | None = None,
) -> Choice:
    """The best patched rewrite of `src` (a path, bytes or an already opened
    source) over `grids` (default 2x2..6x6) and stage ends (`until`, or every
    cut) as `rank` plans them (default: `strategy` on the source's own
    problem), or none with the reason."""
    source = src if hasattr(src, "ends") else open_source(src, input_shapes)
    rank = rank or _default_ranker(source, strategy)
    before = rank.arena(source.raw)
    prefix, ends = source.prefix, source.ends()
    if not ends:
        return Choice(None, before, None, f"no patchable stage: {source.why}", (), rank.name)
    if until is not None:
        source.stage(until)  # BadInput when `until` is not a cut
        ends = [k for k in ends if prefix[k].index == until]
    tried, best, spent = [], None, set()
    for k in ends:
        stage = source.stage_at(k)
        for g in grids or AUTO_GRIDS:
            if g[0] > stage.height or g[1] > stage.width or g in spent:
                continue
            over = source.macs_after(stage, g) / max(source.macs, 1) - 1.0
            if over > max_mac_overhead:  # a longer stage only adds halo: stop this grid
                tried.append(Candidate(stage.ops[-1].index, g, over, None))
                spent.add(g)
                continue
            r = source.patch(stage, g)
            arena = rank.arena(r.data)
            tried.append(Candidate(stage.ops[-1].index, g, over, arena))
            if best is None or (arena, r.macs_after) < (best[0], best[1].macs_after):
                best = (arena, r)
    return _verdict(before, best, tuple(tried), max_mac_overhead, rank.name)


def _verdict(before: int, best, tried: tuple[Candidate, ...], budget: float,
             ranked_by: str) -> Choice:
    if best is None:
        return Choice(None, before, None, f"no grid keeps the MAC overhead within {budget:.0%} "
                      f"({len(tried)} stage/grid pairs tried)", tried, ranked_by)
    arena, r = best
    if arena >= before:
        return Choice(None, before, arena, f"patching does not lower the arena: the best "
                      f"patched plan ({ranked_by}) needs {arena:,} B, the model as it is "
                      f"{before:,} B", tried, ranked_by)
    return Choice(r, before, arena, f"{r.describe()}; ranked by {ranked_by}: {before:,} -> "
                  f"{arena:,} B", tried, ranked_by)
