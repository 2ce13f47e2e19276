"""Gemm and MatMul, one output row per chunk.

Chunk order: for every batch index (MatMul's broadcast leading dims, row-major)
and output row m = 0..M-1: read row m of A (Gemm with transA: column m), the
whole B of that batch and C's row (Gemm, broadcast), then write output row
Y[..., m, :].  A row of A is never needed again once its output row is
written, so an output may start at or below A when rows are no wider than A's.
"""

from __future__ import annotations

import numpy as np

from .base import Kernel, KernelIO, broadcast_index, indices
from .registry import register


@register("Gemm")
class Gemm(Kernel):
    order = "per output row m, after reading row m of A (column with transA), B and C's row"

    def setup(self) -> None:
        a, b = self.in_shapes[0], self.in_shapes[1]
        if len(a) != 2 or len(b) != 2:
            raise self.fail(f"Gemm needs 2-D A and B, got {a} and {b}")
        self.ta, self.tb = bool(self.attrs.get("transA", 0)), bool(self.attrs.get("transB", 0))
        self.m, k = (a[1], a[0]) if self.ta else a
        kb, self.n = (b[1], b[0]) if self.tb else b
        if k != kb or self.out_shapes[0] != (self.m, self.n):
            raise self.fail(f"shapes A {a}, B {b} do not give output {self.out_shapes[0]}")
        self.alpha = float(self.attrs.get("alpha", 1.0))
        self.beta = float(self.attrs.get("beta", 1.0))
        self.scratch_bytes = 8 * (3 * self.n + k) + self.qdq_scratch([k, k * self.n, self.n],
                                                                       self.n)

    def run(self, io: KernelIO) -> None:
        everything = slice(None)
        for m in range(self.m):
            a = io.read(0, (everything, m) if self.ta else (m,))
            b = io.read(1)
            row = a @ (b.T if self.tb else b)
            if self.alpha != 1.0:
                row *= row.dtype.type(self.alpha)
            if self.has_input(2) and self.beta != 0.0:
                c = io.read(2, broadcast_index((m, everything), self.in_shapes[2], 2))
                row = row + (c * c.dtype.type(self.beta) if self.beta != 1.0 else c)
            io.write(0, (m,), row)
            io.end_chunk()


@register("MatMul")
class MatMul(Kernel):
    """numpy.matmul semantics: 1-D operands are promoted and the dims dropped,
    leading dims broadcast."""

    order = "per (batch index, output row m), after reading A's row m and that batch's B"
    A, BM = 0, 1

    def setup(self) -> None:
        a, b = self.in_shapes[self.A], self.in_shapes[self.BM]
        if not a or not b:
            raise self.fail("MatMul of a scalar is not defined")
        self.a = (1, *a) if len(a) == 1 else tuple(a)
        self.b = (*b, 1) if len(b) == 1 else tuple(b)
        if self.a[-1] != self.b[-2]:
            raise self.fail(f"inner dimensions differ: {a} @ {b}")
        try:
            batch = np.broadcast_shapes(self.a[:-2], self.b[:-2])
        except ValueError:
            raise self.fail(f"batch dimensions do not broadcast: {a} @ {b}") from None
        self.batch = tuple(batch)
        self.y = (*self.batch, self.a[-2], self.b[-1])
        if int(np.prod(self.y)) != int(np.prod(self.out_shapes[0])):
            raise self.fail(f"{a} @ {b} does not give {self.out_shapes[0]}")
        k, n = self.b[-2], self.b[-1]
        self.scratch_bytes = 8 * (2 * n + k) + self.qdq_scratch([k, k * n], n)
        self.prepare()

    def prepare(self) -> None:
        pass

    def product(self, io: KernelIO, ia: tuple, ib: tuple, m: int) -> np.ndarray:
        """Output row m of one batch: A's row m times that batch's B."""
        row = io.read(self.A, (*ia, m), shape=self.a)
        mat = io.read(self.BM, (*ib, slice(None), slice(None)), shape=self.b)
        return row @ mat

    def run(self, io: KernelIO) -> None:
        rank = len(self.batch)
        for bi in indices(self.batch):
            ia = broadcast_index(bi, self.a[:-2], rank)
            ib = broadcast_index(bi, self.b[:-2], rank)
            for m in range(self.a[-2]):
                io.write(0, (*bi, m), self.product(io, ia, ib, m), shape=self.y)
                io.end_chunk()
