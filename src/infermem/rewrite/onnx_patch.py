"""Rewrite an ONNX model (NCHW) so its first stage runs patch by patch.

For each tile of the stage's output (`tiles.emit_tiles`): a Slice of the
region of the stage input the tile needs (along the input's own height and
width axes: tf2onnx's NHWC input is sliced before its Transpose); for each
stage operator, a Slice where a consumer needs less than was computed (a
residual's shortcut), a Pad where the region reaches past the border with the
value the operator's own padding implies (0 for Conv and AveragePool with
`count_include_pad`, -inf for MaxPool, the Pad's own constant), then a copy
of the original node on the tile with its padding removed: the same weight
initializers (no copy), the same attributes otherwise.  The tiles are joined
with Concat (each row along W, the rows along H) into the stage's original
output tensor, so the rest of the graph is untouched.

Stage finding is `onnx_stage` + `stage` over infermem's Graph of the model
(shapes static: a symbolic batch needs `--input-shape`); the output keeps a
symbolic batch dim (every new node works on height and width only) and fixes
the stage inputs' other dims to the shapes the rewrite was computed for.
New initializers (the Slice and Pad index constants) are named `patch/c{k}`,
new tensors `patch/r{row}c{col}/...`.  The model given is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import BadInput
from ..frontends import onnx_load as L
from ..frontends.onnx import graph_from_model
from ..graph import Graph
from ..macs import macs
from .onnx_stage import CONVS, NCHW, POOLS, layout_of, patchable_prefix
from .receptive import Padding, Region, SpatialOp, needed
from .stage import Listing, Stage, cut_points, pick_end
from .tiles import Patch, emit_tiles

Shapes = Mapping[str, tuple[int, ...]]


class _Emitter:
    """New nodes and index-constant initializers; the (height, width) axes and
    dtype of every tensor it makes."""

    H_AXIS, W_AXIS = 2, 3  # NCHW: the stage output

    def __init__(self, opset: int, layout: dict[str, tuple[int, int]], dtype: dict[str, str]):
        self.opset, self.layout, self.dtype = opset, layout, dtype
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._consts: dict[tuple, str] = {}
        self.stage_tensors: set[str] = set()
        self.macs = 0

    def const(self, values, dtype: str) -> str:
        arr = np.asarray(values, dtype=dtype)
        key = (arr.tobytes(), arr.shape, dtype)
        if key not in self._consts:
            name = f"patch/c{len(self._consts)}"
            self.inits.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    def like(self, src: str, region: Region, name: str) -> str:
        self.layout[name], self.dtype[name] = self.layout[src], self.dtype[src]
        return name

    def node(self, op_type: str, inputs: list[str], output: str, **attrs) -> None:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))

    def slice(self, src: str, have: Region, want: Region, name: str) -> str:
        axes = list(self.layout[src])
        starts = [want.h0 - have.h0, want.w0 - have.w0]
        ends = [want.h1 - have.h0, want.w1 - have.w0]
        self.like(src, want, name)
        if self.opset < 10:
            self.node("Slice", [src], name, starts=starts, ends=ends, axes=axes)
        else:
            self.node("Slice", [src, self.const(starts, "int64"), self.const(ends, "int64"),
                                self.const(axes, "int64")], name)
        return name

    def pad(self, src: str, p: Padding, value: float, name: str) -> str:
        pads = [0] * 8
        (ah, aw) = self.layout[src]
        pads[ah], pads[aw], pads[ah + 4], pads[aw + 4] = p.top, p.left, p.bottom, p.right
        self.like(src, Region(0, 0, 0, 0), name)
        if self.opset < 11:
            self.node("Pad", [src], name, pads=pads, value=float(value))
        else:
            self.node("Pad", [src, self.const(pads, "int64"),
                              self.const(value, self.dtype[src])], name)
        return name

    def concat(self, parts: list[str], axis: int, output: str) -> None:
        self.node("Concat", list(parts), output, axis=axis)


@dataclass(frozen=True)
class Rewritten:
    model: onnx.ModelProto
    macs_after: int
    ops_after: int  # operators of the rewritten graph (infermem's count: folded nodes out)


class OnnxSource:
    """An ONNX model read once, its Graph and its patchable prefix: what `choose`
    rewrites candidate after candidate."""

    format = "onnx"

    def __init__(self, src: str | Path | bytes, input_shapes: Shapes | None = None) -> None:
        where = "model" if isinstance(src, bytes) else str(src)
        raw = src if isinstance(src, bytes) else _read(Path(src))
        base = None if isinstance(src, bytes) else Path(src).parent
        proto = _with_external_data(L.parse_model(raw, where), base)
        shapes = {k: tuple(v) for k, v in (input_shapes or {}).items()}
        try:
            graph = graph_from_model(proto, shapes, name=Path(where).stem, base_dir=base)
        except BadInput as e:
            raise BadInput(f"{where}: {e}") from None
        self.raw, self.proto, self.graph, self.shapes = raw, proto, graph, shapes
        self.prefix, self.why = patchable_prefix(graph)
        ops = graph.operators
        self.listing = Listing(tuple(tuple(t for t in op.inputs if t) for op in ops),
                               tuple(next((o for o in op.outputs if o), "") for op in ops),
                               frozenset(graph.outputs), self._hw)
        self.macs = sum(macs(graph, op) or 0 for op in ops)

    def _hw(self, name: str) -> tuple[int, int]:
        s = self.graph.tensors[name].shape
        return (s[2], s[3]) if len(s) == 4 else (1, 1)

    def ends(self) -> list[int]:
        return cut_points(self.listing, self.prefix)

    def stage(self, until: int | None = None) -> Stage | str:
        k = pick_end(self.prefix, self.ends(), self.why, until)
        return k if isinstance(k, str) else self.stage_at(k)

    def stage_at(self, k: int) -> Stage:
        out = self.listing.writes[self.prefix[k].index]
        h, w = self._hw(out)
        return Stage(tuple(self.prefix[: k + 1]), out, h, w)

    def rewrite(self, stage: Stage, grid: tuple[int, int], shrink_halo: int = 0) -> Rewritten:
        """The model with `stage` run as a `grid` (rows, columns) of patches."""
        g, ops = self.graph, self.graph.operators
        arith = [SpatialOp(tuple(ops[s.index].inputs[k] for k in s.spatial),
                           self.listing.writes[s.index], s.h, s.w) for s in stage.ops]
        layout = _layouts(g, stage, arith)
        sizes = {t: (g.tensors[t].shape[a[0]], g.tensors[t].shape[a[1]])
                 for t, a in layout.items()}
        em = _Emitter(int(g.meta.get("opset", 13)), dict(layout),
                      {t: g.tensors[t].dtype for t in layout})
        nodes = _nodes_by_output(self.proto)

        def tile_op(patch: Patch, k: int, region: Region) -> None:
            sop = stage.ops[k]
            _tile_op(em, patch, sop, nodes[arith[k].output], region, sizes, self._per_pixel(sop))

        emit_tiles(em, stage, arith, sizes, grid, shrink_halo, tile_op)
        stage_macs = sum(macs(g, ops[s.index]) or 0 for s in stage.ops)
        model = _assemble(self.proto, g, stage, arith, em)
        return Rewritten(model, self.macs - stage_macs + em.macs,
                         len(ops) - len(stage.ops) + len(em.nodes))

    def macs_after(self, stage: Stage, grid: tuple[int, int]) -> int:
        return self.rewrite(stage, grid).macs_after

    def arena(self, data: bytes, strategy: str) -> int:
        """The arena of a model held in memory (the original or a rewrite),
        planned by `strategy` in file order."""
        from ..planners import plan
        from ..planning import build_problem

        g = self.graph if data is self.raw else self.load(data, "patched")
        return plan(build_problem(g, g.file_order), strategy).arena_bytes

    def _per_pixel(self, sop) -> int:
        op = self.graph.operators[sop.index]
        m = macs(self.graph, op) or 0
        h, w = self._hw(self.listing.writes[sop.index])
        return m // max(h * w, 1)

    def patch(self, stage: Stage, grid: tuple[int, int], shrink_halo: int = 0):
        """The rewrite as a `rewrite.PatchResult` (bytes and costs)."""
        from . import PatchResult

        if grid[0] > stage.height or grid[1] > stage.width:
            raise BadInput(f"grid {grid[0]}x{grid[1]} is finer than the stage output "
                           f"({stage.height}x{stage.width})")
        r = self.rewrite(stage, grid, shrink_halo)
        data = r.model.SerializeToString()
        return PatchResult(data, tuple(s.index for s in stage.ops), stage.output, grid,
                           self.macs, r.macs_after, len(self.graph.operators), r.ops_after,
                           len(self.raw), len(data))

    def load(self, data: bytes, name: str) -> Graph:
        """A rewritten model (bytes) as infermem's Graph, planned like the original
        (no `source`: it is in memory only)."""
        proto = L.parse_model(data, name)
        return graph_from_model(proto, self._shapes_for(proto), name=self.graph.name)

    def _shapes_for(self, proto: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
        """The user's input shapes, for the inputs the rewrite left symbolic (batch)."""
        left = {vi.name for vi in proto.graph.input
                if any(not isinstance(d, int) for d in (L.input_dims_of(vi) or ()))}
        return {k: v for k, v in self.shapes.items() if k in left}


def _with_external_data(proto: onnx.ModelProto, base: Path | None) -> onnx.ModelProto:
    """The model with its external tensors read in (the rewrite is written whole),
    each location checked to stay inside the model's folder first."""
    from onnx import external_data_helper as X

    external = [t for t in X._get_all_tensors(proto) if X.uses_external_data(t)]
    if not external:
        return proto
    if base is None:
        raise BadInput("the model keeps tensors in external data but no folder was given")
    for t in external:
        L.safe_location(base, {e.key: e.value for e in t.external_data}.get("location", ""),
                        t.name)
    X.load_external_data_for_model(proto, str(base))
    return proto


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror or e}") from None


def _layouts(g: Graph, stage: Stage, arith: list[SpatialOp]) -> dict[str, tuple[int, int]]:
    """The (height, width) axes of every stage tensor: NCHW, except a stage input
    read by a Transpose (its perm says where its height and width are) and
    what element-wise operators compute from it."""
    out: dict[str, tuple[int, int]] = {}
    produced: set[str] = set()
    for sop, a in zip(stage.ops, arith, strict=True):
        op = g.operators[sop.index]
        for t in a.inputs:
            out.setdefault(t, layout_of(g, produced, t, op))
        keeps = op.type not in CONVS | POOLS | {"Transpose"} and a.inputs
        out[a.output] = out[a.inputs[0]] if keeps else NCHW
        produced.add(a.output)
    return out


def _nodes_by_output(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output if o}


PADDING_ATTRS = ("pads", "auto_pad")


def _tile_op(em: _Emitter, patch: Patch, sop, node: onnx.NodeProto, region: Region,
             sizes: dict[str, tuple[int, int]], per_pixel: int) -> None:
    """Emit one stage node for one patch: (Slice,) (Pad,) then the node on the tile."""
    out = next(o for o in node.output if o)
    name = f"patch/{patch.tag}/{out}"
    inputs = list(node.input)
    want = needed(sop.h, sop.w, region)
    for k in sop.spatial:
        src, p = patch.read(inputs[k], want, sizes)
        if p.any:
            src = em.pad(src, p, sop.pad_value, f"{name}/pad{k}")
        inputs[k] = src
    if sop.type == "Pad":  # the tile of a Pad is its padded input tile: no node left
        patch.have[out] = (inputs[0], region)
        return
    new = onnx.NodeProto()
    new.CopyFrom(node)
    del new.input[:], new.output[:]
    new.input.extend(inputs)
    new.output.append(name)
    new.name = name
    if sop.pads_tile:
        kept = [a for a in new.attribute if a.name not in PADDING_ATTRS]
        del new.attribute[:]
        new.attribute.extend(kept)
    em.nodes.append(new)
    em.like(out, region, name)
    em.macs += per_pixel * region.height * region.width
    patch.have[out] = (name, region)


def _assemble(proto: onnx.ModelProto, g: Graph, stage: Stage, arith: list[SpatialOp],
              em: _Emitter) -> onnx.ModelProto:
    """A copy of the model: the stage's nodes out, the patches in their place
    (where the stage's last node was), the index constants as initializers,
    value_info of the removed tensors dropped, the stage inputs' dims fixed
    (a symbolic batch kept)."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    gone = {a.output for a in arith} - {stage.output}
    stage_nodes = {id_ for id_, n in enumerate(m.graph.node)
                   if any(o in {a.output for a in arith} for o in n.output if o)}
    last = max(stage_nodes)
    nodes = [n for i, n in enumerate(m.graph.node) if i not in stage_nodes or i == last]
    at = nodes.index(m.graph.node[last])
    nodes[at:at + 1] = em.nodes
    kept_info = [v for v in m.graph.value_info if v.name not in gone]
    del m.graph.node[:], m.graph.value_info[:]
    m.graph.node.extend(nodes)
    m.graph.value_info.extend(kept_info)
    m.graph.initializer.extend(em.inits)
    if m.ir_version < 4:  # initializers must also be declared as graph inputs
        m.graph.input.extend(helper.make_tensor_value_info(
            t.name, t.data_type, list(t.dims)) for t in em.inits)
    stage_inputs = {t for a in arith for t in a.inputs} - {a.output for a in arith}
    for vi in m.graph.input:
        if vi.name in stage_inputs and vi.name in g.tensors:
            _fix_dims(vi, g.tensors[vi.name].shape)
    return m


def _fix_dims(vi: onnx.ValueInfoProto, shape: tuple[int, ...]) -> None:
    """Every dim but a symbolic batch set to the shape the rewrite was made for."""
    dims = vi.type.tensor_type.shape.dim
    for k, d in enumerate(dims):
        if k == 0 and d.HasField("dim_param"):
            continue
        d.Clear()
        d.dim_value = int(shape[k])
