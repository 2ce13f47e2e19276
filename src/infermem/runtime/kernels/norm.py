"""Normalizations over a block: LayerNormalization, RMSNormalization,
InstanceNormalization, GroupNormalization, MeanVarianceNormalization.

Chunk order (all): for each index over the axes before the first normalized
axis (LayerNorm/RMSNorm: before `axis`; InstanceNorm and
GroupNorm: every (n, group) with X viewed as (N, G, C/G, spatial), a group
per channel for InstanceNorm; MVN:
before the first of `axes`), read that input block and the whole scale and
bias, then write the output block (LayerNorm also its Mean and InvStdDev
entries).  Output blocks are the input blocks' size: in place is safe.
"""

from __future__ import annotations

import numpy as np

from .blocked import Blocked, lead_chunks
from .registry import register


class Normalize(Blocked):
    order = "per index over the leading (not normalized) axes: read the block, write it"

    def prepare(self) -> None:
        self.eps = float(self.attrs.get("epsilon", 1e-5))
        self.axis = self.first_axis()
        self.block_scratch(int(np.prod(self.x_views[0][self.axis:])), 5)

    def first_axis(self) -> int:
        return self.axis_attr(default=-1)

    def chunks(self):
        n_out = len(self.op.outputs)
        for writes, reads, lead in lead_chunks(self.x_views[0], self.axis, len(self.op.inputs),
                                               n_out, shared=range(1, len(self.op.inputs))):
            yield (tuple(w if self.op.outputs[k] else None for k, w in enumerate(writes)),
                   tuple(r if self.has_input(k) else None for k, r in enumerate(reads)), lead)

    def stats(self, x: np.ndarray, center: bool = True):
        """(x - mean) / sqrt(var + eps) over the whole block, in at least float32."""
        dt = np.promote_types(x.dtype, np.float32)
        x = x.astype(dt, copy=False)
        mean = x.mean() if center else dt.type(0)
        var = np.mean(np.square(x - mean))
        inv = 1 / np.sqrt(var + dt.type(self.eps))
        return (x - mean) * inv, mean, inv


@register("LayerNormalization", "RMSNormalization")
class LayerNormalization(Normalize):
    def compute(self, lead, x, scale, bias=None):
        y, mean, inv = self.stats(x, center=self.op.type == "LayerNormalization")
        y = y * scale
        if bias is not None:
            y = y + bias
        one = np.ones((1,) * x.ndim)
        return (y, mean * one, inv * one)


class _PerGroup(Normalize):
    """X viewed as (N, G, C/G, spatial), scale and bias as (G, C/G or 1, 1):
    one chunk per (n, group), normalized over the whole group."""

    def views(self, groups: int) -> int:
        xs = self.in_shapes[0]
        if len(xs) < 2 or groups < 1 or xs[1] % groups:
            raise self.fail(f"{groups} groups do not divide the channels of {xs}")
        cg, spatial = xs[1] // groups, int(np.prod(xs[2:]))
        per_channel = int(np.prod(self.in_shapes[1])) == xs[1]
        self.x_views = [(xs[0], groups, cg, spatial)] + [(groups, cg if per_channel else 1, 1)] * 2
        self.y_views = [(xs[0], groups, cg, spatial)]
        return 2

    def chunks(self):
        for (w,), (r, _, _), lead in lead_chunks(self.x_views[0], 2, 3):
            yield (w,), (r, (lead[1],), (lead[1],)), lead

    def compute(self, lead, x, scale, bias):
        return (self.stats(x)[0] * scale + bias,)


@register("InstanceNormalization")
class InstanceNormalization(_PerGroup):
    """One group per channel."""

    def first_axis(self) -> int:
        if len(self.in_shapes[0]) < 3:
            raise self.fail(f"needs an (N, C, ...) input, got {self.in_shapes[0]}")
        return self.views(self.in_shapes[0][1])


@register("GroupNormalization")
class GroupNormalization(_PerGroup):
    """Scale and bias per channel (opset 21) or per group (opset 18)."""

    def first_axis(self) -> int:
        return self.views(int(self.attrs.get("num_groups", 0)))


@register("MeanVarianceNormalization")
class MeanVarianceNormalization(Normalize):
    def first_axis(self) -> int:
        rank = len(self.in_shapes[0])
        axes = self.ints("axes") or [0, 2, 3]
        self.axes = sorted({a + rank if a < 0 else a for a in axes})
        return self.axes[0]

    def compute(self, lead, x):
        local = tuple(a - self.axis for a in self.axes)
        x = x.astype(np.promote_types(x.dtype, np.float32), copy=False)
        mean = x.mean(axis=local, keepdims=True)
        var = np.mean(np.square(x - mean), axis=local, keepdims=True)
        return ((x - mean) / np.sqrt(var + x.dtype.type(1e-9)),)
