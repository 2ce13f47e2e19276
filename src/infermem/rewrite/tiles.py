"""The per-patch walk every format's rewrite shares.

For each tile of the stage's output (row-major): the region every stage
tensor must hold (`receptive.backward`), the stage's inputs read whole, each
stage operator emitted on its region by the format's `tile_op`, the tile
sliced out of what was computed, and each row of tiles joined along the
width as soon as it is complete, the rows along the height into the stage's
original output tensor.  Operators come out patch after patch, so one patch's
intermediates are dead before the next patch starts: that is where the memory
goes.

The format supplies an emitter with `slice(src, have, want, name)`,
`like(src, region, name)`, `concat(parts, axis, output)`, the axes `H_AXIS`,
`W_AXIS` of its stage output, and `stage_tensors` (the outputs of the stage's
operators, set here).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .receptive import Padding, Region, SpatialOp, backward, clip, split
from .stage import Stage


class Patch:
    """The tensors one patch computed: original tensor -> (new tensor, region)."""

    def __init__(self, em: Any, tag: str, shrink_halo: int) -> None:
        self.em, self.tag, self.shrink = em, tag, shrink_halo
        self.have: dict[Hashable, tuple[Hashable, Region]] = {}
        self._slices: dict[tuple[Hashable, Region], Hashable] = {}

    def get(self, t: Hashable, want: Region) -> Hashable:
        """Tensor `t` restricted to `want` (a slice of what was computed, if smaller)."""
        src, have = self.have[t]
        if have == want:
            return src
        key = (t, want)
        if key not in self._slices:
            name = f"patch/{self.tag}/t{t}/slice{len(self._slices)}"
            self._slices[key] = self.em.slice(src, have, want, name)
        return self._slices[key]

    def read(self, t: Hashable, want: Region,
             sizes: dict[Hashable, tuple[int, int]]) -> tuple[Hashable, Padding]:
        """`t` over the unclipped `want`: the in-bounds part, and the padding it lacks.
        `shrink_halo` (a deliberate bug, for tests) reads less of the whole stage
        input than needed and pads the rest."""
        got, p = clip(want, *sizes[t])
        if self.shrink and t not in self.em.stage_tensors:
            got, p = shrink(got, p, sizes[t], self.shrink)
        return self.get(t, got), p


def shrink(got: Region, p: Padding, size: tuple[int, int], k: int) -> tuple[Region, Padding]:
    """`got` less `k` pixels on every side inside the tensor, padded instead."""
    h, w = size
    top = k if got.h0 > 0 and got.height > 2 * k else 0
    bottom = k if got.h1 < h and got.height > 2 * k else 0
    left = k if got.w0 > 0 and got.width > 2 * k else 0
    right = k if got.w1 < w and got.width > 2 * k else 0
    return (Region(got.h0 + top, got.h1 - bottom, got.w0 + left, got.w1 - right),
            Padding(p.top + top, p.bottom + bottom, p.left + left, p.right + right))


TileOp = Callable[[Patch, int, Region], None]  # (patch, position in the stage, region)


def emit_tiles(em: Any, stage: Stage, arith: Sequence[SpatialOp],
               sizes: dict[Hashable, tuple[int, int]], grid: tuple[int, int],
               shrink_halo: int, tile_op: TileOp) -> None:
    """Emit the stage as a `grid` of patches, joined into `stage.output`."""
    em.stage_tensors = {a.output for a in arith}
    rows = []
    for r, (h0, h1) in enumerate(split(stage.height, grid[0])):
        tiles = []
        for c, (w0, w1) in enumerate(split(stage.width, grid[1])):
            tile = Region(h0, h1, w0, w1)
            regions = backward(arith, sizes, stage.output, tile)
            patch = Patch(em, f"r{r}c{c}", shrink_halo)
            for t in set(sizes) - em.stage_tensors:  # the stage's inputs, whole
                patch.have[t] = (t, Region(0, sizes[t][0], 0, sizes[t][1]))
            for k, a in enumerate(arith):
                if a.output in regions:
                    tile_op(patch, k, regions[a.output])
            tiles.append(patch.get(stage.output, tile))
        _join_row(em, stage, tiles, r, grid, rows)
    if len(rows) > 1:
        em.concat(rows, em.H_AXIS, stage.output)


def _join_row(em: Any, stage: Stage, tiles: list, r: int, grid, rows: list) -> None:
    if grid[0] == 1:
        em.concat(tiles, em.W_AXIS, stage.output)
    elif len(tiles) == 1:
        rows.append(tiles[0])
    else:
        h0, h1 = split(stage.height, grid[0])[r]
        row = em.like(stage.output, Region(h0, h1, 0, stage.width),
                      f"patch/row{r}/t{stage.output}")
        em.concat(tiles, em.W_AXIS, row)
        rows.append(row)
