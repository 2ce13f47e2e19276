"""What explains the peak: the tensors live at the peak step, with the operator
that writes each and the operators that read it; and the weights each operator
keeps in flash.  Computed from the profile (no runtime is run)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from ..graph import Graph, Role
from ..profile import Profile


@dataclass(frozen=True)
class OpRef:
    index: int  # operator index in the file
    type: str


@dataclass(frozen=True)
class PeakTensor:
    """One arena tensor alive at the peak step (views of it counted with it)."""

    name: str
    bytes: int  # aligned, as counted in the live set
    shape: tuple[int, ...]
    dtype: str
    producer: OpRef | None  # None: a graph input
    consumers: tuple[OpRef, ...]  # every operator that reads it (or a view of it)
    first: int  # steps of its lifetime
    last: int
    views: tuple[str, ...]  # alias tensors that share its bytes

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OperatorWeights:
    """The constant tensors (flash) an operator reads."""

    index: int
    type: str
    bytes: int
    tensors: tuple[str, ...]

    def to_json(self) -> dict:
        return asdict(self)


def _views(graph: Graph) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for name, t in graph.tensors.items():
        if t.alias_of is not None:
            out[graph.root(name)].append(name)
    return out


def peak_tensors(graph: Graph, prof: Profile) -> tuple[PeakTensor, ...]:
    """The tensors live at `prof`'s peak step, largest first (they sum to the peak)."""
    if prof.peak_step is None:
        return ()
    step = prof.peak_step
    producers, consumers, views = graph.producers, graph.consumers, _views(graph)
    ops = graph.operators

    def ref(i: int) -> OpRef:
        return OpRef(i, ops[i].type)

    rows = []
    for lt in prof.lifetimes:
        if not lt.first <= step <= lt.last:
            continue
        t = graph.tensors[lt.name]
        names = [lt.name, *views.get(lt.name, [])]
        readers = sorted({i for n in names for i in consumers.get(n, ())})
        prod = producers.get(lt.name)
        rows.append(PeakTensor(lt.name, lt.bytes, tuple(t.shape), t.dtype,
                               None if prod is None else ref(prod),
                               tuple(ref(i) for i in readers), lt.first, lt.last,
                               tuple(views.get(lt.name, []))))
    return tuple(sorted(rows, key=lambda r: (-r.bytes, r.name)))


def weights_per_operator(graph: Graph) -> tuple[OperatorWeights, ...]:
    """Per operator, the weight tensors it reads and their bytes (a weight shared
    by several operators is listed with each; `graph.weights_bytes` counts it once)."""
    rows = []
    for op in graph.operators:
        names = tuple(dict.fromkeys(n for n in op.inputs
                                    if n and graph.tensors[n].role is Role.WEIGHT))
        if names:
            rows.append(OperatorWeights(op.index, op.type,
                                        sum(graph.tensors[n].nbytes for n in names), names))
    return tuple(rows)
