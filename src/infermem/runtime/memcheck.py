"""Does the run really happen in the planned memory?  Measured with tracemalloc.

`measure(graph, offsets, arena_bytes, inputs)` builds the executor and runs it
with Python's allocation tracer on: the arena is allocated inside the traced window
(weights were loaded before it, and are counted apart), and each operator's
allocations — its bound kernel, its views, its temporaries — are measured
against the scratch its kernel declares.  numpy reports its buffers to
tracemalloc, so this is every array the run creates.  A full garbage
collection before each operator empties CPython's free lists: a freed tuple
or float parked there for reuse still counts as allocated to tracemalloc, and
would otherwise pile up over the run as if the executor kept it.

A weight mapped from the model file (the frontends never copy weights) can
sit at an offset that is no multiple of its item size; numpy then copies it
to aligned memory each time a kernel reads it, and those copies would count
as the kernel's.  `measure` gives such weights aligned copies before tracing:
weights are the model's bytes, counted apart.
"""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..graph import Graph
from .executor import Executor


@dataclass(frozen=True)
class OpMemory:
    op: int
    type: str
    declared: int  # scratch the kernel declares
    measured: int  # peak allocated above the bytes held when the kernel started


@dataclass(frozen=True)
class MemoryReport:
    arena_bytes: int
    scratch_bytes: int  # the largest declared scratch (kernels run one at a time)
    bookkeeping_bytes: int  # held by the executor besides the arena (Python objects)
    peak_bytes: int  # traced peak over building the executor and one run
    ops: tuple[OpMemory, ...]

    @property
    def budget(self) -> int:
        """Arena + declared scratch + 5%."""
        return int((self.arena_bytes + self.scratch_bytes) * 1.05)

    @property
    def ok(self) -> bool:
        return self.peak_bytes <= self.budget

    def over_declared(self, slack: int = 0) -> list[OpMemory]:
        """Kernels that allocated more than they declared (+ `slack`)."""
        return [o for o in self.ops if o.measured > o.declared + slack]


def measure(graph: Graph, offsets: Mapping[str, int], arena_bytes: int,
            inputs: Mapping[str, np.ndarray], order: Sequence[int] | None = None,
            warm_up: bool = True) -> MemoryReport:
    """Trace building the executor and one run.  `warm_up` first runs a throwaway
    executor untraced, so numpy's one-time caches (first use of a function)
    are not mistaken for the run's memory."""
    graph = aligned_weights(graph)
    if warm_up:
        Executor(graph, offsets, arena_bytes, order).run(inputs)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    gc.collect()
    gc.freeze()  # the per-operator collections below then scan only new objects: fast
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        ex = Executor(graph, offsets, arena_bytes, order)
        held, peak = tracemalloc.get_traced_memory()
        book = held - base - ex.arena.nbytes
        ops: list[OpMemory] = []
        start = [0]

        def before(step: int, op) -> None:
            gc.collect()
            tracemalloc.reset_peak()
            start[0] = tracemalloc.get_traced_memory()[0]

        def after(step: int, op) -> None:
            nonlocal peak
            top = tracemalloc.get_traced_memory()[1]
            peak = max(peak, top)
            ops.append(OpMemory(op.index, op.type, ex.scratch[op.index], top - start[0]))

        tracemalloc.reset_peak()
        ex.run(inputs, before=before, after=after)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        return MemoryReport(ex.arena.nbytes, ex.scratch_bytes, book, peak - base, tuple(ops))
    finally:
        gc.unfreeze()
        if not was_tracing:
            tracemalloc.stop()


def aligned_weights(graph: Graph) -> Graph:
    """The graph with each weight numpy cannot use in place (unaligned) copied."""
    fix = {n: dataclasses.replace(t, data=np.array(t.data)) for n, t in graph.tensors.items()
           if t.data is not None and not np.asarray(t.data).flags.aligned}
    return dataclasses.replace(graph, tensors={**graph.tensors, **fix}) if fix else graph
