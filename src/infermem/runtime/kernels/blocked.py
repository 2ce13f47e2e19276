"""Kernels whose chunk order is a list the kernel itself spells out.

A `Blocked` kernel names its chunks in `chunks()`: per chunk, the index it
writes in each output (None: not written in this chunk), the index it reads
in each input (None: not read) and a context the arithmetic needs (a time
step, a row number).  Indices address the tensors viewed at `y_views` /
`x_views` (reshapes of the arena bytes, so element order is the tensor's).
`run` walks that list — read every listed input block, compute, write every
listed output block, end the chunk — and the DMO rule (overlap/onnx_rules)
walks the same list without running anything, so the rule is the chunk
order by construction and the executor's trace confirms it byte for byte.

A kernel whose reads depend on data (Gather with runtime indices, the
scatters) lists the whole block the data could come from, never the
elements one input happens to select, so its trace holds for every input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .base import Index, Kernel, KernelIO, leading

Chunk = tuple[tuple[Index | None, ...], tuple[Index | None, ...], Any]


class Blocked(Kernel):
    order = "the chunks `chunks()` lists"

    def setup(self) -> None:
        self.x_views: list[tuple[int, ...] | None] = list(self.in_shapes)
        self.y_views: list[tuple[int, ...] | None] = list(self.out_shapes)
        self.prepare()

    def prepare(self) -> None:
        """Check attributes, set views and `scratch_bytes`."""

    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def compute(self, ctx: Any, *args: np.ndarray | None) -> Sequence[Any]:
        """One value per output position (those this chunk does not write are ignored)."""
        raise NotImplementedError

    def run(self, io: KernelIO) -> None:
        for writes, reads, ctx in self.chunks():
            args = [None if r is None else io.read(k, r, shape=self.x_views[k])
                    for k, r in enumerate(reads)]
            with np.errstate(all="ignore"):
                values = self.compute(ctx, *args)
            for k, w in enumerate(writes):
                if w is not None:
                    io.write(k, w, values[k], shape=self.y_views[k])
            io.end_chunk()

    # -- helpers -------------------------------------------------------------------------
    def reads_all(self, *except_: int) -> tuple[Index | None, ...]:
        """Every present input read whole (positions in `except_`: not read)."""
        return tuple(() if self.has_input(k) and k not in except_ else None
                     for k in range(len(self.op.inputs)))

    def axis_attr(self, name: str = "axis", default: int = 0, rank: int | None = None) -> int:
        """An axis attribute, made non-negative and checked against the rank."""
        rank = len(self.in_shapes[0]) if rank is None else rank
        a = int(self.attrs.get(name, default))
        a = a + rank if a < 0 else a
        if not 0 <= a < max(rank, 1):
            raise self.fail(f"{name} {self.attrs.get(name, default)} is out of range for rank "
                            f"{rank}")
        return a

    def block_scratch(self, elems: int, factor: int = 4) -> None:
        """Declare scratch for `factor` float64 temporaries of `elems` elements."""
        self.scratch_bytes = 8 * factor * max(1, elems) + self.qdq_scratch(
            [elems] * len(self.op.inputs), elems)


def lead_chunks(shape: Sequence[int], axis: int, n_in: int, n_out: int = 1,
                shared: Sequence[int] = ()) -> Iterator[Chunk]:
    """Per index over the axes before `axis`: read inputs 0..n_in-1 at that
    index (inputs in `shared` whole), write outputs 0..n_out-1 at it."""
    for lead in leading(shape, axis):
        reads = tuple(() if k in shared else lead for k in range(n_in))
        yield (lead,) * n_out, reads, lead
