"""Run a Graph inside one preallocated arena at a plan's offsets.

    ex = Executor(graph, plan.offsets, plan.arena_bytes, order)
    outputs = ex.run({"input": x})            # views into the arena
    outputs, trace = run(graph, plan, inputs, trace=True)

The loop is tiny on purpose: for each operator in the schedule, bind its
kernel, hand it the arena views of its tensors through a `KernelIO`, drop
both.  Every kernel is bound once up front (shapes checked, unsupported
operators refused, scratch declared) and then discarded, so between
operators the executor holds the arena and nothing that grows with the
model.  Hooks (`before`, `after`) let `verify` compare every tensor with a
reference as soon as it is written and again just before it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..errors import BadInput
from ..graph import Graph, Operator, check_order
from ..planners.problem import Plan
from .arena import Arena
from .kernels import Kernel, KernelIO, check_supported, kernel_for
from .kernels.base import KERNEL_OVERHEAD
from .numenv import lean_numpy
from .qview import QView
from .trace import Recorder, Trace

Hook = Callable[[int, Operator], None]


class Executor:
    """A graph bound to its kernels and an arena laid out by a plan."""

    def __init__(self, graph: Graph, offsets: Mapping[str, int], arena_bytes: int,
                 order: Sequence[int] | None = None) -> None:
        self.graph = graph
        self.order = tuple(graph.file_order if order is None else order)
        check_order(graph, self.order)
        check_supported(graph)
        self.arena = Arena(graph, offsets, arena_bytes)
        # one kernel alive at a time (see Arena): its scratch, and whether it has
        # one at all (views have none; known once, not asked again on every run)
        declared = [(_scratch(k), k is None)
                    for k in (kernel_for(op, graph) for op in graph.operators)]
        self.scratch = tuple(s for s, _ in declared)
        self.idle = tuple(i for _, i in declared)

    @classmethod
    def from_plan(cls, graph: Graph, plan: Plan, order: Sequence[int] | None = None) -> Executor:
        return cls(graph, plan.offsets, plan.arena_bytes, order)

    @property
    def scratch_bytes(self) -> int:
        """The most scratch any one kernel declares (kernels run one at a time)."""
        return max(self.scratch, default=0)

    def kernel(self, i: int) -> Kernel | None:
        """Operator `i` bound to its kernel (None: it moves no bytes)."""
        return None if self.idle[i] else kernel_for(self.graph.operators[i], self.graph)

    def load_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        g = self.graph
        unknown = set(inputs) - set(g.inputs)
        if unknown:
            raise BadInput(f"no graph input named {sorted(unknown)[0]!r}; inputs are "
                           f"{list(g.inputs)}")
        for name in g.inputs:
            if name not in inputs:
                raise BadInput(f"graph input {name!r} was not given")
            value, dst = np.asarray(inputs[name]), self.arena.view(name)
            if tuple(value.shape) != tuple(dst.shape):
                raise BadInput(f"input {name!r} has shape {value.shape}, the model wants "
                               f"{dst.shape}")
            if not np.can_cast(value.dtype, dst.dtype, casting="same_kind"):
                raise BadInput(f"input {name!r} is {value.dtype}, the model wants {dst.dtype}")
            np.copyto(dst, value, casting="same_kind")

    def run(self, inputs: Mapping[str, np.ndarray], trace: Trace | None = None,
            before: Hook | None = None, after: Hook | None = None) -> dict[str, np.ndarray]:
        """Run once; outputs are views into the arena, valid until the next run."""
        self.load_inputs(inputs)
        with lean_numpy():
            self._loop(trace, before, after)
        return {name: self.value(name) for name in self.graph.outputs}

    def _loop(self, trace: Trace | None, before: Hook | None, after: Hook | None) -> None:
        a, g = self.arena, self.graph
        for step, i in enumerate(self.order):
            op = g.operators[i]
            if before is not None:
                before(step, op)
            kernel = self.kernel(i)
            if kernel is not None:
                rec = None
                if trace is not None:
                    rec = Recorder(trace, i, a.base, a.nbytes,
                                   [self.graph.root(t) if t else "" for t in op.inputs],
                                   [self.graph.root(t) if t else "" for t in op.outputs])
                io = KernelIO([a.view(t) if t else None for t in op.inputs],
                              [a.view(t) if t else None for t in op.outputs], rec)
                kernel.run(io)
                del io, kernel
            if after is not None:
                after(step, op)

    def value(self, name: str) -> np.ndarray:
        """The current value of any tensor (dequantized for a QDQ float view)."""
        v = self.arena.view(name)
        return v.load(v.ints, (), None) if isinstance(v, QView) else v

    def new_trace(self) -> Trace:
        return Trace(dict(self.arena.offsets))


def max_scratch(graph: Graph) -> int:
    """The most scratch any kernel of `graph` declares, known before an arena
    exists (for the memory estimate, which comes first: an operator without a
    kernel adds nothing here, and the executor refuses it after)."""
    most = 0
    for op in graph.operators:
        try:
            most = max(most, _scratch(kernel_for(op, graph)))
        except BadInput:
            continue
    return most


def _scratch(kernel: Kernel | None) -> int:
    """A kernel's declared scratch; an operator that moves no bytes still costs
    the loop a few Python objects."""
    return kernel.scratch_bytes if kernel is not None else KERNEL_OVERHEAD


def run(graph: Graph, plan: Plan, inputs: Mapping[str, np.ndarray], trace: bool = False,
        order: Sequence[int] | None = None):
    """Run `graph` in the arena `plan` lays out.  Returns copies of the outputs,
    and with `trace=True` also the Trace of every chunk's reads and writes."""
    ex = Executor.from_plan(graph, plan, order)
    tr = ex.new_trace() if trace else None
    outs = {k: np.array(v) for k, v in ex.run(inputs, trace=tr).items()}
    return (outs, tr) if trace else outs
