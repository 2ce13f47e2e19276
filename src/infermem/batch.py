"""The largest batch that fits a memory budget (server-side inference).

Memory needed at batch b = the arena of infermem's plan for the model
re-planned at batch b + a decoder's KV cache (kvcache.py) + the weights
(resident in RAM on a server).  Only a
model whose batch dimension is symbolic can be re-planned this way (an ONNX
input with a named or unknown dim 0, a .tflite whose shape signature has -1
there); a model with a fixed batch is refused with a clear message rather
than rewritten behind the user's back.

The search (growth.py) doubles the batch until the need exceeds the budget,
then bisects between the last batch that fitted and the first that did not:
it assumes the need grows with the batch (every activation scales with it);
the answer and answer + 1 are both planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInput
from .graph import Graph
from .growth import largest

MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class BatchPoint:
    batch: int
    arena_bytes: int
    weights_bytes: int
    fits: bool
    kv_bytes: int = 0  # a decoder's KV cache, held outside the arena (kvcache.py)

    @property
    def total_bytes(self) -> int:
        return self.arena_bytes + self.kv_bytes + self.weights_bytes


@dataclass(frozen=True)
class MaxBatch:
    budget_bytes: int
    batch: int  # 0 when not even batch 1 fits
    at: BatchPoint | None  # the plan at `batch`
    above: BatchPoint  # the plan at `batch + 1` (does not fit)
    probes: tuple[BatchPoint, ...]  # every batch planned, in search order
    strategy: str
    capped: bool = False  # stopped at MAX_BATCH, still fitting


def batch_inputs(path: str | Path) -> dict[str, tuple[int | None, ...]]:
    """Each graph input's declared dims (None where symbolic), refusing a model
    without any symbolic batch dimension."""
    from .frontends import sniff_format

    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    dims = _tflite_dims(path) if sniff_format(path) == "tflite" else _onnx_dims(path)
    if not any(d and d[0] is None for d in dims.values()):
        shown = ", ".join(f"{n} {list(d)}" for n, d in dims.items())
        raise BadInput(
            f"{path}: no input has a symbolic batch dimension ({shown}); --max-batch re-plans "
            "the model at other batch sizes, so export it with a dynamic batch axis "
            "(e.g. torch.onnx.export(..., dynamic_axes={'input': {0: 'batch'}}))"
        )
    return dims


def _onnx_dims(path: Path) -> dict[str, tuple[int | None, ...]]:
    from .frontends.onnx_weights import open_model

    model, _ = open_model(Path(path))  # without reading the weights
    inits = {t.name for t in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = vi.type.tensor_type.shape.dim
        out[vi.name] = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                             else None for d in shape)
    return out


def _tflite_dims(path: Path) -> dict[str, tuple[int | None, ...]]:
    from .frontends.tflite import map_bytes, unique_names
    from .frontends.tflite_flatbuffer import Corrupt, parse

    try:
        fb = parse(map_bytes(path), str(path))
    except Corrupt as e:
        raise BadInput(f"{path}: {e}") from None
    names = unique_names(fb.tensors)
    return {names[i]: tuple(None if s == -1 else d for d, s in
                            zip(fb.tensors[i].shape, fb.tensors[i].shape_signature
                                or fb.tensors[i].shape, strict=True))
            for i in fb.inputs}


def shapes_at(dims: Mapping[str, tuple[int | None, ...]], batch: int,
              given: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, tuple[int, ...]]:
    """Input shapes at `batch`: dim 0 set to it where symbolic, other dims from
    `given` (the user's --input-shape) or the model; BadInput if one is unknown."""
    given = given or {}
    out = {}
    for name, d in dims.items():
        base = list(given.get(name, d))
        if len(base) != len(d):
            raise BadInput(f"--input-shape {name}: rank {len(base)}, the model says {len(d)}")
        if d and d[0] is None:
            base[0] = batch
        if any(x is None for x in base):
            raise BadInput(
                f"input {name!r} has symbolic dimensions beyond the batch {list(d)}; "
                f"fix them with --input-shape {name}=1x..."
            )
        out[name] = tuple(int(x) for x in base)
    return out


def plan_at(path: str | Path, batch: int, budget: int, strategy: str = "best",
            time_limit: float = 5.0, alignment: int = 16, reorder: bool = False,
            dmo: bool = False, given: Mapping[str, tuple[int, ...]] | None = None,
            dims: Mapping[str, tuple[int | None, ...]] | None = None) -> BatchPoint:
    """Load the model at `batch` and plan it: one probe of the search."""
    from .frontends import load
    from .kvcache import kv_bytes
    from .planning import plan_model

    dims = batch_inputs(path) if dims is None else dims
    graph: Graph = load(path, shapes_at(dims, batch, given))
    pm = plan_model(graph, strategy, time_limit, alignment, reorder, dmo)
    kv = kv_bytes(graph)
    need = pm.plan.arena_bytes + kv + graph.weights_bytes
    return BatchPoint(batch, pm.plan.arena_bytes, graph.weights_bytes, need <= budget, kv)


def max_batch(path: str | Path, budget: int, strategy: str = "best", time_limit: float = 5.0,
              alignment: int = 16, reorder: bool = False, dmo: bool = False,
              given: Mapping[str, tuple[int, ...]] | None = None) -> MaxBatch:
    """The largest batch whose plan (arena + KV cache + weights) fits `budget` bytes."""
    if budget <= 0:
        raise BadInput(f"the budget must be positive, got {budget} bytes")
    dims = batch_inputs(path)
    found = largest(lambda b: plan_at(path, b, budget, strategy, time_limit, alignment, reorder,
                                      dmo, given, dims), MAX_BATCH)
    return MaxBatch(budget, found.size, found.at, found.above, found.probes, strategy,
                    capped=found.capped)
