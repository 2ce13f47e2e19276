"""Data movement: copies of view ops, Concat, Transpose, Pad.

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
* Pad: for each index over the output's leading axes (trailing block of at most
  CHUNK_ELEMS elements): read the input block it maps to (none for constant
  padding rows), then write the padded output block.
"""

from __future__ import annotations

import numpy as np

from .base import CHUNK_ELEMS, Kernel, KernelIO, block_elems, flat_blocks, leading
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
    order = "flat: output runs in row-major order, each after reading its input elements"

    def setup(self) -> None:
        rank = len(self.in_shapes[0])
        perm = self.ints("perm") or list(range(rank))[::-1]
        if sorted(perm) != list(range(rank)):
            raise self.fail(f"perm {perm} is not a permutation of {rank} axes")
        self.perm = perm
        n = block_elems(self.out_shapes[0])
        self.scratch_bytes = 8 * n + self.qdq_scratch([n], n)

    def run(self, io: KernelIO) -> None:
        rank = len(self.perm)
        for idx in flat_blocks(self.out_shapes[0]):
            src: list = [slice(None)] * rank
            for d, ix in enumerate(idx):
                src[self.perm[d]] = ix
            v = io.read(0, tuple(src))
            kept = [a for a in range(rank) if not isinstance(src[a], int)]
            want = [self.perm[d] for d in range(rank)
                    if d >= len(idx) or not isinstance(idx[d], int)]
            io.write(0, idx, v.transpose([kept.index(a) for a in want]))
            io.end_chunk()


@register("Pad")
class Pad(Kernel):
    order = "per leading output index: read the input block it maps to, write the padded block"

    def setup(self) -> None:
        xs, ys = self.in_shapes[0], self.out_shapes[0]
        rank = len(xs)
        pads = self.ints("pads") or self.ints("paddings")
        if pads is None:
            p = self.const(1)
            if p is None:
                raise self.fail("pads must be a constant (a weight)")
            pads = [int(v) for v in np.asarray(p).reshape(-1)]
        axes = list(range(rank))
        if self.has_input(3):
            a = self.const(3)
            if a is None:
                raise self.fail("axes must be a constant (a weight)")
            axes = [int(v) + rank if v < 0 else int(v) for v in np.asarray(a).reshape(-1)]
        if len(pads) != 2 * len(axes):
            raise self.fail(f"{len(pads)} pads for {len(axes)} axes")
        self.begin, self.end = [0] * rank, [0] * rank
        for i, a in enumerate(axes):
            self.begin[a], self.end[a] = pads[i], pads[i + len(axes)]
        if [x + b + e for x, b, e in zip(xs, self.begin, self.end, strict=True)] != list(ys):
            raise self.fail(f"pads {pads} do not take {xs} to {ys}")
        mode = self.attrs.get("mode", "constant")
        self.mode = mode.decode() if isinstance(mode, bytes) else mode
        if self.mode not in ("constant", "edge", "reflect", "wrap"):
            raise self.fail(f"pad mode {self.mode!r} is not supported")
        k, inner = rank, 1
        while k > 0 and inner * ys[k - 1] <= CHUNK_ELEMS:
            k -= 1
            inner *= ys[k]
        self.k = k
        self.scratch_bytes = 8 * 3 * inner + self.qdq_scratch([inner], inner)

    def source(self, i: int, a: int) -> int | None:
        """Input index on axis `a` that output index `i` copies (None: the constant)."""
        n, j = self.in_shapes[0][a], i - self.begin[a]
        if 0 <= j < n:
            return j
        if self.mode == "constant" or n == 0:
            return None
        if self.mode == "edge":
            return min(max(j, 0), n - 1)
        if self.mode == "wrap":
            return j % n
        period = 2 * (n - 1)
        if period == 0:
            return 0
        j %= period
        return j if j < n else period - j

    def run(self, io: KernelIO) -> None:
        ys, k = self.out_shapes[0], self.k
        value = self.attrs.get("value", 0.0)
        if self.has_input(2):
            v = io.read(2).reshape(-1)
            value = v[0] if v.size else 0
        rank = len(ys)
        # per trailing axis: the input index each output index copies, and where
        # the constant goes instead (slices of the constant border, if any)
        take, fills = [], []
        for a in range(k, rank):
            src = [self.source(i, a) for i in range(ys[a])]
            take.append(np.array([0 if j is None else j for j in src], dtype=np.intp))
            fills.append([i for i, j in enumerate(src) if j is None])
        for lead in leading(ys, k):
            src = [self.source(i, a) for a, i in enumerate(lead)]
            if any(j is None for j in src):
                io.write(0, lead, value)
                io.end_chunk()
                continue
            block = io.read(0, tuple(src))
            for ax, (idx, fill) in enumerate(zip(take, fills, strict=True)):
                block = np.take(block, idx, axis=ax)
                if fill:
                    block[(slice(None),) * ax + (fill,)] = value
            io.write(0, lead, block)
            io.end_chunk()
