"""The planning problem exactly as TFLite Micro's allocator builds it.

`AllocationInfoBuilder::MarkAllocationLifetimes` (micro_allocation_info.cc)
numbers *allocation scopes*: scope 0 is the subgraph's start, operator k runs
in scope k+1.  A subgraph input is created and last used at scope 0, then its
last use moves to every operator that reads it; an operator's output is
created at its scope (first write wins); scratch buffers live in their
operator's scope; after the last operator every subgraph output is extended
to the final scope.  A tensor that nothing touches keeps the lifetime
[-1, -1].  Sizes are `TfLiteEvalTensorByteLength` rounded up to 16 bytes
(`MicroArenaBufferAlignment`) when added to the planner, tensors first in
index order, then scratch buffers in request order: the add order decides
ties in the greedy planner's size sort, so it is kept here.

This problem's steps are those scopes (shifted by one only when an untouched
tensor needs the extra scope -1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..graph import Graph
from ..planners.problem import Buffer, Problem, align_up
from ._model import TflmModel, read_model
from .scratch import UNMODELLED, scratch_requests


@dataclass(frozen=True)
class TflmProblem:
    """A Problem plus what it took to build it: the model, and which buffers are
    tensors (by file index) and which are scratch buffers."""

    problem: Problem
    model: TflmModel
    tensor_buffers: dict[str, int]  # buffer name -> tensor index in subgraph 0
    scratch_buffers: tuple[str, ...]
    unmodelled_ops: tuple[str, ...]  # op types whose scratch requests are not modelled


def _as_model(model: Graph | TflmModel | str | Path) -> TflmModel:
    if isinstance(model, TflmModel):
        return model
    if isinstance(model, Graph):
        if model.format == "tflite" and "source_bytes" in model.meta:  # held in memory
            from ._model import model_from_bytes

            return model_from_bytes(model.meta["source_bytes"], model.source)
        if model.format != "tflite" or not model.source:
            raise BadInput("a TFLM problem needs a .tflite model (the graph has no .tflite source)")
        return read_model(model.source)
    return read_model(model)


def tflm_problem(
    model: Graph | TflmModel | str | Path,
    order: Sequence[int] | None = None,
    alignment: int = 16,
    preserve_inputs: bool = False,
) -> Problem:
    """The Problem TFLM's GreedyMemoryPlanner solves for subgraph 0 of `model`."""
    return build(model, order, alignment, preserve_inputs).problem


def build(
    model: Graph | TflmModel | str | Path,
    order: Sequence[int] | None = None,
    alignment: int = 16,
    preserve_inputs: bool = False,
) -> TflmProblem:
    """`tflm_problem` with its bookkeeping.  `order` runs the operators in another
    order (the written model must then list them in that order);
    `preserve_inputs` keeps graph inputs live to the end, so inference does not
    overwrite them."""
    m = _as_model(model)
    if len(m.subgraphs) > 1:
        raise BadInput(
            f"{m.path}: {len(m.subgraphs)} subgraphs; TFLM plans control flow across "
            "subgraphs and reads an offline plan per subgraph index, which infermem does not model"
        )
    sg = m.main
    order = tuple(range(len(sg.ops))) if order is None else tuple(order)
    if sorted(order) != list(range(len(sg.ops))):
        raise BadInput("an operator order must name every operator exactly once")
    first, last, scratch = _lifetimes(m, order, preserve_inputs)
    planned = [t for t in sg.tensors if t.planned]
    shift = 1 if any(first.get(t.index, -1) < 0 for t in planned) else 0
    names = _unique_names(planned)
    buffers, tensor_buffers = [], {}
    for t in planned:
        name = names[t.index]
        f, lst = first.get(t.index, -1), last.get(t.index, -1)
        buffers.append(Buffer(name, align_up(t.nbytes, alignment), f + shift, lst + shift, t.index))
        tensor_buffers[name] = t.index
    scratch_names = []
    for k, (op_index, scope, nbytes) in enumerate(scratch):
        name = f"scratch{k}:{sg.ops[op_index].type}@op{op_index}"
        buffers.append(Buffer(name, align_up(nbytes, alignment), scope + shift, scope + shift))
        scratch_names.append(name)
    unmodelled = tuple(sorted({op.type for op in sg.ops if op.type in UNMODELLED}))
    return TflmProblem(
        Problem(tuple(buffers), alignment), m, tensor_buffers, tuple(scratch_names), unmodelled
    )


def _lifetimes(m: TflmModel, order, preserve_inputs):
    """(first, last) scope per tensor index and (op, scope, bytes) per scratch request."""
    sg = m.main
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def create(i: int, scope: int) -> None:
        first.setdefault(i, scope)
        last.setdefault(i, scope)

    def use(i: int, scope: int) -> None:
        last[i] = scope

    for i in sg.inputs:
        create(i, 0)
        use(i, 0)
    scratch = []
    for pos, k in enumerate(order):
        scope = pos + 1
        op = sg.ops[k]
        for i in op.outputs:
            create(i, scope)
        for i in op.inputs:
            if i >= 0:
                use(i, scope)
        for i in op.outputs:
            use(i, scope)
        scratch.extend((k, scope, b) for b in scratch_requests(sg, op))
    end = len(order)
    for i in sg.outputs:
        create(i, end)
        use(i, end)
    if preserve_inputs:
        for i in sg.inputs:
            use(i, end)
    return first, last, scratch


def _unique_names(tensors) -> dict[int, str]:
    seen: dict[str, int] = {}
    for t in tensors:
        seen[t.name] = seen.get(t.name, 0) + 1
    return {
        t.index: t.name if t.name and seen[t.name] == 1 else f"{t.name or 'tensor'}#{t.index}"
        for t in tensors
    }
