"""Patch-based inference as a what-if (`infermem plan --patch`): the rewrite
chosen as `optimize --patch` would choose it, planned in memory and compared
with the model as it is.  No model file is written; nothing runs in TFLM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .model import PlanResult, Shapes, check_alignment, plan


def check_patch(patch: str | None, patch_until: int | None, max_mac_overhead: float) -> None:
    """The --patch options as one command takes them: the others need --patch,
    a grid is N or RxC, the budget a percentage."""
    if patch is None and (patch_until is not None or max_mac_overhead != 25.0):
        raise BadInput("--patch-until and --max-mac-overhead need --patch")
    if patch not in (None, "auto"):
        from ..rewrite import parse_grid  # the TFLite rewriter: only when a grid is given

        parse_grid(patch)
    if not 0 <= max_mac_overhead <= 10000:
        raise BadInput(f"--max-mac-overhead {max_mac_overhead:g}: give a percentage >= 0")


def is_onnx(model) -> bool:
    """Whether `model` (a path) is an ONNX file (by its bytes, as `load` reads it)."""
    from ..frontends import sniff_format

    path = Path(model)
    return path.is_file() and sniff_format(path) == "onnx"


def patch_spec(patch: str | None, patch_until: int | None = None,
               max_mac_overhead: float = 25.0):
    """The fit/sweep `patch` level's `rewrite.level.PatchSpec`, or None when not asked."""
    if patch is None:
        return None
    from ..rewrite.level import PatchSpec

    return PatchSpec(patch, patch_until, max_mac_overhead / 100)


@dataclass(frozen=True)
class PatchPlanResult:
    """The arena before and after patching (`infermem plan --patch`)."""

    before: PlanResult  # the model as it is
    after: PlanResult | None  # the chosen rewrite; None when nothing was patched
    choice: object  # rewrite.choose.Choice: the candidates tried and the reason
    tflm_planner: tuple[int, int] = (0, 0)  # TFLM's own planner: before, after

    @property
    def patch(self):
        """The rewrite.PatchResult chosen (MACs, operators, flash), or None."""
        return self.choice.result

    @property
    def result(self) -> PlanResult:
        """The plan the user would run: the patched one when there is one."""
        return self.after or self.before

    def to_json(self) -> dict:
        return {**self.result.to_json(), "patch": self.patch_json()}

    def patch_json(self) -> dict:
        p, c = self.patch, self.choice
        doc = {"patched": p is not None, "reason": c.reason,
               "arena_before": self.before.arena_bytes, "arena_after": self.result.arena_bytes,
               "tflm_planner_arena_before": self.tflm_planner[0],
               "tflm_planner_arena_after": self.tflm_planner[1],
               "candidates_tried": len(c.tried), "ranked_by": c.ranked_by}  # fmt: skip
        if p is not None:
            doc.update(grid=list(p.grid), stage_ops=[p.stage_ops[0], p.stage_ops[-1]],
                       stage_output=p.stage_output, macs_before=p.macs_before,
                       macs_after=p.macs_after, mac_overhead=round(p.mac_overhead, 6),
                       ops_before=p.ops_before, ops_after=p.ops_after,
                       flash_before=p.flash_before, flash_after=p.flash_after)
        return doc


def plan_patched(model: str | Path, *, patch: str = "auto", patch_until: int | None = None,
                 max_mac_overhead: float = 25.0, strategy: str = "best",
                 time_limit: float = 10.0, alignment: int = 16, reorder: bool = False,
                 dmo: bool = False, explain: bool = False, fuse: str | None = None,
                 input_shapes: Shapes = None) -> PatchPlanResult:
    """Choose the patched rewrite of a .tflite or .onnx `model` (`patch`: 'auto'
    or 'RxC'; stage end `patch_until` or chosen; at most `max_mac_overhead`
    percent more MACs) and plan both graphs with the same options; the rewrite
    stays in memory.  `input_shapes` fixes an ONNX model's symbolic dims (a
    .tflite rewrite keeps the stored shapes).  The candidates are ranked by the
    plan printed (`strategy`, `dmo`, `fuse`; reordering is applied to the
    winner only)."""
    from ..rewrite import parse_grid
    from ..rewrite.choose import choose

    source = _source(model, patch, patch_until, max_mac_overhead, alignment, input_shapes)
    kw = dict(strategy=strategy, time_limit=time_limit, alignment=alignment,
              reorder=reorder, dmo=dmo, explain=explain, fuse=fuse)  # fmt: skip
    before = plan(_original(model, source), **kw)
    grids = None if patch == "auto" else [parse_grid(patch)]
    choice = choose(source, grids, patch_until, max_mac_overhead / 100,
                    rank=_plan_ranker(source, model, kw))
    after, tflm = None, (source.arena(source.raw, "tflm"),) * 2
    if choice.result is not None:
        after = plan(source.load(choice.result.data, f"{model} (patched)"), **kw)
        tflm = (tflm[0], source.arena(choice.result.data, "tflm"))
    return PatchPlanResult(before, after, choice, tflm)


@dataclass(frozen=True)
class StageMemory:
    """Live-set peaks of a graph split at the patched stage's end (file order)."""

    stage_ops: int  # operators that compute the stage (its rewrite, after patching)
    stage_peak: int  # the largest live set while the stage runs
    rest_peak: int  # ... while the rest of the graph runs (untouched by the rewrite)

    def to_json(self) -> dict:
        return {"stage_ops": self.stage_ops, "stage_peak_bytes": self.stage_peak,
                "rest_peak_bytes": self.rest_peak}


def stage_memory(profile, stage_ops: int) -> StageMemory:
    """Split `profile`'s per-operator live bytes after its first `stage_ops` steps."""
    live = [r.live_bytes for r in profile.operators]
    return StageMemory(stage_ops, max(live[:stage_ops], default=0),
                       max(live[stage_ops:], default=0))


@dataclass(frozen=True)
class PatchProfileResult:
    """The static profile before and after patching (`infermem profile --patch`)."""

    before: object  # ProfileResult of the model as it is
    after: object | None  # ProfileResult of the patched graph; None when nothing was patched
    choice: object  # rewrite.choose.Choice
    stage_before: StageMemory | None
    stage_after: StageMemory | None

    def to_json(self) -> dict:
        return {**self.before.to_json(), "patch": self.patch_json()}

    def patch_json(self) -> dict:
        """The figures `profile --patch` prints and `report --patch` draws: the
        rewrite's cost and the live memory before and after, split at the stage."""
        c, p = self.choice, self.choice.result
        doc = {"patched": p is not None, "reason": c.reason, "ranked_by": c.ranked_by}
        if p is not None:
            b, a = self.before.profile, self.after.profile
            doc.update(grid=list(p.grid), stage_ops=[p.stage_ops[0], p.stage_ops[-1]],
                       stage_output=p.stage_output, macs_before=p.macs_before,
                       macs_after=p.macs_after, mac_overhead=round(p.mac_overhead, 6),
                       ops_before=p.ops_before, ops_after=p.ops_after,
                       flash_before=p.flash_before, flash_after=p.flash_after,
                       peak_before=b.peak_bytes, peak_after=a.peak_bytes,
                       stage_before=self.stage_before.to_json(),
                       stage_after=self.stage_after.to_json(),
                       live_before=[r.live_bytes for r in b.operators],
                       live_after=[r.live_bytes for r in a.operators])
        return doc


def profile_patched(model: str | Path, *, patch: str = "auto", patch_until: int | None = None,
                    max_mac_overhead: float = 25.0, alignment: int = 16,
                    input_shapes: Shapes = None) -> PatchProfileResult:
    """The live memory per operator of a .tflite or .onnx `model` and of its
    patched rewrite (chosen as `optimize --patch` chooses it by default: ranked
    by infermem's best plan), with each split into the patched stage and the
    rest: where patching moved the peak."""
    from ..rewrite import parse_grid
    from ..rewrite.choose import choose
    from .model import profile

    source = _source(model, patch, patch_until, max_mac_overhead, alignment, input_shapes)
    before = profile(_original(model, source), alignment=alignment)
    rank = _plan_ranker(source, model, {"strategy": "best", "alignment": alignment})
    choice = choose(source, None if patch == "auto" else [parse_grid(patch)], patch_until,
                    max_mac_overhead / 100, rank=rank)
    r = choice.result
    if r is None:
        return PatchProfileResult(before, None, choice, None, None)
    after = profile(source.load(r.data, f"{model} (patched)"), alignment=alignment)
    rest = r.ops_before - len(r.stage_ops)  # the rest of the graph follows the stage
    return PatchProfileResult(before, after, choice,
                              stage_memory(before.profile, len(r.stage_ops)),
                              stage_memory(after.profile, r.ops_after - rest))


def _plan_ranker(source, model, kw: dict):
    """Rank candidates by `plan(candidate, **kw)` (reordering left to the
    winner, `RANK_TIME_LIMIT` seconds each): the plan the command prints."""
    from ..rewrite.choose import RANK_TIME_LIMIT, Ranker, plan_name

    rank_kw = {**kw, "reorder": False, "explain": False,
               "time_limit": min(kw.get("time_limit", 10.0), RANK_TIME_LIMIT)}
    return Ranker(lambda data: plan(source.load(data, f"{model} (candidate)"),
                                    **rank_kw).arena_bytes,
                  plan_name(kw.get("strategy", "best"), kw.get("dmo", False)))


def _source(model, patch, patch_until, max_mac_overhead, alignment: int, input_shapes):
    """The checks every --patch what-if makes; the model opened for `choose`."""
    from ..rewrite.choose import open_source

    check_alignment(alignment)
    check_patch(patch, patch_until, max_mac_overhead)
    path = Path(model)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    return open_source(path, {k: tuple(v) for k, v in (input_shapes or {}).items()})


def _original(model, source):
    """What `plan`/`profile` read for the model as it is: the ONNX Graph already
    loaded (with the input shapes), or the .tflite's path."""
    return source.graph if source.format == "onnx" else model
