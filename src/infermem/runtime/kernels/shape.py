"""Data movement: copies of view ops, Concat, Transpose, DepthToSpace.

Chunk orders:

* Reshape / Flatten / Squeeze / Unsqueeze / Dropout (only when the frontend
  could not make the output a view, e.g. a graph output): flat runs of the
  output (`flat_blocks`), each after reading the same flat run of the input.
* Concat: for each index over the axes before `axis` (row-major), for each
  input i in order, for each flat run of X_i[lead] (`flat_blocks` of the
  block from `axis` on): read the run, then write it at its place in
  Y[lead, off_i:off_i+n_i].
* Transpose: flat runs of the output, each after reading the (strided) input
  elements that land in it.

Pad and the other operators that map output indices to input indices axis by
axis (Slice, Tile, Gather with constant indices, ...) are in axismap.py.
"""

from __future__ import annotations

import numpy as np

from .base import Kernel, KernelIO, block_elems, flat_blocks, leading
from .registry import register


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout")
class Copy(Kernel):
    order = "flat: output runs in row-major order, each after reading the same input run"

    def setup(self) -> None:
        if self.op.type == "Dropout":
            mode = self.const(2)
            if self.has_input(2) and (mode is None or bool(np.asarray(mode).any())):
                raise self.fail("Dropout in training mode is not supported")
        if int(np.prod(self.in_shapes[0])) != int(np.prod(self.out_shapes[0])):
            raise self.fail(f"cannot view {self.in_shapes[0]} as {self.out_shapes[0]}")
        n = block_elems(self.out_shapes[0])
        self.scratch_bytes = 8 * n + self.qdq_scratch([n], n)

    def run(self, io: KernelIO) -> None:
        shape = self.out_shapes[0]
        mask = len(self.op.outputs) > 1 and bool(self.op.outputs[1])
        for idx in flat_blocks(shape):
            v = io.read(0, idx, shape=shape)
            io.write(0, idx, v)
            if mask:
                io.write(1, idx, True)
            io.end_chunk()


@register("Concat")
class Concat(Kernel):
    order = ("per leading index before axis, per input i, per flat run of X_i[lead]: "
             "read the run, write it at its place in Y")

    def setup(self) -> None:
        rank = len(self.out_shapes[0])
        axis = int(self.attrs.get("axis", 1))
        self.axis = axis + rank if axis < 0 else axis
        total = sum(s[self.axis] for s in self.in_shapes if s is not None)
        if not 0 <= self.axis < rank or total != self.out_shapes[0][self.axis]:
            raise self.fail(f"inputs {self.in_shapes} do not concatenate to "
                            f"{self.out_shapes[0]} on axis {axis}")
        n = max(block_elems(s[self.axis:]) for s in self.in_shapes if s is not None)
        width = max(d.itemsize for d in (*self.in_dtypes, *self.out_dtypes) if d)
        self.scratch_bytes = width * n + self.qdq_scratch([n] * len(self.in_shapes), n)

    def run(self, io: KernelIO) -> None:
        for lead in leading(self.out_shapes[0], self.axis):
            off = 0
            for i, s in enumerate(self.in_shapes):
                if s is None:
                    continue
                for idx in flat_blocks(s[self.axis:]):
                    v = io.read(i, (*lead, *idx))
                    first = idx[0] if idx else slice(None)
                    if isinstance(first, slice):
                        start, stop = first.start or 0, s[self.axis] if first.stop is None else (
                            first.stop)
                        first = slice(off + start, off + stop)
                    else:
                        first = off + first
                    io.write(0, (*lead, first, *idx[1:]), v)
                    io.end_chunk()
                off += s[self.axis]


@register("Transpose")
class Transpose(Kernel):
    """Runs on views: DepthToSpace and SpaceToDepth are a transpose of the
    input seen at a higher rank (`x_view`), giving the output seen at
    `y_view`."""

    order = "flat: output runs in row-major order, each after reading its input elements"

    def setup(self) -> None:
        rank = len(self.in_shapes[0])
        perm = self.ints("perm") or list(range(rank))[::-1]
        if sorted(perm) != list(range(rank)):
            raise self.fail(f"perm {perm} is not a permutation of {rank} axes")
        self.perm, self.x_view = perm, tuple(self.in_shapes[0])
        self.views()
        self.y_view = tuple(self.x_view[p] for p in self.perm)
        if int(np.prod(self.y_view)) != int(np.prod(self.out_shapes[0])):
            raise self.fail(f"{self.in_shapes[0]} does not rearrange to {self.out_shapes[0]}")
        n = block_elems(self.y_view)
        self.scratch_bytes = 8 * n + self.qdq_scratch([n], n)

    def views(self) -> None:
        """Set `x_view` and `perm` (a plain Transpose: the input as it is)."""

    def run(self, io: KernelIO) -> None:
        rank = len(self.perm)
        for idx in flat_blocks(self.y_view):
            src: list = [slice(None)] * rank
            for d, ix in enumerate(idx):
                src[self.perm[d]] = ix
            v = io.read(0, tuple(src), shape=self.x_view)
            kept = [a for a in range(rank) if not isinstance(src[a], int)]
            want = [self.perm[d] for d in range(rank)
                    if d >= len(idx) or not isinstance(idx[d], int)]
            io.write(0, idx, v.transpose([kept.index(a) for a in want]), shape=self.y_view)
            io.end_chunk()


@register("DepthToSpace", "SpaceToDepth")
class DepthToSpace(Transpose):
    """NCHW, blocksize b: DepthToSpace DCR views X as (N, b, b, C/b², H, W),
    CRD as (N, C/b², b, b, H, W); SpaceToDepth views X as (N, C, H/b, b, W/b, b)
    and moves the two b axes before C (DCR) or after it (CRD)."""

    def views(self) -> None:
        xs = self.in_shapes[0]
        b = int(self.attrs.get("blocksize", 0))
        if len(xs) != 4 or b < 1:
            raise self.fail(f"needs a 4-D input and a blocksize, got {xs} and {b}")
        n, c, h, w = xs
        if self.op.type == "SpaceToDepth":
            if h % b or w % b:
                raise self.fail(f"H and W of {xs} are not multiples of {b}")
            crd = self.attrs.get("mode", "DCR") == "CRD"
            self.x_view = (n, c, h // b, b, w // b, b)
            self.perm = [0, 1, 3, 5, 2, 4] if crd else [0, 3, 5, 1, 2, 4]
            return
        if c % (b * b):
            raise self.fail(f"C of {xs} is not a multiple of {b * b}")
        if self.attrs.get("mode", "DCR") == "CRD":
            self.x_view, self.perm = (n, c // (b * b), b, b, h, w), [0, 1, 4, 2, 5, 3]
        else:
            self.x_view, self.perm = (n, b, b, c // (b * b), h, w), [0, 3, 4, 1, 5, 2]
