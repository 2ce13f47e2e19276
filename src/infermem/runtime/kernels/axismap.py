"""Operators that map each output index to an input index, axis by axis.

Pad, Slice, Tile, Gather with constant indices, CenterCropPad and Compress
with a constant condition all say, per axis a and output index i, which input
index i copies (or that it holds a constant: padding).  One kernel runs them
all from those per-axis tables.

Chunk order: for each index over the output's leading axes (the trailing
block, at most CHUNK_ELEMS elements, is taken whole): read the input block
that index maps to (none when a leading index is padding), then write the
output block.  The tensors are indexed at `x_view` / `y_view` (Gather sees
its indices flattened into one axis).
"""

from __future__ import annotations

import numpy as np

from .base import CHUNK_ELEMS, Kernel, KernelIO, leading
from .registry import register


class AxisMap(Kernel):
    order = "per leading output index: read the input block it maps to, write the block"

    def setup(self) -> None:
        self.x_view, self.y_view = tuple(self.in_shapes[0]), tuple(self.out_shapes[0])
        self.maps: list[np.ndarray] = []  # per axis: the source of each output index, -1: fill
        self.prepare()
        if len(self.maps) != len(self.x_view) or [len(m) for m in self.maps] != list(self.y_view):
            raise self.fail(f"cannot map {self.in_shapes[0]} to {self.out_shapes[0]}")
        ys, rank = self.y_view, len(self.y_view)
        k, inner = rank, 1
        while k > 0 and inner * ys[k - 1] <= CHUNK_ELEMS:
            k -= 1
            inner *= ys[k]
        self.k = k
        # the per-axis tables (and their take/fill copies) plus three blocks
        self.scratch_bytes = 32 * sum(ys) + 8 * 3 * inner + self.qdq_scratch([inner], inner)

    def prepare(self) -> None:
        raise NotImplementedError

    def source(self, i: int, a: int) -> int | None:
        """Input index on axis `a` that output index `i` copies (None: the fill value)."""
        j = int(self.maps[a][i])
        return None if j < 0 else j

    def fill_value(self, io: KernelIO):
        return 0

    def run(self, io: KernelIO) -> None:
        ys, k = self.y_view, self.k
        value = self.fill_value(io)
        rank = len(ys)
        take = [np.maximum(self.maps[a], 0).astype(np.intp) for a in range(k, rank)]
        fills = [np.flatnonzero(self.maps[a] < 0) for a in range(k, rank)]
        for lead in leading(ys, k):
            src = [self.source(i, a) for a, i in enumerate(lead)]
            if any(j is None for j in src):
                io.write(0, lead, value, shape=ys)
                io.end_chunk()
                continue
            block = io.read(0, tuple(src), shape=self.x_view)
            for ax, (idx, fill) in enumerate(zip(take, fills, strict=True)):
                block = np.take(block, idx, axis=ax)
                if fill.size:
                    block[(slice(None),) * ax + (fill,)] = value
            io.write(0, lead, block, shape=ys)
            io.end_chunk()

    # -- helpers -------------------------------------------------------------------------
    def norm_axes(self, axes: list[int] | None, rank: int) -> list[int]:
        if axes is None:
            return list(range(rank))
        out = [a + rank if a < 0 else a for a in axes]
        if any(not 0 <= a < rank for a in out):
            raise self.fail(f"axes {axes} out of range for rank {rank}")
        return out

    def identity(self) -> list[np.ndarray]:
        return [np.arange(n) for n in self.x_view]


@register("Pad")
class Pad(AxisMap):
    def prepare(self) -> None:
        xs = self.x_view
        rank = len(xs)
        pads = self.ints("pads") or self.ints("paddings") or self.const_ints(1, "pads")
        if pads is None:
            raise self.fail("pads must be a constant (a weight)")
        axes = self.norm_axes(self.const_ints(3, "axes"), rank)
        if len(pads) != 2 * len(axes):
            raise self.fail(f"{len(pads)} pads for {len(axes)} axes")
        self.begin, end = [0] * rank, [0] * rank
        for i, a in enumerate(axes):
            self.begin[a], end[a] = pads[i], pads[i + len(axes)]
        mode = self.attrs.get("mode", "constant")
        self.mode = mode.decode() if isinstance(mode, bytes) else mode
        if self.mode not in ("constant", "edge", "reflect", "wrap"):
            raise self.fail(f"pad mode {self.mode!r} is not supported")
        out = [x + b + e for x, b, e in zip(xs, self.begin, end, strict=True)]
        if out != list(self.y_view):
            raise self.fail(f"pads {pads} do not take {xs} to {self.y_view}")
        self.maps = [np.array([self._src(i, a) for i in range(n)], dtype=np.int64)
                     for a, n in enumerate(out)]

    def _src(self, i: int, a: int) -> int:
        n, j = self.x_view[a], i - self.begin[a]
        if 0 <= j < n:
            return j
        if self.mode == "constant" or n == 0:
            return -1
        if self.mode == "edge":
            return min(max(j, 0), n - 1)
        if self.mode == "wrap":
            return j % n
        period = 2 * (n - 1)
        if period == 0:
            return 0
        j %= period
        return j if j < n else period - j

    def fill_value(self, io: KernelIO):
        if self.has_input(2):
            v = io.read(2).reshape(-1)
            return v[0] if v.size else 0
        return self.attrs.get("value", 0.0)


@register("Tile")
class Tile(AxisMap):
    def prepare(self) -> None:
        reps = self.const_ints(1, "repeats")
        if reps is None or len(reps) != len(self.x_view):
            raise self.fail(f"repeats {reps} do not match rank {len(self.x_view)}")
        self.maps = [np.arange(n * r) % max(n, 1) for n, r in zip(self.x_view, reps, strict=True)]


@register("Slice")
class Slice(AxisMap):
    def prepare(self) -> None:
        rank = len(self.x_view)
        if self.opset < 10:
            starts, ends = self.ints("starts"), self.ints("ends")
            axes, steps = self.ints("axes"), None
        else:
            starts, ends = self.const_ints(1, "starts"), self.const_ints(2, "ends")
            axes, steps = self.const_ints(3, "axes"), self.const_ints(4, "steps")
        if starts is None or ends is None or len(starts) != len(ends):
            raise self.fail("starts and ends must be constants of one length")
        axes = self.norm_axes(axes if axes is not None else list(range(len(starts))), rank)
        steps = steps or [1] * len(starts)
        self.maps = self.identity()
        for a, s, e, st in zip(axes, starts, ends, steps, strict=True):
            if st == 0:
                raise self.fail("a slice step of 0")
            self.maps[a] = np.arange(*slice(s, e, st).indices(self.x_view[a]))


@register("CenterCropPad")
class CenterCropPad(AxisMap):
    def prepare(self) -> None:
        shape = self.const_ints(1, "shape")
        axes = self.norm_axes(self.ints("axes"), len(self.x_view))
        if shape is None or len(shape) != len(axes):
            raise self.fail(f"shape {shape} does not match axes {axes}")
        self.maps = self.identity()
        for a, want in zip(axes, shape, strict=True):
            n = self.x_view[a]
            shift = (n - want) // 2 if want <= n else -((want - n) // 2)
            src = np.arange(want) + shift
            self.maps[a] = np.where((src >= 0) & (src < n), src, -1)


@register("Compress")
class Compress(AxisMap):
    """Only with a constant condition: the output shape depends on its values."""

    def prepare(self) -> None:
        cond = self.const(1)
        if cond is None:
            raise self.fail("the condition must be a constant (the output shape depends on it)")
        keep = np.flatnonzero(np.asarray(cond).reshape(-1))
        if "axis" not in self.attrs:
            self.x_view = (int(np.prod(self.x_view)),)
            self.y_view = (len(keep),)
            self.maps = [keep]
            return
        a = int(self.attrs["axis"]) % len(self.x_view)
        self.maps = self.identity()
        self.maps[a] = keep[keep < self.x_view[a]]


class GatherConst(AxisMap):
    """Gather with constant indices: the indices flattened into one axis."""

    def prepare(self) -> None:
        xs = self.x_view
        a = int(self.attrs.get("axis", 0)) % max(len(xs), 1)
        idx = np.asarray(self.const(1)).reshape(-1).astype(np.int64)
        idx = np.where(idx < 0, idx + xs[a], idx)
        if idx.size and (idx.min() < 0 or idx.max() >= xs[a]):
            raise self.fail(f"indices out of range for axis {a} of {xs}")
        self.y_view = (*xs[:a], idx.size, *xs[a + 1:])
        if int(np.prod(self.y_view)) != int(np.prod(self.out_shapes[0])):
            raise self.fail(f"gathering {idx.size} of {xs} does not give {self.out_shapes[0]}")
        self.maps = self.identity()
        self.maps[a] = idx
