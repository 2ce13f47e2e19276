"""Receptive-field arithmetic: which input region an output region needs.

Pure integer arithmetic, no model types.  A spatial operator is described per
axis by a `Window` (kernel, stride, dilation, padding before the first input
element, input and output length), with the padding computed exactly as TFLM
computes it (`ComputePaddingHeightWidth`): SAME pads
`max((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0)` in total and
puts `total // 2` before; VALID pads nothing.  Regions are half-open boxes
`[h0, h1) x [w0, w1)` in a tensor's own coordinates.

`needed` maps an output region to the *unclipped* input region a VALID window
reads to produce exactly that output; the part of it outside the tensor is
what the kernel's own padding supplied, so a patch pads it explicitly
(`clip`).  `backward` walks a DAG of such operators from the last tensor's
region, taking for every tensor the bounding box of what its consumers need,
clipped to the tensor: the region a patch must compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """One spatial axis of a sliding-window operator (identity: kernel 1, stride 1)."""

    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    pad_before: int = 0

    @property
    def span(self) -> int:
        """Input elements one output element reads, first tap to last."""
        return (self.kernel - 1) * self.dilation + 1


IDENTITY = Window()


def same_padding(size_in: int, size_out: int, kernel: int, stride: int, dilation: int) -> int:
    """Padding before the first element for SAME, as TFLM computes it."""
    total = max((size_out - 1) * stride + (kernel - 1) * dilation + 1 - size_in, 0)
    return total // 2


def window(size_in: int, size_out: int, kernel: int, stride: int, dilation: int,
           same: bool) -> Window:
    """The axis of a conv/pool; SAME or VALID padding as TFLM applies it."""
    pad = same_padding(size_in, size_out, kernel, stride, dilation) if same else 0
    return Window(kernel, stride, dilation, pad)


@dataclass(frozen=True)
class Region:
    """A half-open box [h0, h1) x [w0, w1)."""

    h0: int
    h1: int
    w0: int
    w1: int

    @property
    def height(self) -> int:
        return self.h1 - self.h0

    @property
    def width(self) -> int:
        return self.w1 - self.w0

    def union(self, other: Region) -> Region:
        return Region(min(self.h0, other.h0), max(self.h1, other.h1),
                      min(self.w0, other.w0), max(self.w1, other.w1))

    def contains(self, other: Region) -> bool:
        return (self.h0 <= other.h0 and other.h1 <= self.h1
                and self.w0 <= other.w0 and other.w1 <= self.w1)

    def shifted(self, dh: int, dw: int) -> Region:
        return Region(self.h0 + dh, self.h1 + dh, self.w0 + dw, self.w1 + dw)


@dataclass(frozen=True)
class Padding:
    """How much of an unclipped region lies outside the tensor, per side."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    @property
    def any(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)


def _axis(w: Window, lo: int, hi: int) -> tuple[int, int]:
    return lo * w.stride - w.pad_before, (hi - 1) * w.stride - w.pad_before + w.span


def needed(h: Window, w: Window, out: Region) -> Region:
    """The unclipped input region a VALID window reads to produce exactly `out`."""
    (h0, h1), (w0, w1) = _axis(h, out.h0, out.h1), _axis(w, out.w0, out.w1)
    return Region(h0, h1, w0, w1)


def clip(region: Region, height: int, width: int) -> tuple[Region, Padding]:
    """`region` clipped to a height x width tensor, and the padding that restores it."""
    c = Region(max(region.h0, 0), min(region.h1, height), max(region.w0, 0), min(region.w1, width))
    return c, Padding(c.h0 - region.h0, region.h1 - c.h1, c.w0 - region.w0, region.w1 - c.w1)


@dataclass(frozen=True)
class SpatialOp:
    """One operator of a patchable stage, for the arithmetic: its spatial inputs
    (tensor ids; constants and per-channel operands are left out), its output
    and its window (identity for element-wise operators)."""

    inputs: tuple[int, ...]
    output: int
    h: Window = IDENTITY
    w: Window = IDENTITY


def backward(
    ops: Sequence[SpatialOp],
    sizes: Mapping[int, tuple[int, int]],
    out: int,
    region: Region,
) -> dict[int, Region]:
    """For every tensor of the stage (`ops` in topological order), the region a
    patch must hold so that `out` gets `region`: the bounding box of what its
    consumers need, clipped to the tensor's (height, width) in `sizes`."""
    regions: dict[int, Region] = {out: region}
    for op in reversed(ops):
        if op.output not in regions:
            continue  # nothing in this patch needs it
        want = needed(op.h, op.w, regions[op.output])
        for t in op.inputs:
            got, _ = clip(want, *sizes[t])
            regions[t] = regions[t].union(got) if t in regions else got
    return regions


def split(length: int, parts: int) -> list[tuple[int, int]]:
    """`length` cut into `parts` near-equal consecutive [lo, hi) ranges."""
    cuts = [round(i * length / parts) for i in range(parts + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(parts)]
