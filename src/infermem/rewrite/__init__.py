"""Graph rewrites that change the shape of the computation (patch-based stages).

`patch_tflite(src, grid, until=None)` rewrites a `.tflite` so that its first
stage (operators 0..`until`, see `stage`) runs one spatial tile of the
stage's output at a time, with builtin TFLM operators only (`tflite_patch`);
`patch_onnx` does the same to an ONNX model with ONNX operators
(`onnx_patch`); `choose` tries stage ends x grids and keeps the one with the
smallest planned arena within a MAC budget.  The receptive-field arithmetic is `receptive`.
Every result is bytes plus its honest cost (MACs, operators, flash); proving
it bit-identical is the caller's job (`tflm.optimize` runs it in TFLM).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ..frontends.tflite_flatbuffer import read_model as read_model_tree
from ..tflm.offline import pack_tree
from .stage import Stage, find_stage, op_name, shape
from .tflite_patch import rewrite


class NotPatchable(BadInput):
    """The model has no stage that can run per patch (the message says why)."""


@dataclass(frozen=True)
class PatchResult:
    data: bytes  # the rewritten model
    stage_ops: tuple[int, ...]  # operator indices of the original that run per patch
    stage_output: str  # the tensor the patches reassemble
    grid: tuple[int, int]  # rows, columns of tiles
    macs_before: int
    macs_after: int  # halo recomputation included
    ops_before: int
    ops_after: int
    flash_before: int  # file bytes
    flash_after: int

    @property
    def mac_overhead(self) -> float:
        return self.macs_after / max(self.macs_before, 1) - 1.0

    @property
    def extra_ops(self) -> int:
        return self.ops_after - self.ops_before

    def describe(self) -> str:
        return (f"patch {self.grid[0]}x{self.grid[1]} of operators 0..{self.stage_ops[-1]} "
                f"(up to {self.stage_output!r}): MACs {self.macs_before:,} -> "
                f"{self.macs_after:,} (+{self.mac_overhead:.1%}), operators {self.ops_before} "
                f"-> {self.ops_after}, flash {self.flash_before:,} -> {self.flash_after:,} B")


def model_macs(model) -> int:
    """MACs of subgraph 0 by macs.py's rules (conv: output elements x filter
    window x input channels per group; depthwise: x window; fully connected:
    x input features), read from the object tree."""
    sg = model.subgraphs[0]
    total = 0
    for op in sg.operators or []:
        name = op_name(model, op)
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        out, w = shape(sg, int(op.outputs[0])), shape(sg, int(op.inputs[1]))
        per = int(np.prod(w[1:])) if name == "CONV_2D" else (
            w[1] * w[2] if name == "DEPTHWISE_CONV_2D" else w[-1])
        total += int(np.prod(out)) * per
    return total


def load_tree(src: str | Path | bytes):
    raw = src if isinstance(src, bytes) else _read(Path(src))
    return raw, read_model_tree(raw, "model" if isinstance(src, bytes) else str(src))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror or e}") from None


def parse_grid(text: str) -> tuple[int, int]:
    """'4' or '4x3' (rows x columns)."""
    parts = text.lower().split("x")
    try:
        rows, cols = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        rows = cols = 0
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise BadInput(f"--patch {text!r}: give 'auto', N or RxC with at least 2 tiles")
    return rows, cols


def patch_stage(raw: bytes, tree, stage: Stage, grid: tuple[int, int],
                shrink_halo: int = 0) -> PatchResult:
    """Rewrite an already-read model for one stage and grid."""
    if grid[0] > stage.height or grid[1] > stage.width:
        raise BadInput(f"grid {grid[0]}x{grid[1]} is finer than the stage output "
                       f"({stage.height}x{stage.width})")
    r = rewrite(tree, stage, grid, shrink_halo)
    data = pack_tree(r.model, len(raw) + 4096)
    name = tree.subgraphs[0].tensors[stage.output].name
    return PatchResult(
        data, tuple(s.index for s in stage.ops),
        name.decode() if isinstance(name, bytes) else str(name), grid,
        model_macs(tree), model_macs(r.model), len(tree.subgraphs[0].operators),
        len(r.model.subgraphs[0].operators), len(raw), len(data),
    )  # fmt: skip


def patch_tflite(src: str | Path | bytes, grid: tuple[int, int], until: int | None = None,
                 shrink_halo: int = 0) -> PatchResult:
    """`src` (a path or the bytes of a .tflite) with operators 0..`until` (default:
    the longest patchable stage) run as a `grid` of patches.  NotPatchable when
    no stage exists.  `shrink_halo` > 0 deliberately reads that many pixels too
    few at tile borders (a wrong halo, for tests of the verification)."""
    raw, tree = load_tree(src)
    stage = find_stage(tree, until)
    if isinstance(stage, str):
        raise NotPatchable(stage)
    return patch_stage(raw, tree, stage, grid, shrink_halo)


def patch_onnx(src: str | Path | bytes, grid: tuple[int, int], until: int | None = None,
               input_shapes=None, shrink_halo: int = 0) -> PatchResult:
    """The ONNX counterpart of `patch_tflite` (`onnx_patch`): `input_shapes`
    fixes symbolic dims as `--input-shape` does (the rewrite keeps a symbolic
    batch)."""
    from .onnx_patch import OnnxSource

    source = OnnxSource(src, input_shapes)
    stage = source.stage(until)
    if isinstance(stage, str):
        raise NotPatchable(stage)
    return source.patch(stage, grid, shrink_halo)


__all__ = ["NotPatchable", "PatchResult", "model_macs", "parse_grid", "patch_onnx",
           "patch_stage", "patch_tflite"]
