"""A fused group (a `FusedGroup` operator, made by `fusion`) run chunk by
chunk inside the plan.  The operator's `layout` attribute (`fusion.chunk.Layout`)
says which operators, which intermediates, which chunks; the executor knows
nothing else of fusion.

Chunk order: for every index over the group output's chunked leading axes
(row-major), every operator of the group in order computes its part of that
chunk with its own kernel — bound once, at prepare time, to the chunk's
shapes — reading slices of the group's inputs (arena or weights) and writing
its intermediate into the group's scratch tensor (one chunk of each, at the
offsets `chunk.Layout` gives), until the last operator writes the chunk of
the group's output.  The inputs are read in every chunk, so they stay live
(and must not be overwritten) until the group ends: the plan makes them live
through the group's step, and `verify` catches a plan that does not.

Each operator's kernel computes a chunk exactly as it computes that row in
an unfused run (the same row-by-row order, the same numpy calls on the same
values), so a fused run is bit-identical to the unfused one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...graph import Graph, Role, Tensor
from .base import Kernel, KernelIO, indices
from .registry import register

Axes = tuple[int | None, ...]  # per tensor axis: the chunk axis sliced there, or None (whole)


def chunk_shape(shape: Sequence[int], axes: Axes) -> tuple[int, ...]:
    """A tensor's shape in one chunk: the sliced axes are 1."""
    return tuple(1 if a is not None else int(d) for d, a in zip(shape, axes, strict=True))


def chunk_index(axes: Axes, idx: Sequence[int]) -> tuple[slice, ...]:
    """The index of chunk `idx` (one index per chunked output axis) into a tensor."""
    return tuple(slice(idx[a], idx[a] + 1) if a is not None else slice(None) for a in axes)


@register("FusedGroup")
class FusedGroup(Kernel):
    order = "per chunk of the output's leading axes: each operator of the group on that chunk"

    def setup(self) -> None:
        self.lay = lay = self.attrs["layout"]
        src: Graph = self.attrs["graph"]
        self.members = [src.operators[i] for i in lay.ops]
        self.slot = {t: k for k, t in enumerate(self.op.inputs)}
        self.offsets = dict(lay.scratch)
        self.shapes = {t: chunk_shape(src.tensors[t].shape, w)
                       for t, w in zip((op.outputs[0] for op in self.members), lay.writes,
                                       strict=True)}
        self.dtypes = {t: np.dtype(src.tensors[t].dtype) for t in self.shapes}
        self.chunk_graph = cg = _chunk_graph(src, lay, self.shapes)
        from . import kernel_for

        self.kernels = [kernel_for(op, cg) for op in cg.operators]
        self.scratch_bytes = max((k.scratch_bytes for k in self.kernels if k), default=0)

    def run(self, io: KernelIO) -> None:
        lay = self.lay
        full = list(io.ins)
        out = io.outs[0]
        scratch = io.outs[1] if len(io.outs) > 1 else None
        inner = {t: out if lay.inplace else self._view(scratch, t) for t in lay.internal}
        relays = [None] * len(self.members) if io.rec is None else [
            _Relay(io.rec, tuple(self.slot.get(t) if t not in inner else None
                                 for t in op.inputs), lay.inplace or op.outputs[0] == lay.output)
            for op in self.members]
        for idx in indices(lay.chunk_dims):
            for j, (op, kern) in enumerate(zip(self.members, self.kernels, strict=True)):
                ins = [None if not t else inner[t] if t in inner
                       else full[self.slot[t]][chunk_index(lay.reads[j][k], idx)]
                       for k, t in enumerate(op.inputs)]
                t = op.outputs[0]
                dst = inner[t] if t in inner else out[chunk_index(lay.writes[j], idx)]
                kern.run(KernelIO(ins, [dst], relays[j]))
            io.end_chunk()

    def _view(self, scratch: np.ndarray, name: str) -> np.ndarray:
        off, shape, dt = self.offsets[name], self.shapes[name], self.dtypes[name]
        n = math.prod(shape) * dt.itemsize
        return scratch[off:off + n].view(dt).reshape(shape)


class _Relay:
    """Tracing: an inner operator's accesses recorded as the group's own (its
    reads of the group's inputs, its writes of the group's output; the
    scratch is the group's business), one inner chunk at a time."""

    __slots__ = ("rec", "slots", "writes_output")

    def __init__(self, rec, slots: tuple[int | None, ...], writes_output: bool) -> None:
        self.rec, self.slots, self.writes_output = rec, slots, writes_output

    def read(self, k: int, view: np.ndarray) -> None:
        if self.slots[k] is not None:
            self.rec.read(self.slots[k], view)

    def write(self, k: int, view: np.ndarray) -> None:
        if self.writes_output:
            self.rec.write(0, view)

    def end_chunk(self) -> None:
        self.rec.end_chunk()


def _chunk_graph(src: Graph, lay, shapes: dict) -> Graph:
    """The group's operators over tensors of one chunk's shape: each outside
    input as seen by each reader (its own name per reader and position), a
    weight read whole keeping its data (kernels read constants from it)."""
    from dataclasses import replace

    tensors: dict[str, Tensor] = {}
    ops = []
    for j, i in enumerate(lay.ops):
        op = src.operators[i]
        names = []
        for k, t in enumerate(op.inputs):
            if not t or t in shapes:
                names.append(t)
                continue
            axes = lay.reads[j][k]
            src_t, root = src.tensors[t], src.tensors[src.root(t)]
            name = f"{t}@{j}.{k}"
            whole = all(a is None for a in axes)
            if root.role is Role.WEIGHT and whole and root.data is not None:
                data = np.asarray(root.data).reshape(src_t.shape)
                tensors[name] = Tensor(name, src_t.shape, src_t.dtype, Role.WEIGHT, data=data)
            else:
                tensors[name] = Tensor(name, chunk_shape(src_t.shape, axes), src_t.dtype,
                                       Role.INPUT)
            names.append(name)
        out = op.outputs[0]
        tensors[out] = Tensor(out, shapes[out], src.tensors[out].dtype, Role.ACTIVATION)
        ops.append(replace(op, index=j, inputs=tuple(names)))
    return Graph(f"{src.name}:fused", src.format, tensors, tuple(ops),
                 tuple(n for n, t in tensors.items() if t.role is Role.INPUT),
                 (lay.output,), src.source, src.meta)
