"""TFLite frontend: a .tflite file -> Graph, counted the way TFLite Micro runs it.

Subgraph 0 is the model.  Every tensor keeps its file index (offline plans
are written back by index).  A tensor whose buffer holds bytes is a WEIGHT
(data: a zero-copy view over the file); every other tensor lives in the arena:
TFLM gives each non-constant tensor its own arena bytes, RESHAPE included, so
this frontend makes no aliases.  Variable tensors (`is_variable`) are
ACTIVATIONs here and listed in `graph.meta["variables"]`: TFLM keeps them
persistent (in the arena's tail), so a planner that places them in the head
must keep them live for the whole run.

Operator `type` is the BuiltinOperator name ("CONV_2D", "ADD", ...) or
"CUSTOM:<code>"; `attrs` are the builtin options (see tflite_options), plus
`intermediates` (tensor names) when an operator has any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from ..graph import Graph, Operator, Quant, Role, Tensor, tensor_bytes
from .filemap import map_file
from .tflite_attrs import check_options
from .tflite_flatbuffer import FbModel, FbTensor, parse
from .tflite_flatbuffer import read_model as _read_model_bytes
from .tflite_options import OPERATOR_NAMES, TENSOR_TYPE_NAMES, options_dict

DTYPES = {
    "FLOAT32": "float32",
    "FLOAT16": "float16",
    "FLOAT64": "float64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "BOOL": "bool",
    "COMPLEX64": "complex64",
    "COMPLEX128": "complex128",
}

# Operators that run other subgraphs: their memory is not one arena schedule.
CONTROL_FLOW = frozenset(
    {
        "WHILE",
        "IF",
        "CALL",
        "CALL_ONCE",
        "STABLEHLO_WHILE",
        "STABLEHLO_CASE",
        "STABLEHLO_COMPOSITE",
        "STABLEHLO_REDUCE",
        "STABLEHLO_REDUCE_WINDOW",
        "STABLEHLO_SORT",
        "STABLEHLO_SCATTER",
    }
)

OFFLINE_PLAN_METADATA = "OfflineMemoryAllocation"


def read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})") from None


def map_bytes(path: Path):
    """The file as a read-only map: the parse reads the flatbuffer's tables and
    the weights stay views over the file, read only when a kernel needs them."""
    try:
        return map_file(Path(path))
    except (OSError, ValueError) as e:
        raise BadInput(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None


def read_model(path: str | Path):
    """The model as tflite-micro's schema object tree (`schema_fb.ModelT`),
    checked first by the guarded walk.  For writers (TFLM offline plans) that
    change a copy; the file itself is never touched."""
    path = Path(path)
    return _read_model_bytes(read_bytes(path), str(path))


def _dtype(t: FbTensor, source: str) -> str:
    name = TENSOR_TYPE_NAMES.get(t.type, f"type code {t.type}")
    if name not in DTYPES:
        raise BadInput(f"{source}: tensor {t.index} ({t.name!r}) has type {name}, not supported")
    return DTYPES[name]


def unique_names(tensors: Sequence[FbTensor]) -> list[str]:
    """The file's names, made unique: an empty or repeated name gets '#<index>'."""
    taken: set[str] = set()
    out = []
    for t in tensors:
        name = t.name if t.name and t.name not in taken else f"{t.name or 'tensor'}#{t.index}"
        while name in taken:
            name += f"#{t.index}"
        taken.add(name)
        out.append(name)
    return out


def _check_indices(fb: FbModel, source: str) -> None:
    n_t, n_c = len(fb.tensors), len(fb.opcodes)
    writer: dict[int, int] = {}
    for op in fb.operators:
        if not 0 <= op.opcode_index < n_c:
            raise BadInput(
                f"{source}: operator {op.index} uses opcode {op.opcode_index}, "
                f"but the model has {n_c} operator codes"
            )
        for i in (*op.inputs, *op.outputs, *op.intermediates):
            if not -1 <= i < n_t:
                raise BadInput(
                    f"{source}: operator {op.index} refers to tensor {i}, "
                    f"but subgraph 0 has {n_t} tensors"
                )
        if -1 in op.outputs:
            raise BadInput(f"{source}: operator {op.index} has an absent (-1) output")
        for i in op.outputs:
            if writer.setdefault(i, op.index) != op.index:
                raise BadInput(
                    f"{source}: tensor {i} is written by operators {writer[i]} and {op.index}"
                )
    for kind, idx in (("input", fb.inputs), ("output", fb.outputs)):
        for i in idx:
            if not 0 <= i < n_t:
                raise BadInput(f"{source}: graph {kind} {i} is not one of {n_t} tensors")
    for t in fb.tensors:
        if not 0 <= t.buffer < len(fb.buffers):
            raise BadInput(
                f"{source}: tensor {t.index} uses buffer {t.buffer}, "
                f"but the model has {len(fb.buffers)} buffers"
            )


def _op_type(fb: FbModel, opcode_index: int, op_index: int, source: str) -> str:
    code = fb.opcodes[opcode_index]
    name = OPERATOR_NAMES.get(code.builtin_code)
    if name is None:
        raise BadInput(
            f"{source}: operator {op_index} has builtin code {code.builtin_code}, "
            f"unknown to the TFLite schema infermem reads"
        )
    return f"CUSTOM:{code.custom_code}" if name == "CUSTOM" else name


def _resolved_shapes(
    fb: FbModel, names: Sequence[str], input_shapes: Mapping[str, tuple[int, ...]], source: str
) -> tuple[list[tuple[int, ...]], int, tuple[dict, ...]]:
    """Each tensor's concrete shape, the batch factor applied, and the inputs
    whose dynamic dims (-1 in the shape signature) took the stored shape.

    The stored shape is what TFLM and LiteRT allocate when nobody resizes the
    input, so it is the default; a dynamic batch is scaled to the batch the
    user asked for with --input-shape."""
    inputs = {names[i]: fb.tensors[i] for i in fb.inputs}
    unknown = sorted(set(input_shapes) - set(inputs))
    if unknown:
        raise BadInput(
            f"{source}: --input-shape names {', '.join(map(repr, unknown))}, "
            f"not an input; the inputs are {', '.join(map(repr, inputs))}"
        )
    batch = None
    resolved = []
    for name, t in inputs.items():
        if name not in input_shapes and dynamic_dims(t):
            resolved.append(stored_shape_default(name, t, source))
            continue
        b = input_batch(name, t, input_shapes.get(name), source)
        if b is not None and batch is not None and b != batch:
            raise BadInput(f"{source}: inputs ask for different batch sizes ({batch} and {b})")
        batch = b if b is not None else batch
    if batch is None or batch == 1:
        return [t.shape for t in fb.tensors], 1, tuple(resolved)
    if resolved:
        raise BadInput(
            f"{source}: --input-shape changes the batch of some inputs to {batch}; give "
            f"the other dynamic input(s) {', '.join(repr(r['tensor']) for r in resolved)} "
            f"a shape too"
        )
    ins = set(fb.inputs)
    shapes = [_scaled(t, ins, names[t.index], batch, source) for t in fb.tensors]
    for name, t in inputs.items():
        shapes[t.index] = tuple(int(d) for d in input_shapes.get(name, t.shape))
    return shapes, batch, ()


def dynamic_dims(t: FbTensor) -> list[int]:
    return [k for k, d in enumerate(t.shape_signature or ()) if d == -1]


def stored_shape_default(name: str, t: FbTensor, source: str) -> dict:
    """The stored shape of an input whose signature has -1s, as a JSON-ready
    record; BadInput when the file stores no concrete shape either."""
    dynamic = dynamic_dims(t)
    if any(d <= 0 for d in t.shape):
        fill = "x".join(str(d) if s != -1 else ("1" if k == 0 else f"D{k}")
                        for k, (d, s) in enumerate(zip(t.shape, t.shape_signature, strict=True)))
        raise BadInput(
            f"{source}: input {name!r} has dynamic dimension(s) {dynamic} (shape signature "
            f"{list(t.shape_signature)}) and no concrete stored shape {list(t.shape)}; give "
            f"its shape with --input-shape {name}={fill} (fill in each D)"
        )
    return {"tensor": name, "signature": list(t.shape_signature), "shape": list(t.shape),
            "dims": dynamic}


def shape_note(resolved: Sequence[Mapping]) -> str | None:
    """The one line that says the stored shapes were used for dynamic dims."""
    if not resolved:
        return None
    parts = "; ".join(f"{r['tensor']!r} {r['signature']} -> {r['shape']}" for r in resolved)
    return (f"dynamic dims resolved to the stored shape (what TFLM and LiteRT allocate): "
            f"{parts}; use --input-shape to plan another batch")


def input_batch(name: str, t: FbTensor, wanted: tuple[int, ...] | None, source: str) -> int | None:
    """The batch an input's requested shape asks for (None: keep the stored one)."""
    sig = t.shape_signature or t.shape
    if wanted is None:
        return None
    wanted = tuple(int(d) for d in wanted)
    if len(wanted) != len(sig):
        raise BadInput(
            f"{source}: input {name!r} has rank {len(sig)}, --input-shape gives {list(wanted)}"
        )
    for k, (w, s, stored) in enumerate(zip(wanted, sig, t.shape, strict=True)):
        if w < 1:
            raise BadInput(f"{source}: --input-shape {name}: dimension {k} must be >= 1")
        if s != -1 and w != s:
            raise BadInput(
                f"{source}: input {name!r} dimension {k} is fixed at {s} in the model, "
                f"--input-shape asks for {w}"
            )
        if s == -1 and k > 0 and w != stored:
            raise BadInput(
                f"{source}: input {name!r} dimension {k}: re-shaping a .tflite beyond its "
                f"stored shape {list(t.shape)} needs shape propagation, not supported "
                f"(only the batch dimension 0 may change)"
            )
    if sig and sig[0] == -1 and wanted[0] != t.shape[0]:
        if t.shape[0] != 1:
            raise BadInput(
                f"{source}: input {name!r} is stored with batch {t.shape[0]}; changing the "
                f"batch is supported only from a stored batch of 1"
            )
        return wanted[0]
    return None


def _scaled(t: FbTensor, inputs: set[int], name: str, batch: int, source: str) -> tuple[int, ...]:
    """A tensor's shape at `batch`: dim 0 scales where the signature says -1.
    The stored shapes are the converter's, computed at batch 1; TFLite kernels
    are linear in a leading batch, so stored dim 0 times the batch is exact.
    A -1 anywhere else could hide the batch (a transpose) and needs real shape
    propagation, which this frontend does not do.  Inputs take the user's shape."""
    sig = t.shape_signature
    if not sig or -1 not in sig or t.index in inputs:
        return t.shape
    if any(d == -1 for d in sig[1:]):
        raise BadInput(
            f"{source}: tensor {name!r} has dynamic dimensions {list(sig)} beyond the batch; "
            f"re-shaping a .tflite needs shape propagation, not supported"
        )
    return (t.shape[0] * batch, *t.shape[1:])


def _quant(t: FbTensor, rank: int) -> Quant | None:
    q = t.quant
    if q is None:
        return None
    per_axis = len(q.scale) > 1
    axis = q.quantized_dimension if per_axis and 0 <= q.quantized_dimension < rank else None
    return Quant(q.scale, q.zero_point, axis)


def _weight_data(
    t: FbTensor, raw: np.ndarray, name: str, shape: tuple[int, ...], dtype: str, source: str
) -> np.ndarray:
    if t.sparse:
        raise BadInput(f"{source}: tensor {name!r} is sparse (densify), not supported")
    need = tensor_bytes(shape, dtype, name)
    if raw.nbytes != need:
        raise BadInput(
            f"{source}: constant tensor {name!r} (index {t.index}) holds {raw.nbytes} bytes, "
            f"its shape {list(shape)} of {dtype} needs {need}"
        )
    return raw.view(np.dtype(dtype).newbyteorder("<")).reshape(shape)


def _roles(fb: FbModel, source: str) -> list[Role]:
    ins, outs = set(fb.inputs), set(fb.outputs)
    written = {i for op in fb.operators for i in op.outputs}
    roles = []
    for t in fb.tensors:
        if t.external:
            raise BadInput(f"{source}: tensor {t.index} keeps its data in an external file")
        constant = fb.buffers[t.buffer] is not None and not t.is_variable
        if constant and (t.index in ins or t.index in written):
            what = "a graph input" if t.index in ins else "written by an operator"
            raise BadInput(f"{source}: tensor {t.index} has constant data but is {what}")
        if constant:
            roles.append(Role.WEIGHT)
        elif t.index in ins:
            roles.append(Role.INPUT)
        elif t.index in outs:
            roles.append(Role.OUTPUT)
        else:
            roles.append(Role.ACTIVATION)
    return roles


def _op_types(fb: FbModel, source: str) -> list[str]:
    kinds = [_op_type(fb, op.opcode_index, op.index, source) for op in fb.operators]
    for i, kind in enumerate(kinds):
        if kind in CONTROL_FLOW:
            raise BadInput(f"{source}: not supported: control flow in operator {i} ({kind})")
    return kinds


def _operators(fb: FbModel, kinds: Sequence[str], names: Sequence[str]) -> tuple[Operator, ...]:
    ops = []
    for op, kind in zip(fb.operators, kinds, strict=True):
        attrs: dict[str, Any] = {**options_dict(op.options), **options_dict(op.options2)}
        if op.intermediates:
            attrs["intermediates"] = tuple(names[i] for i in op.intermediates if i >= 0)
        ops.append(
            Operator(
                index=op.index,
                type=kind,
                inputs=tuple(names[i] if i >= 0 else "" for i in op.inputs),
                outputs=tuple(names[i] for i in op.outputs),
                attrs=attrs,
            )
        )
    return tuple(ops)


def _meta(fb: FbModel, names: Sequence[str], roles: Sequence[Role], batch: int,
          resolved: Sequence[dict]) -> dict:
    """What else a report needs: constant bytes as stored (a buffer shared by
    several tensors counted once), variables, metadata names, an offline plan."""
    used = {fb.tensors[i].buffer for i, r in enumerate(roles) if r is Role.WEIGHT}
    meta: dict[str, Any] = {
        "version": fb.version,
        "description": fb.description,
        "subgraphs": fb.n_subgraphs,
        "variables": tuple(names[t.index] for t in fb.tensors if t.is_variable),
        "weight_buffer_bytes": sum(fb.buffers[b].nbytes for b in used),
        "metadata": tuple(name for name, _ in fb.metadata),
        "batch": batch,
        "dynamic_dims_resolved": tuple(resolved),
        "shape_notes": tuple(n for n in [shape_note(resolved)] if n),
    }
    for name, b in fb.metadata:
        raw = fb.buffers[b] if 0 <= b < len(fb.buffers) else None
        if name == OFFLINE_PLAN_METADATA and raw is not None and raw.nbytes % 4 == 0:
            meta["offline_memory_allocation"] = tuple(raw.view("<i4").tolist())
    return meta


def graph_from_flatbuffer(
    fb: FbModel, source: str, input_shapes: Mapping[str, tuple[int, ...]], name: str
) -> Graph:
    """The Graph of an already-walked model (see load_tflite)."""
    _check_indices(fb, source)
    kinds = _op_types(fb, source)
    names = unique_names(fb.tensors)
    dtypes = [_dtype(t, source) for t in fb.tensors]
    shapes, batch, resolved = _resolved_shapes(fb, names, input_shapes, source)
    for n, s, d in zip(names, shapes, dtypes, strict=True):
        tensor_bytes(s, d, n)  # refuse absurd shapes before anything is built
    roles = _roles(fb, source)
    operators = _operators(fb, kinds, names)
    check_options(kinds, [op.attrs for op in operators], source,
                  [[shapes[i] if i >= 0 else None for i in op.inputs] for op in fb.operators])
    tensors = {}
    for t, n, s, d, r in zip(fb.tensors, names, shapes, dtypes, roles, strict=True):
        raw = fb.buffers[t.buffer]
        data = _weight_data(t, raw, n, s, d, source) if r is Role.WEIGHT else None
        tensors[n] = Tensor(n, s, d, r, index=t.index, quant=_quant(t, len(s)), data=data)
    return Graph(
        name=name,
        format="tflite",
        tensors=tensors,
        operators=operators,
        inputs=tuple(names[i] for i in fb.inputs),
        outputs=tuple(names[i] for i in fb.outputs),
        source=source,
        meta=_meta(fb, names, roles, batch, resolved),
    )


def load_tflite(path: Path, input_shapes: Mapping[str, tuple[int, ...]]) -> Graph:
    """Read a .tflite file into a Graph (subgraph 0; BadInput on anything malformed)."""
    path = Path(path)
    fb = parse(map_bytes(path), str(path))
    return graph_from_flatbuffer(fb, str(path), input_shapes or {}, path.stem)


def load_tflite_bytes(data: bytes, source: str, name: str,
                      input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    """A .tflite held in memory (a rewrite never written to disk) as a Graph;
    `source` names it in messages, and `meta["source_bytes"]` holds the bytes
    for the readers that would otherwise open the file (TFLM's problem)."""
    graph = graph_from_flatbuffer(parse(data, source), source, input_shapes or {}, name)
    return replace(graph, meta={**graph.meta, "source_bytes": data})
