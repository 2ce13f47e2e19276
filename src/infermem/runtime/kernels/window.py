"""Sliding-window geometry shared by Conv and the pools (ONNX semantics).

One spatial axis at a time: kernel size, stride, dilation and the two pads,
resolved from `auto_pad` the way ONNX defines it.  1-D windows are run as 2-D
with a height of one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
    size: int  # input extent
    kernel: int
    stride: int
    dilation: int
    pad_begin: int
    pad_end: int
    out: int  # output extent (the graph's, checked)

    @property
    def span(self) -> int:
        """Extent one window covers: (k - 1) * d + 1."""
        return (self.kernel - 1) * self.dilation + 1

    @property
    def padded(self) -> int:
        """Length of the padded input every window fits in (ceil mode included)."""
        return max(self.size + self.pad_begin + self.pad_end,
                   (self.out - 1) * self.stride + self.span)

    def taps(self, o: int) -> tuple[int, int]:
        """Kernel taps [k0, k1) of output position `o` that fall on real input."""
        top = o * self.stride - self.pad_begin
        k0 = (-top + self.dilation - 1) // self.dilation if top < 0 else 0
        k1 = min(self.kernel, (self.size - 1 - top) // self.dilation + 1)
        return k0, max(k0, k1)


def axes(
    attrs: dict, in_spatial: Sequence[int], kernel: Sequence[int], out_spatial: Sequence[int],
    where: str, ceil_mode: bool = False,
) -> list[Axis]:
    """Resolve ONNX window attributes; raise ValueError(message) if the graph's
    output shape disagrees with them."""
    n = len(in_spatial)
    strides = list(attrs.get("strides") or [1] * n)
    dil = list(attrs.get("dilations") or [1] * n)
    pads = list(attrs.get("pads") or [0] * (2 * n))
    auto = attrs.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    res = []
    for i in range(n):
        h, k, s, d = int(in_spatial[i]), int(kernel[i]), int(strides[i]), int(dil[i])
        span = (k - 1) * d + 1
        pb, pe = int(pads[i]), int(pads[i + n])
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            o = math.ceil(h / s)
            total = max(0, (o - 1) * s + span - h)
            pb = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pe = total - pb
        elif auto == "VALID":
            pb = pe = 0
            o = math.ceil((h - span + 1) / s)
        else:
            q = (h + pb + pe - span) / s
            o = (math.ceil(q) if ceil_mode else math.floor(q)) + 1
            if ceil_mode and (o - 1) * s >= h + pb:
                o -= 1  # a last window starting in the end padding is dropped
        if o != out_spatial[i]:
            raise ValueError(f"{where}: window attributes give output extent {o} on spatial "
                             f"axis {i}, the graph says {out_spatial[i]}")
        res.append(Axis(h, k, s, d, pb, pe, o))
    return res


def as_2d(ax: list[Axis]) -> tuple[Axis, Axis]:
    """(height, width) axes; a 1-D window gets a unit height."""
    if len(ax) == 1:
        return Axis(1, 1, 1, 1, 0, 0, 1), ax[0]
    if len(ax) != 2:
        raise ValueError(f"{len(ax)}-D windows are not supported (1-D and 2-D only)")
    return ax[0], ax[1]
