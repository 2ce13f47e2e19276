"""Pools and LRN: operators that never mix channels (LRN mixes a few).

Chunk order (MaxPool, AveragePool, LRN): for n, for channel c = 0..C-1:
read the input plane(s) the output plane needs — X[n, c] for the pools,
X[n, c-lo : c+hi+1] for LRN (its `size` window of channels) — then write the
output plane Y[n, c].  Flat order on both sides, so a pool's output may start
at or below its input.  Global pools are reductions (reduce.py).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import Kernel, KernelIO
from .registry import register
from .window import as_2d, axes


@register("MaxPool", "AveragePool")
class Pool(Kernel):
    order = "per (n, channel) plane, after reading that input plane"

    def setup(self) -> None:
        xs, ys = self.in_shapes[0], self.out_shapes[0]
        if len(self.op.outputs) > 1 and self.op.outputs[1]:
            raise self.fail("MaxPool's Indices output is not supported")
        if self.attrs.get("storage_order", 0):
            raise self.fail("storage_order=1 is not supported")
        if len(xs) not in (3, 4):
            raise self.fail(f"only 1-D and 2-D pools are supported, input shape {xs}")
        kernel = self.ints("kernel_shape")
        if not kernel or len(kernel) != len(xs) - 2:
            raise self.fail("kernel_shape is missing or has the wrong rank")
        try:
            ax = axes(self.attrs, xs[2:], kernel, ys[2:], self.op.type,
                      bool(self.attrs.get("ceil_mode", 0)))
            self.h, self.w = as_2d(ax)
        except ValueError as e:
            raise self.fail(str(e)) from None
        h, w = self.h, self.w
        self.x4 = (xs[0], xs[1], h.size, w.size)
        self.y4 = (ys[0], ys[1], h.out, w.out)
        self.is_max = self.op.type == "MaxPool"
        d = self.in_dtypes[0]
        self.dtype = d if self.is_max or d.kind == "f" else np.dtype(np.float32)
        planes = h.padded * w.padded + 3 * h.out * w.out
        self.scratch_bytes = 8 * planes + self.qdq_scratch([h.size * w.size], h.out * w.out)

    def windows(self, plane: np.ndarray):
        """The (OH, OW) strided view of every kernel tap, in (kh, kw) order."""
        h, w = self.h, self.w
        for kh in range(h.kernel):
            r0 = kh * h.dilation
            rows = plane[r0 : r0 + (h.out - 1) * h.stride + 1 : h.stride]
            for kw in range(w.kernel):
                c0 = kw * w.dilation
                yield rows[:, c0 : c0 + (w.out - 1) * w.stride + 1 : w.stride]

    def counts(self) -> np.ndarray:
        """AveragePool's divisor per output position: taps on real input, or on
        input and pads with count_include_pad (never the ceil-mode overhang)."""
        h, w = self.h, self.w
        mask = np.zeros((h.padded, w.padded), np.float32)
        if self.attrs.get("count_include_pad", 0):
            mask[: h.size + h.pad_begin + h.pad_end, : w.size + w.pad_begin + w.pad_end] = 1
        else:
            mask[h.pad_begin : h.pad_begin + h.size, w.pad_begin : w.pad_begin + w.size] = 1
        total = np.zeros((h.out, w.out), np.float32)
        for v in self.windows(mask):
            total += v
        return np.maximum(total, 1)

    def run(self, io: KernelIO) -> None:
        h, w = self.h, self.w
        n_, c, height, width = self.x4
        if self.is_max:
            fill = -np.inf if self.dtype.kind == "f" else np.iinfo(self.dtype).min
        else:
            fill = 0
        plane = np.full((h.padded, w.padded), fill, self.dtype)
        acc = np.empty((h.out, w.out), self.dtype)
        counts = None if self.is_max else self.counts()
        inner = (slice(h.pad_begin, h.pad_begin + height), slice(w.pad_begin, w.pad_begin + width))
        many = h.kernel * w.kernel > 9  # one strided reduction beats a long loop of taps
        if many:
            rs, cs = plane.strides
            win = as_strided(plane, (h.out, w.out, h.kernel, w.kernel),
                             (h.stride * rs, w.stride * cs, h.dilation * rs, w.dilation * cs),
                             writeable=False)
        for n in range(n_):
            for ci in range(c):
                plane[inner] = io.read(0, (n, ci), shape=self.x4)
                if many:
                    (np.max if self.is_max else np.sum)(win, axis=(2, 3), out=acc)
                else:
                    taps = self.windows(plane)
                    np.copyto(acc, next(taps))
                    for v in taps:
                        (np.maximum if self.is_max else np.add)(acc, v, out=acc)
                y = acc if self.is_max else acc / counts
                io.write(0, (n, ci), y, shape=self.y4)
                io.end_chunk()


@register("LRN")
class LRN(Kernel):
    """y = x / (bias + alpha / size * sum of x^2 over the channel window)^beta."""

    order = "per (n, channel) plane, after reading the planes of its channel window"

    def setup(self) -> None:
        xs = self.in_shapes[0]
        if len(xs) < 3:
            raise self.fail(f"LRN needs an (N, C, ...) input, got {xs}")
        self.size = int(self.attrs["size"])
        self.lo, self.hi = (self.size - 1) // 2, -(-(self.size - 1) // 2)
        plane = int(np.prod(xs[2:]))
        self.scratch_bytes = 8 * plane * (self.size + 3) + self.qdq_scratch([plane * self.size],
                                                                            plane)

    def run(self, io: KernelIO) -> None:
        xs = self.in_shapes[0]
        alpha = float(self.attrs.get("alpha", 1e-4))
        beta = float(self.attrs.get("beta", 0.75))
        bias = float(self.attrs.get("bias", 1.0))
        dt = self.in_dtypes[0]
        for n in range(xs[0]):
            for c in range(xs[1]):
                win = io.read(0, (n, slice(max(0, c - self.lo), min(xs[1], c + self.hi + 1))))
                x = io.read(0, (n, c))
                sq = np.square(win, dtype=np.float32).sum(axis=0)
                y = x / np.power(bias + alpha / self.size * sq, beta)
                io.write(0, (n, c), y.astype(dt, copy=False))
                io.end_chunk()
