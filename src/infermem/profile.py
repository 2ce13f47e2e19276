"""Static memory profile: what a model needs in RAM and flash, step by step.

Everything here is computed from the model file (no runtime is run): the live
set of arena tensors at every step of an execution order, its peak and where
it occurs, the weights that stay in flash, and the naive arena that a planner
without reuse would need (every buffer of the runtime's planning problem in its
own bytes, as the `linear` strategy lays them out).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .gcpause import paused_gc
from .graph import Graph, checked_order
from .kvcache import KVCache, kv_cache
from .lifetimes import Lifetime, lifetimes, live_bytes, live_counts
from .macs import macs
from .planners.problem import align_up


@dataclass(frozen=True)
class OperatorRow:
    step: int
    index: int
    type: str
    outputs: tuple[tuple[str, tuple[int, ...]], ...]
    live_bytes: int
    live_count: int  # tensors live at this step (their names: `Profile.live_tensors`)
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
    kv_cache: KVCache | None = None  # a decoder's past/present, held outside the arena

    @property
    def peak_operator_index(self) -> int | None:
        return None if self.peak_step is None else self.order[self.peak_step]

    @property
    def total_macs(self) -> int:
        return sum(r.macs or 0 for r in self.operators)

    def live_tensors(self) -> Iterator[tuple[str, ...]]:
        """Per step, the names of the tensors live then.  Generated, not stored:
        on 20,000 parallel branches the lists hold 200 million names (quadratic),
        which a profile without `--json` never needs."""
        return live_names(self.lifetimes, len(self.order))


def profile(graph: Graph, order: Sequence[int] | None = None, alignment: int = 16) -> Profile:
    with paused_gc():  # one row per operator, no cycles (see gcpause)
        return _profile(graph, checked_order(graph, order), alignment)


def _profile(graph: Graph, order: tuple[int, ...], alignment: int) -> Profile:
    lts = lifetimes(graph, order, alignment)
    per_step = live_bytes(lts, len(order))
    live = live_counts(lts, len(order))
    ops, tensors = graph.operators, graph.tensors
    rows = tuple(
        OperatorRow(
            step=s,
            index=i,
            type=op.type,
            outputs=tuple((o, tensors[o].shape) for o in op.outputs if o),
            live_bytes=per_step[s],
            live_count=live[s],
            macs=macs(graph, op),
        )
        for s, i in enumerate(order)
        for op in (ops[i],)
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
        naive_bytes=_naive(graph, order, alignment, lts),
        peak_bytes=per_step[peak_step] if peak_step is not None else 0,
        peak_step=peak_step,
        input_bytes=io_bytes(graph.inputs),
        output_bytes=io_bytes(graph.outputs),
        kv_cache=kv_cache(graph),
    )


def _naive(graph: Graph, order: tuple[int, ...], alignment: int,
           lts: Sequence[Lifetime]) -> int:
    """The naive arena of the problem the runtime plans (for `.tflite`, TFLM's
    kernel scratch buffers included): the same figure as the `linear` plan.
    Outside `.tflite` that problem's buffers are `lts` (`lifetimes.problem`),
    so they are summed here rather than computed a second time."""
    if graph.format != "tflite":
        return sum(lt.bytes for lt in lts)
    from .planning import build_problem, naive_bytes

    return naive_bytes(build_problem(graph, order, alignment))


def live_names(lts: Sequence[Lifetime], steps: int) -> Iterator[tuple[str, ...]]:
    """Per step, the names of the tensors live then, in `lts` order: one sweep
    over starts and ends (O(steps + output)), not a scan of every lifetime at
    every step, which made a 30,000-node chain take a minute; yielded one step
    at a time, so only the current live set is held."""
    starts: list[list[int]] = [[] for _ in range(steps)]
    ends: list[list[int]] = [[] for _ in range(steps)]
    for k, lt in enumerate(lts):
        if lt.first <= lt.last and lt.first < steps and lt.last >= 0:
            starts[max(lt.first, 0)].append(k)
            ends[min(lt.last, steps - 1)].append(k)
    active: dict[int, None] = {}
    for s in range(steps):
        active.update(dict.fromkeys(starts[s]))
        yield tuple(lts[k].name for k in sorted(active))
        for k in ends[s]:
            active.pop(k, None)


# bytes per name of a `live_tensors` list while `--json` is built: the list's
# pointer, then the name's JSON text three times (the row, the joined rows, the output)
_LIST_ENTRY = 8
_TEXT_COPIES = 3


def json_bytes_estimate(p: Profile) -> int:
    """What the `live_tensors` lists of the JSON need in memory: every tensor is
    named at each step of its lifetime, so the lists grow with lifetimes x
    steps (quadratic on wide graphs), computed here without building them."""
    return sum((lt.last - lt.first + 1) * (_LIST_ENTRY + _TEXT_COPIES * (len(lt.name) + 4))
               for lt in p.lifetimes)


def to_json(graph: Graph, p: Profile) -> dict:
    """The documented machine-readable profile (see README, `profile --json`);
    BadInput, before it is built, when its live-tensor lists exceed the budget."""
    from .budget import check

    check(json_bytes_estimate(p), f"the JSON profile's live-tensor lists ({len(p.order):,} "
          "steps)")
    with paused_gc():  # two rows per operator, no cycles (see gcpause)
        return _json(graph, p)


def _json(graph: Graph, p: Profile) -> dict:
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
        "kv_cache": p.kv_cache.to_json() if p.kv_cache else None,
        "total_macs": p.total_macs,
        "order": list(p.order),
        "operators": [
            {
                "step": r.step,
                "index": r.index,
                "type": r.type,
                "outputs": [{"name": n, "shape": list(s)} for n, s in r.outputs],
                "live_bytes": r.live_bytes,
                "live_tensors": list(names),
                "macs": r.macs,
            }
            for r, names in zip(p.operators, p.live_tensors(), strict=True)
        ],
        "tensors": [_tensor_json(t, span.get(t.name)) for t in graph.tensors.values()],
    }


def _tensor_json(t, lt: Lifetime | None) -> dict:
    """One row of the profile's `tensors` (its lifetime, when it has one in the arena)."""
    return {
        "name": t.name,
        "index": t.index,
        "shape": list(t.shape),
        "dtype": t.dtype,
        "bytes": t.nbytes if lt is None else lt.bytes,
        "role": t.role.value,
        "alias_of": t.alias_of,
        "first": None if lt is None else lt.first,
        "last": None if lt is None else lt.last,
    }
