"""`optimize MODEL.onnx --patch`: choose a patched rewrite, prove it, write it.

An ONNX model carries no arena plan, so what is written is the rewritten
model itself, and only after two checks pass:

1. onnxruntime (graph optimisations off: ONNX's operator-by-operator
   semantics) runs the original and the rewrite on your `inputs` and `runs`
   seeded random input sets: every output bit-identical, or within float32
   tolerance (`runtime.compare`: 1e-4 of the output's magnitude) where a
   kernel's summation order depends on the tile's size (MLAS's SGEMM cuts
   a long dot product into blocks chosen from the output's width: a 7x7 conv
   over 3 channels, or any conv reading more than ~128 values per output);
   which of the two held is reported.  Outputs that do not vary with the
   input prove nothing and fail unless allowed.
2. `infermem verify` of the rewrite: it runs in infermem's arena executor
   inside its planned arena (`strategy`, DMO and reordering as asked), every
   tensor checked against onnxruntime.

When no rewrite lowers the arena the model is written unchanged, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInput, Failure
from ..graph import Graph
from . import PatchResult, parse_grid
from .choose import RANK_TIME_LIMIT, Choice, Ranker, choose, plan_name
from .onnx_patch import OnnxSource


@dataclass(frozen=True)
class OnnxCheck:
    """The rewrite against the original in onnxruntime."""

    input_sets: int
    bit_identical: bool
    max_error: float  # the largest |difference| over outputs and sets (0.0: bit-identical)
    allowed: float  # the tolerance it was held to (float32: 1e-4 x the output's magnitude)
    constant_outputs: tuple[str, ...]
    sets_for_variation: int
    stage_output_varies: bool  # the patches' reassembled tensor differs between the sets
    seconds_before: float  # one onnxruntime inference, fastest over the sets
    seconds_after: float


@dataclass(frozen=True)
class OnnxPatchedOptimize:
    model: str
    output: str
    patch: PatchResult | None  # None: written unchanged
    reason: str
    choice: Choice
    strategy: str
    arena_before: int  # infermem's plan (strategy, DMO, reorder) of the original
    arena_after: int  # ... of what was written
    check: OnnxCheck | None  # None: --no-verify, or nothing rewritten
    verify: object | None  # runtime.verify.VerifyReport of the rewrite in its arena

    @property
    def verified(self) -> bool:
        return self.check is not None and self.verify is not None and self.verify.ok


def optimize_onnx(src: str | Path, dst: str | Path, *, patch: str = "auto",
                  patch_until: int | None = None, max_mac_overhead: float = 0.25,
                  strategy: str = "best", time_limit: float = 10.0, reorder: bool = False,
                  dmo: bool = False, verify_outputs: bool = True, runs: int = 3,
                  inputs: Sequence[Mapping[str, np.ndarray]] = (), seed: int = 0,
                  force: bool = False, alignment: int = 16,
                  input_shapes: Mapping[str, tuple[int, ...]] | None = None,
                  allow_constant_outputs: bool = False) -> OnnxPatchedOptimize:
    """Rewrite `src` (an .onnx) with its best patched stage, check it, write `dst`."""
    from ..outputs import check_output, write_bytes
    from ..planning import plan_model

    check_output(dst, [src], force=force)
    source = OnnxSource(src, input_shapes)
    grids = None if patch == "auto" else [parse_grid(patch)]
    kw = dict(strategy=strategy, time_limit=time_limit, alignment=alignment, reorder=reorder,
              dmo=dmo)  # fmt: skip
    rank_kw = {**kw, "reorder": False, "time_limit": min(time_limit, RANK_TIME_LIMIT)}
    rank = Ranker(lambda data: plan_model(source.load(data, f"{src} (candidate)"),
                                          **rank_kw).plan.arena_bytes, plan_name(strategy, dmo))
    choice = choose(source, grids, patch_until, max_mac_overhead, rank=rank)
    r, reason = choice.result, choice.reason
    before_plan = after_plan = plan_model(source.graph, **kw)
    if r is not None:
        after = source.load(r.data, f"{src} (patched)")
        after_plan = plan_model(after, **kw)
        if after_plan.plan.arena_bytes >= before_plan.plan.arena_bytes:
            reason = (f"patching does not lower the arena under this plan: {r.describe()} "
                      f"needs {after_plan.plan.arena_bytes:,} B, the model as it is "
                      f"{before_plan.plan.arena_bytes:,} B")
            r, after_plan = None, before_plan
    data = r.data if r else source.raw
    check = report = None
    if verify_outputs and r is not None:
        sets = [*inputs, *(_random(source.graph, seed + i) for i in range(runs))]
        check = compare_in_onnxruntime(source, data, sets, allow_constant_outputs, seed,
                                       r.stage_output)
        report = _verify(after, r.data, after_plan, sets, allow_constant_outputs)
    write_bytes(dst, data)
    name = strategy + (" + DMO" if dmo else "") + (" + reorder" if reorder else "")
    return OnnxPatchedOptimize(str(src), str(dst), r, reason, choice, name,
                               before_plan.plan.arena_bytes, after_plan.plan.arena_bytes,
                               check, report)


def _random(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    from ..runtime.verify import random_inputs

    return random_inputs(graph, seed)


def compare_in_onnxruntime(source: OnnxSource, data: bytes,
                           sets: Sequence[Mapping[str, np.ndarray]],
                           allow_constant_outputs: bool = False, seed: int = 0,
                           stage_output: str | None = None) -> OnnxCheck:
    """The rewrite's outputs (and `stage_output`, the tensor the patches
    reassemble, in both models) against the original's in onnxruntime on
    `sets`; Failure when one differs beyond float tolerance or a graph output
    does not vary."""
    from ..runtime.compare import compare, constant_outputs, exact
    from ..runtime.reference import Reference

    if not sets:
        raise BadInput("verification needs --runs >= 1 or --inputs")
    extra = [stage_output] if stage_output else []
    dtypes = {t: source.graph.tensors[t].dtype for t in extra}
    a, b = Reference(source.proto, extra, dtypes), Reference(_proto(data), extra, dtypes)
    worst, allowed, identical, ta, tb, refs = 0.0, 0.0, True, [], [], []
    for k, feed in enumerate(sets):
        want, ta = _timed(a, feed, ta)
        got, tb = _timed(b, feed, tb)
        refs.append(want)
        for name in [*a.outputs, *(t for t in extra if t not in a.outputs)]:
            if exact(got[name], want[name]).ok:
                continue
            identical, d = False, compare(got[name], want[name])
            worst, allowed = max(worst, d.error), max(allowed, d.allowed)
            if not d.ok:
                raise Failure(f"the patched model's output {name!r} differs from the "
                              f"original's in onnxruntime on input set {k}: {d.describe()}")
    more = None if allow_constant_outputs else (
        lambda k: a.run(_random(source.graph, seed + 1000 + k)))
    constant, compared = constant_outputs(a.outputs, refs, more)
    if constant and not allow_constant_outputs:
        raise Failure(f"output(s) {list(constant)} are the same for every input set "
                      f"({compared} compared): comparing them proves nothing (see "
                      "--allow-constant-outputs)")
    varies = not extra or len(refs) < 2 or any(
        not exact(x[extra[0]], refs[0][extra[0]]).ok for x in refs[1:])
    return OnnxCheck(len(sets), identical, worst, allowed, constant, compared, varies,
                     min(ta), min(tb))


def _proto(data: bytes):
    from ..frontends.onnx_load import parse_model

    return parse_model(data, "patched model")


def _timed(ref, feed, times: list[float]) -> tuple[dict, list[float]]:
    t0 = time.perf_counter()
    out = ref.run(feed)
    return out, [*times, time.perf_counter() - t0]


def _verify(graph: Graph, data: bytes, planned, sets, allow_constant_outputs: bool):
    """`infermem verify` of the rewrite in its planned arena; Failure if it fails."""
    from ..runtime.verify import check_memory, verify

    p = planned.plan
    check_memory(graph, p.arena_bytes, len(sets))
    report = verify(graph, _proto(data), p.offsets, p.arena_bytes, planned.order, sets,
                    p.strategy, allow_constant_outputs=allow_constant_outputs)
    if not report.ok:
        raise Failure(f"infermem verify of the patched model failed: {report.summary()}")
    return report
