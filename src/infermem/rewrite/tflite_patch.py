"""Rewrite a `.tflite` so its first stage runs patch by patch, with builtin ops.

For each tile of the stage's output (row-major): STRIDED_SLICE the region of
the stage input the tile needs; for each stage operator in file order, the
region it must compute (`receptive.backward`), a STRIDED_SLICE where a
consumer needs less than was computed (the shortcut of a residual ADD), a PAD
where the region reaches past the image border (the value the kernel's own
padding implies: PAD writes 0.0, or the output zero point, which is the input's
because the PAD tensor copies its quantization; before a SAME max pool, PADV2
with the dtype's lowest value, which the maximum never picks because every
window holds an in-bounds pixel), then the original operator
with VALID padding on the tile: same weights tensors (no weight is copied),
same options, same quantization.  Each row of tiles is joined with
CONCATENATION along W as soon as it is complete, the rows along H into the
stage's original output tensor, so the rest of the graph is untouched.
Operators are emitted patch after patch, so one patch's intermediates are dead
before the next patch starts: that is where the memory goes.

New tensors are named `patch/r{row}c{col}/t{original index}`: names are flash.
The object tree given is never modified: new lists hold the original tensor,
buffer and operator objects (shared, read-only) plus the new ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..frontends.tflite_options import schema_fb as fb
from .receptive import Padding, Region, needed
from .stage import LOWEST, PADS, Stage, StageOp, shape
from .tiles import Patch, emit_tiles

OFFLINE_PLAN = "OfflineMemoryAllocation"


@dataclass(frozen=True)
class Rewritten:
    """The rewritten subgraph 0 and the model-level lists it needs."""

    model: Any  # a shallow copy of the ModelT with the new lists
    extra_ops: int
    tiles: int


class _Emitter:
    """Appends tensors, constant buffers, operator codes and operators to copies
    of the model's lists; caches the constant index tensors it makes."""

    H_AXIS, W_AXIS = 1, 2  # NHWC

    def __init__(self, model: Any) -> None:
        self.model = model
        sg = model.subgraphs[0]
        self.sg = sg
        self.tensors = list(sg.tensors)
        self.buffers = list(model.buffers)
        self.codes = list(model.operatorCodes)
        self.ops: list[Any] = []
        self._consts: dict[tuple, int] = {}
        self._code: dict[int, int] = {}
        self.stage_tensors: set[int] = set()

    def code(self, builtin: int) -> int:
        if builtin not in self._code:
            for i, c in enumerate(self.codes):
                if max(int(c.builtinCode), int(c.deprecatedBuiltinCode)) == builtin:
                    self._code[builtin] = i
                    break
            else:
                c = fb.OperatorCodeT()
                c.builtinCode, c.deprecatedBuiltinCode, c.version = builtin, min(builtin, 127), 1
                self.codes.append(c)
                self._code[builtin] = len(self.codes) - 1
        return self._code[builtin]

    def const(self, values: list[int], dims: tuple[int, ...]) -> int:
        key = (tuple(values), dims)
        if key not in self._consts:
            buf = fb.BufferT()
            buf.data = np.array(values, dtype="<i4").view(np.uint8)
            self.buffers.append(buf)
            t = fb.TensorT()
            t.shape, t.type = np.array(dims, dtype=np.int32), fb.TensorType.INT32
            t.buffer, t.name = len(self.buffers) - 1, f"patch/const{len(self._consts)}"
            self.tensors.append(t)
            self._consts[key] = len(self.tensors) - 1
        return self._consts[key]

    def lowest(self, src: int) -> int:
        """A scalar constant of `src`'s dtype and quantization holding the dtype's
        lowest value (TFLM's PADV2 wants the output's scale and zero point)."""
        s = self.tensors[src]
        key = ("lowest", int(s.type), id(s.quantization))
        if key not in self._consts:
            value = LOWEST[s.type]
            dtype = {fb.TensorType.INT8: "i1", fb.TensorType.INT16: "<i2"}.get(s.type, "<f4")
            buf = fb.BufferT()
            buf.data = np.array([value], dtype=dtype).view(np.uint8)
            self.buffers.append(buf)
            t = fb.TensorT()
            t.shape, t.type, t.quantization = np.array([1], dtype=np.int32), s.type, s.quantization
            t.buffer, t.name = len(self.buffers) - 1, f"patch/const{len(self._consts)}"
            self.tensors.append(t)
            self._consts[key] = len(self.tensors) - 1
        return self._consts[key]

    def like(self, src: int, region: Region, name: str) -> int:
        """A new activation tensor: `src`'s type and quantization, the region's size."""
        s = self.tensors[src]
        t = fb.TensorT()
        t.shape = np.array([1, region.height, region.width, int(s.shape[3])], dtype=np.int32)
        t.type, t.buffer, t.quantization = s.type, s.buffer, s.quantization
        t.name = name
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, builtin: int, inputs: list[int], output: int, opt_type: int, options) -> None:
        o = fb.OperatorT()
        o.opcodeIndex = self.code(builtin)
        o.inputs, o.outputs = np.array(inputs, np.int32), np.array([output], np.int32)
        o.builtinOptionsType, o.builtinOptions = opt_type, options
        self.ops.append(o)

    def strided_slice(self, src: int, have: Region, want: Region, name: str) -> int:
        c = int(self.tensors[src].shape[3])
        lo = [0, want.h0 - have.h0, want.w0 - have.w0, 0]
        hi = [1, want.h1 - have.h0, want.w1 - have.w0, c]
        out = self.like(src, want, name)
        opts = fb.StridedSliceOptionsT()
        self.op(fb.BuiltinOperator.STRIDED_SLICE,
                [src, self.const(lo, (4,)), self.const(hi, (4,)), self.const([1] * 4, (4,))],
                out, fb.BuiltinOptions.StridedSliceOptions, opts)
        return out

    slice = strided_slice  # the name `tiles` calls

    def pad(self, src: int, region: Region, p: Padding, name: str, value: int | None = None) -> int:
        """PAD to `region`'s size, or PADV2 with the constant tensor `value`."""
        words = [0, 0, p.top, p.bottom, p.left, p.right, 0, 0]
        out = self.like(src, region, name)
        paddings = self.const(words, (4, 2))
        if value is not None:
            self.op(fb.BuiltinOperator.PADV2, [src, paddings, value], out,
                    fb.BuiltinOptions.PadV2Options, fb.PadV2OptionsT())
        else:
            self.op(fb.BuiltinOperator.PAD, [src, paddings], out, fb.BuiltinOptions.PadOptions,
                    fb.PadOptionsT())
        return out

    def concat(self, parts: list[int], axis: int, output: int) -> None:
        opts = fb.ConcatenationOptionsT()
        opts.axis = axis
        self.op(fb.BuiltinOperator.CONCATENATION, parts, output,
                fb.BuiltinOptions.ConcatenationOptions, opts)


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def _pad_value(em: _Emitter, sop: StageOp, op: Any, src: int) -> int | None:
    """The PADV2 constant a border tile needs: the original PADV2's, the dtype's
    lowest before a SAME max pool, or None (PAD: zero, or the zero point)."""
    if sop.type in PADS and len(op.inputs) > 2:
        return int(op.inputs[2])
    return em.lowest(src) if sop.pad_lowest else None


def _tile_op(em: _Emitter, patch: Patch, sop: StageOp, op: Any, region: Region,
             sizes: dict[int, tuple[int, int]]) -> None:
    """Emit one stage operator for one patch: (slice,) (PAD,) then the operator."""
    out = int(op.outputs[0])
    name = f"patch/{patch.tag}/t{out}"  # short: names are flash
    inputs = [int(t) for t in op.inputs]
    want = needed(sop.h, sop.w, region)
    for k in sop.spatial:
        src, p = patch.read(inputs[k], want, sizes)
        if p.any:
            src = em.pad(src, want, p, name + f"/pad{k}", _pad_value(em, sop, op, src))
        inputs[k] = src
    if sop.type in PADS:  # the tile of a PAD is its padded input tile: no operator left
        patch.have[out] = (inputs[0], region)
        return
    tensor = em.like(out, region, name)
    new = copy.copy(op)
    new.inputs, new.outputs = np.array(inputs, np.int32), np.array([tensor], np.int32)
    if sop.pads_tile:
        new.builtinOptions = copy.copy(op.builtinOptions)
        new.builtinOptions.padding = fb.Padding.VALID
    em.ops.append(new)
    patch.have[out] = (tensor, region)


def rewrite(model: Any, stage: Stage, grid: tuple[int, int], shrink_halo: int = 0) -> Rewritten:
    """The model with `stage` run as a `grid` (rows, columns) of patches."""
    em = _Emitter(model)
    sg = em.sg
    ops = sg.operators
    arith = [s.arithmetic(ops[s.index]) for s in stage.ops]
    sizes = {t: shape(sg, t)[1:3] for a in arith for t in (*a.inputs, a.output)}

    def tile_op(patch: Patch, k: int, region: Region) -> None:
        sop = stage.ops[k]
        _tile_op(em, patch, sop, ops[sop.index], region, sizes)

    emit_tiles(em, stage, arith, sizes, grid, shrink_halo, tile_op)
    n_before = len(ops)
    new_ops = em.ops + list(ops[stage.ops[-1].index + 1:])
    m = _assemble(model, em, new_ops)
    return Rewritten(m, len(new_ops) - n_before, grid[0] * grid[1])


def _assemble(model: Any, em: _Emitter, ops: list[Any]) -> Any:
    """A shallow copy of the model with subgraph 0 = `ops` over only the tensors
    they use (renumbered), signatures renumbered, a stale offline plan dropped."""
    sg = em.sg
    used: list[int] = []
    seen: set[int] = set()
    for op in ops:
        for t in [*op.inputs, *op.outputs]:
            if int(t) >= 0 and int(t) not in seen:
                seen.add(int(t))
                used.append(int(t))
    for t in [*sg.inputs, *sg.outputs]:
        if int(t) not in seen:
            seen.add(int(t))
            used.append(int(t))
    used.sort()
    new_index = {t: i for i, t in enumerate(used)}

    def remap(v) -> np.ndarray:
        return np.array([new_index[int(t)] if int(t) >= 0 else -1 for t in v], np.int32)

    out_ops = []
    for op in ops:
        o = copy.copy(op)
        o.inputs, o.outputs = remap(op.inputs), remap(op.outputs)
        out_ops.append(o)
    new_sg = copy.copy(sg)
    new_sg.tensors = [em.tensors[t] for t in used]
    new_sg.operators = out_ops
    new_sg.inputs, new_sg.outputs = remap(sg.inputs), remap(sg.outputs)
    m = copy.copy(model)
    m.subgraphs = [new_sg, *model.subgraphs[1:]]
    m.buffers, m.operatorCodes = em.buffers, em.codes
    m.metadata = [e for e in model.metadata or [] if _text(e.name) != OFFLINE_PLAN] or None
    m.signatureDefs = [_signature(s, new_index) for s in model.signatureDefs or []] or None
    return m


def _signature(sig: Any, new_index: dict[int, int]) -> Any:
    s = copy.copy(sig)
    if int(sig.subgraphIndex) != 0:
        return s
    for field in ("inputs", "outputs"):
        maps = []
        for tm in getattr(sig, field) or []:
            t = copy.copy(tm)
            t.tensorIndex = new_index[int(tm.tensorIndex)]
            maps.append(t)
        setattr(s, field, maps)
    return s
