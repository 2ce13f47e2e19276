"""`--verify`: prove each level's arena by running the model inside it.

`.tflite`: the plan is written into a temporary copy as TFLM offline-plan
metadata and original and copy run in TFLM with bit-identical outputs
required (`tflm.optimize`); the arena reported is the head TFLM measured.
ONNX: the plan runs in infermem's arena executor and every tensor is
compared with onnxruntime (`runtime.verify`).

The levels are cumulative as in `fit` (each keeps what the one before
gained), so a level's proven arena is the smallest among the configurations
(planner, reorder, DMO) it may use, each verified once and reused.  A level
that changes the model (an int8 what-if of a float model) has nothing to run
and says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InfermemError
from ..fit import Needs
from ..graph import Graph


@dataclass(frozen=True)
class Proof:
    ok: bool
    arena_bytes: int | None
    note: str


def verify_levels(path: str, graph: Graph, needs: Needs, options) -> dict:
    """{level: {verified, verified_arena_bytes, how}} for the chosen levels."""
    proofs: dict[tuple, Proof] = {}

    def proof(config: tuple) -> Proof:
        if config not in proofs:
            proofs[config] = _prove(path, graph, config, options)
        return proofs[config]

    def configs(level: str) -> list[tuple]:
        if level == "runtime":
            return [("runtime",)]
        out = [("best", False, False)]
        if level in ("reorder", "dmo", "int8"):
            out.append(("best", True, False))
        if level in ("dmo", "int8"):
            a, b = proof(out[0]), proof(out[1])
            helped = b.ok and a.ok and b.arena_bytes < a.arena_bytes
            out.append(("best", helped, True))
        if level == "fuse":
            out.append(("best", True, True, "tvm"))
        return out

    result = {}
    for name in options.levels:
        lv = needs.level(name)
        if name == "patch":
            result[name] = {"verified": None, "verified_arena_bytes": None,
                            "how": "the patched rewrite is proven bit-identical by `infermem "
                                   "optimize --patch`, not by the sweep"}
            continue
        if not lv.available and name == "fuse":
            result[name] = {"verified": None, "verified_arena_bytes": None, "how": lv.how}
            continue
        if lv.changes_model:
            result[name] = {"verified": None, "verified_arena_bytes": None,
                            "how": "what-if: the model must change first (see `infermem "
                                   "quantize`); nothing to run"}
            continue
        ps = [proof(c) for c in configs(name)]
        good = [p.arena_bytes for p in ps if p.ok]
        bad = [p.note for p in ps if not p.ok]
        result[name] = {"verified": not bad, "verified_arena_bytes": min(good) if good else None,
                        "how": "; ".join(bad) if bad else ps[-1].note}
    return result


def _prove(path: str, graph: Graph, config: tuple, options) -> Proof:
    try:
        if graph.format == "tflite":
            return _prove_tflite(path, config, options)
        return _prove_onnx(path, graph, config, options)
    except InfermemError as e:
        return Proof(False, None, f"not verified: {e}")


def _prove_tflite(path: str, config: tuple, options) -> Proof:
    from ..tflm import measure, optimize

    if config == ("runtime",):
        m = measure(path, bisect=False, timeout=options.timeout)
        return Proof(True, m.head_bytes, "measured in TFLM (its own plan)")
    _, reorder, dmo = config
    with tempfile.TemporaryDirectory(prefix="infermem-sweep-") as tmp:
        r = optimize(path, Path(tmp) / Path(path).name, strategy="best", runs=1,
                     time_limit=options.time_limit, timeout=options.timeout,
                     reorder=reorder, dmo=dmo)
    return Proof(r.verified, r.head_after,
                 "offline plan run in TFLM, outputs bit-identical; head measured")


def _prove_onnx(path: str, graph: Graph, config: tuple, options) -> Proof:
    from ..planning import plan_model
    from ..runtime.verify import verify

    strategy, reorder, dmo, *fuse = ("tflm", False, False) if config == ("runtime",) else config
    fused = fuse[0] if fuse else None
    pm = plan_model(graph, strategy, options.time_limit, options.alignment, reorder, dmo, fused)
    rep = verify(graph, path, pm.plan.offsets, pm.plan.arena_bytes, pm.order, None, strategy,
                 planned=pm.graph if fused else None)
    if not rep.ok:
        return Proof(False, None, f"not verified: {rep.summary()}")
    return Proof(True, rep.arena_bytes,
                 "run in infermem's arena executor: bit-identical to the file-order run, "
                 "kernels match onnxruntime, outputs vary with the input")
