"""ConvTranspose: NCHW (1-D as a unit height), groups, strides, dilations,
pads, output_padding, output_shape and auto_pad.

Chunk order (gather form): for n, for output row oh = 0..OH-1: the input
rows ih that reach it are those with ih*s + kh*d = oh + pad_top for some tap
kh; read the contiguous run of input rows from the lowest to the highest of
them, all channels (X[n, :, lo:hi+1, :]; none when no tap lands), then write
output row Y[n, :, oh, :] in all output channels.  Rows are read in
increasing order as oh grows, so an output may start somewhat below its
input; the DMO rule takes the exact margin from this list.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked
from .registry import register


def _axis(n: int, k: int, s: int, d: int, op: int, pads: tuple[int, int] | None,
          out: int | None, auto: str) -> tuple[int, int, int]:
    """(full length, pad_begin, output length) of one spatial axis."""
    full = (n - 1) * s + (k - 1) * d + 1 + op
    if pads is None:
        want = out if out is not None else n * s
        total = full - want
        pb = total // 2 if auto == "SAME_UPPER" else total - total // 2
        return full, pb, want
    return full, pads[0], out if out is not None else full - pads[0] - pads[1]


@register("ConvTranspose")
class ConvTranspose(Blocked):
    order = ("per (n, output row), after reading the run of input rows that reach it, "
             "all channels")

    def prepare(self) -> None:
        xs, ws, ys = self.in_shapes[0], self.in_shapes[1], self.out_shapes[0]
        if len(xs) not in (3, 4) or len(ws) != len(xs):
            raise self.fail(f"only 1-D and 2-D transposed convolutions are supported, "
                            f"input shape {xs}")
        sp = len(xs) - 2
        g = int(self.attrs.get("group", 1))
        c, mg = ws[0], ws[1]
        if xs[1] != c or c % g:
            raise self.fail(f"inconsistent shapes: input {xs}, weights {ws}, group {g}")
        strides = self.ints("strides") or [1] * sp
        dil = self.ints("dilations") or [1] * sp
        outpad = self.ints("output_padding") or [0] * sp
        out_shape = self.ints("output_shape")
        auto = str(self.attrs.get("auto_pad", "NOTSET"))
        pads = self.ints("pads")
        if pads is None and auto not in ("SAME_UPPER", "SAME_LOWER"):
            pads = [0] * (2 * sp)
        geo = [_axis(xs[2 + i], ws[2 + i], strides[i], dil[i], outpad[i],
                     None if pads is None else (pads[i], pads[i + sp]),
                     None if out_shape is None else out_shape[-sp + i], auto)
               for i in range(sp)]
        if [o for _, _, o in geo] != list(ys[2:]) or ys[1] != mg * g:
            raise self.fail(f"attributes give output {[o for _, _, o in geo]}, the graph says "
                            f"{ys}")
        if sp == 1:
            geo, strides, dil, ws = [(1, 0, 1), *geo], [1, *strides], [1, *dil], (*ws[:2], 1,
                                                                                    ws[2])
        (self.fh, self.ph, self.oh), (self.fw, self.pw, self.ow) = geo
        if self.ph < 0 or self.pw < 0:
            raise self.fail("output_shape larger than the full transposed convolution")
        self.sh, self.sw = strides
        self.dh, self.dw = dil
        self.g, self.kh, self.kw = g, ws[2], ws[3]
        n, _, h, w = xs[0], xs[1], (xs[2] if sp == 2 else 1), xs[-1]
        self.x_views = [(n, c, h, w), (c, mg, self.kh, self.kw), self.in_shapes[2]
                        if self.has_input(2) else None]
        self.y_views = [(n, mg * g, self.oh, self.ow)]
        width = max(self.fw, self.pw + self.ow)
        self.block_scratch(mg * g * (width + self.kw * w) + c * h * w, 2)

    def taps(self, oh: int) -> list[tuple[int, int]]:
        """(kh, ih) of every input row reaching output row `oh`."""
        out = []
        for kh in range(self.kh):
            t = oh + self.ph - kh * self.dh
            if t >= 0 and t % self.sh == 0 and t // self.sh < self.x_views[0][2]:
                out.append((kh, t // self.sh))
        return out

    def chunks(self):
        n_ = self.x_views[0][0]
        every = slice(None)
        wb = ((), () if self.has_input(2) else None)
        for n in range(n_):
            for oh in range(self.oh):
                taps = self.taps(oh)
                if taps:
                    lo, hi = min(i for _, i in taps), max(i for _, i in taps)
                    r = (n, every, slice(lo, hi + 1), every)
                    yield ((n, every, oh, every),), (r, *wb), (taps, lo)
                else:
                    yield ((n, every, oh, every),), (None, *wb), ([], 0)

    def compute(self, ctx, x, w, b=None):
        taps, lo = ctx
        m = self.y_views[0][1]
        dt = np.promote_types(w.dtype, np.float32)
        width = max(self.fw, self.pw + self.ow)
        row = np.zeros((m, width), dt)
        g, cg, mg = self.g, w.shape[0] // self.g, w.shape[1]
        iw = x.shape[-1] if x is not None else 0
        span = (iw - 1) * self.sw + 1
        for kh, ih in taps:
            xr = x[:, ih - lo, :]
            for gi in range(g):
                part = np.einsum("cmk,cw->mkw", w[gi * cg:(gi + 1) * cg, :, kh, :],
                                 xr[gi * cg:(gi + 1) * cg].astype(dt, copy=False))
                dst = row[gi * mg:(gi + 1) * mg]
                for kw in range(self.kw):
                    dst[:, kw * self.dw: kw * self.dw + span: self.sw] += part[:, kw]
        y = row[:, self.pw: self.pw + self.ow]
        if b is not None:
            y = y + b[:, None]
        return (y,)
