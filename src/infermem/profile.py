"""Static memory profile: what a model needs in RAM and flash, step by step.

Everything here is computed from the model file (no runtime is run): the live
set of arena tensors at every step of an execution order, its peak and where
it occurs, the weights that stay in flash, and the naive arena that a planner
without reuse would need (every buffer of the runtime's planning problem in its
own bytes, as the `linear` strategy lays them out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .graph import Graph
from .lifetimes import Lifetime, lifetimes, live_bytes
from .macs import macs
from .planners.problem import align_up


@dataclass(frozen=True)
class OperatorRow:
    step: int
    index: int
    type: str
    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    live_bytes: int
    live_tensors: tuple[str, ...]
    macs: int | None


@dataclass(frozen=True)
class Profile:
    model: str
    format: str
    alignment: int
    order: tuple[int, ...]
    operators: tuple[OperatorRow, ...]
    lifetimes: tuple[Lifetime, ...]
    weights_bytes: int
    naive_bytes: int
    peak_bytes: int
    peak_step: int | None
    input_bytes: int
    output_bytes: int

    @property
    def peak_operator_index(self) -> int | None:
        return None if self.peak_step is None else self.order[self.peak_step]

    @property
    def total_macs(self) -> int:
        return sum(r.macs or 0 for r in self.operators)


def profile(graph: Graph, order: Sequence[int] | None = None, alignment: int = 16) -> Profile:
    order = graph.file_order if order is None else tuple(order)
    lts = lifetimes(graph, order, alignment)
    per_step = live_bytes(lts, len(order))
    live = live_names(lts, len(order))
    rows = tuple(
        OperatorRow(
            step=s,
            index=i,
            type=graph.operators[i].type,
            outputs=tuple((o, graph.tensors[o].shape) for o in graph.operators[i].outputs if o),
            live_bytes=per_step[s],
            live_tensors=live[s],
            macs=macs(graph, graph.operators[i]),
        )
        for s, i in enumerate(order)
    )
    peak_step = max(range(len(per_step)), key=per_step.__getitem__) if per_step else None

    def io_bytes(names: Sequence[str]) -> int:
        roots = {graph.root(n) for n in names}
        return sum(align_up(graph.tensors[r].nbytes, alignment) for r in roots)

    return Profile(
        model=graph.name,
        format=graph.format,
        alignment=alignment,
        order=order,
        operators=rows,
        lifetimes=tuple(lts),
        weights_bytes=graph.weights_bytes,
        naive_bytes=_naive(graph, order, alignment),
        peak_bytes=per_step[peak_step] if peak_step is not None else 0,
        peak_step=peak_step,
        input_bytes=io_bytes(graph.inputs),
        output_bytes=io_bytes(graph.outputs),
    )


def _naive(graph: Graph, order: tuple[int, ...], alignment: int) -> int:
    """The naive arena of the problem the runtime plans (for `.tflite`, TFLM's
    kernel scratch buffers included): the same figure as the `linear` plan."""
    from .planning import build_problem, naive_bytes

    return naive_bytes(build_problem(graph, order, alignment))


def live_names(lts: Sequence[Lifetime], steps: int) -> list[tuple[str, ...]]:
    """Per step, the names of the tensors live then, in `lts` order: one sweep
    over starts and ends (O(steps + output)), not a scan of every lifetime at
    every step, which made a 30,000-node chain take a minute."""
    starts: list[list[int]] = [[] for _ in range(steps)]
    ends: list[list[int]] = [[] for _ in range(steps)]
    for k, lt in enumerate(lts):
        if lt.first <= lt.last and lt.first < steps and lt.last >= 0:
            starts[max(lt.first, 0)].append(k)
            ends[min(lt.last, steps - 1)].append(k)
    active: dict[int, None] = {}
    out = []
    for s in range(steps):
        active.update(dict.fromkeys(starts[s]))
        out.append(tuple(lts[k].name for k in sorted(active)))
        for k in ends[s]:
            active.pop(k, None)
    return out


def to_json(graph: Graph, p: Profile) -> dict:
    """The documented machine-readable profile (see README, `profile --json`)."""
    span = {lt.name: lt for lt in p.lifetimes}
    return {
        "model": p.model,
        "format": p.format,
        "source": "computed from the model file",
        "alignment": p.alignment,
        "weights_bytes": p.weights_bytes,
        "naive_bytes": p.naive_bytes,
        "peak_bytes": p.peak_bytes,
        "peak_operator_index": p.peak_operator_index,
        "peak_step": p.peak_step,
        "input_bytes": p.input_bytes,
        "output_bytes": p.output_bytes,
        "total_macs": p.total_macs,
        "order": list(p.order),
        "operators": [
            {
                "step": r.step,
                "index": r.index,
                "type": r.type,
                "outputs": [{"name": n, "shape": list(s)} for n, s in r.outputs],
                "live_bytes": r.live_bytes,
                "live_tensors": list(r.live_tensors),
                "macs": r.macs,
            }
            for r in p.operators
        ],
        "tensors": [
            {
                "name": t.name,
                "index": t.index,
                "shape": list(t.shape),
                "dtype": t.dtype,
                "bytes": span[t.name].bytes if t.name in span else t.nbytes,
                "role": t.role.value,
                "alias_of": t.alias_of,
                "first": span[t.name].first if t.name in span else None,
                "last": span[t.name].last if t.name in span else None,
            }
            for t in graph.tensors.values()
        ],
    }
