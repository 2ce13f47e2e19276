"""Conv (and, by subclassing, QLinearConv): NCHW, groups, dilation, pads, strides.

Chunk order — two rules, chosen by the weights' shape:

* depthwise (group == C_in > 1): for n, for input channel c = 0..C-1:
  read the whole input plane X[n, c], then write its m = M/C output planes
  Y[n, c*m:(c+1)*m].  In NCHW that is flat order on both sides, so an output
  of the same size may start at or below its input (in-place depthwise).
* every other conv: for n, for output row oh = 0..OH-1: read the input rows
  its windows touch, X[n, :, r, :] for r = oh*sh - pad_top + kh*dh in [0, H)
  (all C channels, only the dilated taps), then write output row
  Y[n, :, oh, :] (all M channels).  Scratch: the padded rows, their im2col
  matrix (C*KH*KW x OW) and the (M x OW) result.

Weights and bias are read in every chunk (not arena bytes unless the model
feeds them from activations).  1-D convs run as 2-D with a unit height.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import Kernel, KernelIO
from .registry import register
from .window import as_2d, axes


@register("Conv")
class Conv(Kernel):
    order = ("depthwise: per (n, input channel) plane; else: per (n, output row) "
             "after reading the input rows it needs, all channels")
    X, W, B = 0, 1, 2

    def setup(self) -> None:
        xs, ws, ys = self.in_shapes[self.X], self.in_shapes[self.W], self.out_shapes[0]
        if len(xs) not in (3, 4) or len(ws) != len(xs):
            raise self.fail(f"only 1-D and 2-D convolutions are supported, input shape {xs}")
        n, c = xs[:2]
        m, cg = ws[:2]
        g = int(self.attrs.get("group", 1))
        kernel = self.ints("kernel_shape") or list(ws[2:])
        if g < 1 or c != cg * g or m % g or list(kernel) != list(ws[2:]):
            raise self.fail(f"inconsistent shapes: input {xs}, weights {ws}, group {g}")
        try:
            self.h, self.w = as_2d(axes(self.attrs, xs[2:], kernel, ys[2:], "Conv"))
        except ValueError as e:
            raise self.fail(str(e)) from None
        h, w = self.h, self.w
        self.group, self.mult = g, m // g
        self.x4 = (n, c, h.size, w.size)
        self.y4 = (n, m, h.out, w.out)
        self.depthwise = g == c and g > 1
        self.pointwise = h.kernel == w.kernel == 1 and w.pad_begin == w.pad_end == 0
        self.dtype = self.compute_dtype()
        it = self.dtype.itemsize
        if self.depthwise:
            plane = h.padded * w.padded + 3 * self.mult * h.out * w.out
            self.scratch_bytes = it * plane + self.qdq_scratch([h.size * w.size], m * w.out)
        else:
            rows = c * h.kernel * (w.padded + w.kernel * w.out) + 3 * m * w.out
            rows += c * w.out  # matmul's contiguous copy of a strided operand
            if self.in_dtypes[self.X] != self.dtype:
                rows += c * h.kernel * w.size  # the rows converted to the compute dtype
            self.scratch_bytes = it * rows + self.qdq_scratch(
                [c * h.kernel * w.size], m * w.out)
        self.prepare()

    # -- hooks the quantized subclass overrides -----------------------------------------
    def compute_dtype(self) -> np.dtype:
        d = self.in_dtypes[self.X]
        return d if d.kind == "f" else np.dtype(np.float32)

    def prepare(self) -> None:
        pass

    def prep(self, x: np.ndarray) -> np.ndarray:
        """Input values as the arithmetic wants them (quantized: minus zero point)."""
        return x

    def weights(self, io: KernelIO) -> np.ndarray:
        """(M, C/group, KH, KW) weights in the compute dtype."""
        return io.read(self.W, shape=(self.y4[1], self.x4[1] // self.group,
                                      self.h.kernel, self.w.kernel))

    def finish(self, y: np.ndarray, io: KernelIO, ch: slice) -> np.ndarray:
        """Bias for output channels `ch` (y is (channels, ...)); quantized: requantize."""
        if self.has_input(self.B):
            b = io.read(self.B, (ch,))
            y += b.reshape(b.shape + (1,) * (y.ndim - 1))
        return y

    # -- the two loop orders ---------------------------------------------------------------
    def run(self, io: KernelIO) -> None:
        (self.run_depthwise if self.depthwise else self.run_rows)(io)

    def run_rows(self, io: KernelIO) -> None:
        h, w = self.h, self.w
        n_, c, _, width = self.x4
        m = self.y4[1]
        g, kk = self.group, (c // self.group) * h.kernel * w.kernel
        rows = np.zeros((c, h.kernel, w.padded), self.dtype)
        cols = np.empty((c, h.kernel, w.kernel, w.out), self.dtype)
        s = rows.strides
        win = as_strided(rows, cols.shape, (s[0], s[1], w.dilation * s[2], w.stride * s[2]),
                         writeable=False)
        everything = slice(None)
        for n in range(n_):
            for oh in range(h.out):
                k0, k1 = h.taps(oh)
                xr = None
                if k1 > k0:
                    r0 = oh * h.stride - h.pad_begin + k0 * h.dilation
                    taps = slice(r0, r0 + (k1 - k0 - 1) * h.dilation + 1, h.dilation)
                    xr = io.read(self.X, (n, everything, taps, everything), shape=self.x4)
                wm = self.weights(io).reshape(g, m // g, kk)
                if self.pointwise:
                    if xr is None:
                        y = np.zeros((g, m // g, w.out), self.dtype)
                    else:
                        x2 = self.prep(xr[:, 0, : (w.out - 1) * w.stride + 1 : w.stride])
                        y = _product(wm, x2.reshape(g, c // g, w.out))
                else:
                    rows[:, :k0] = 0
                    rows[:, k1:] = 0
                    if xr is not None:
                        rows[:, k0:k1, w.pad_begin : w.pad_begin + width] = self.prep(xr)
                    np.copyto(cols, win)
                    y = _product(wm, cols.reshape(g, kk, w.out))
                y = self.finish(y.reshape(m, w.out), io, everything)
                io.write(0, (n, everything, oh, everything), y, shape=self.y4)
                io.end_chunk()

    def run_depthwise(self, io: KernelIO) -> None:
        h, w = self.h, self.w
        n_, c, height, width = self.x4
        mult = self.mult
        plane = np.zeros((h.padded, w.padded), self.dtype)
        acc = np.empty((mult, h.out, w.out), self.dtype)
        tmp = np.empty_like(acc)
        hs = slice(None, (h.out - 1) * h.stride + 1, h.stride)
        for n in range(n_):
            for ci in range(c):
                xp = io.read(self.X, (n, ci), shape=self.x4)
                wk = self.weights(io)[ci * mult : (ci + 1) * mult, 0]
                plane[h.pad_begin : h.pad_begin + height, w.pad_begin : w.pad_begin + width] = (
                    self.prep(xp))
                acc.fill(0)
                for kh in range(h.kernel):
                    rows = plane[kh * h.dilation :][hs]
                    for kw in range(w.kernel):
                        c0 = kw * w.dilation
                        v = rows[:, c0 : c0 + (w.out - 1) * w.stride + 1 : w.stride]
                        np.multiply(wk[:, kh, kw, None, None], v, out=tmp)
                        acc += tmp
                ch = slice(ci * mult, (ci + 1) * mult)
                y = self.finish(acc, io, ch)
                io.write(0, (n, ch), y, shape=self.y4)
                io.end_chunk()


def _product(wm: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(G, Mg, K) @ (G, K, OW), as one plain 2-D BLAS call when there is one group."""
    return (wm[0] @ x[0])[None] if wm.shape[0] == 1 else np.matmul(wm, x)
