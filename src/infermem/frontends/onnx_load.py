"""Untrusted bytes -> a checked `onnx.ModelProto`, before any shape work.

Everything here is about refusing what we cannot honestly count: bytes that
are not a model, external data that points outside the model's folder,
control flow (its memory depends on the data), graph inputs whose shape is
not fixed, and tensors too large to be real.  Each refusal is a `BadInput`
one-liner; nothing here opens a file the user did not hand us.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import BadInput
from ..graph import tensor_bytes

DEFAULT_DOMAINS = ("", "ai.onnx")


def parse_model(data: bytes, where: str) -> onnx.ModelProto:
    """Protobuf bytes -> ModelProto, or BadInput if they are not an ONNX model."""
    if not data:
        raise BadInput(f"{where}: not a valid ONNX model (empty file)")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError, or a RuntimeWarning turned error
        raise BadInput(f"{where}: not a valid ONNX model ({one_line(e)})") from None
    check_skeleton(model, where)
    return model


def one_line(e: BaseException, limit: int = 200) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_skeleton(model: onnx.ModelProto, where: str) -> None:
    """Random bytes can parse as a ModelProto full of unknown fields: demand the
    parts every real model has."""
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise BadInput(f"{where}: not a valid ONNX model (no IR version or no graph)")
    if not model.graph.output:
        raise BadInput(f"{where}: not a valid ONNX model (the graph has no outputs)")
    for i, node in enumerate(model.graph.node):
        if not node.op_type:
            raise BadInput(f"{where}: not a valid ONNX model (node {i} has no op_type)")


def describe(node: onnx.NodeProto, index: int) -> str:
    """How error messages name a node: its name if it has one, else its position."""
    label = repr(node.name) if node.name else f"#{index}"
    return f"{label} ({op_name(node)})"


def op_name(node: onnx.NodeProto) -> str:
    """ONNX op_type, prefixed by its domain ('domain::OpType') outside the default one."""
    if node.domain in DEFAULT_DOMAINS:
        return node.op_type
    return f"{node.domain}::{node.op_type}"


def check_no_control_flow(graph: onnx.GraphProto) -> None:
    """If/Loop/Scan (any node carrying a subgraph) run data-dependent code: refuse."""
    graph_kinds = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
    for i, node in enumerate(graph.node):
        if node.attribute and any(a.type in graph_kinds for a in node.attribute):
            raise BadInput(f"not supported: control flow in node {describe(node, i)}")


def check_operators_known(graph: onnx.GraphProto, opset: int) -> None:
    """An operator ONNX does not define in the default domain is a typo or a
    custom op we cannot infer shapes for: name it instead of failing later."""
    checked: set[str] = set()  # each operator type once: a 30,000-node chain has one
    for i, node in enumerate(graph.node):
        if node.domain not in DEFAULT_DOMAINS or node.op_type in checked:
            continue
        checked.add(node.op_type)
        try:
            known = onnx.defs.has(node.op_type)
        except TypeError:  # an op_type pybind cannot pass on (undecodable bytes)
            raise BadInput(f"node #{i} has an unreadable op_type {node.op_type!r}") from None
        if not known:
            raise BadInput(f"unknown operator {node.op_type!r} in node {describe(node, i)}")
        try:
            onnx.defs.get_schema(node.op_type, opset, "")
        except onnx.defs.SchemaError:
            raise BadInput(
                f"operator {node.op_type!r} in node {describe(node, i)} "
                f"does not exist in opset {opset}"
            ) from None


def run_checker(model: onnx.ModelProto) -> None:
    """onnx.checker on the (weight-free) skeleton: dangling names, bad attributes,
    unsorted nodes, duplicate outputs.  The checker insists that graph inputs and
    outputs declare a shape, which real exporters (and runtimes) do not: give
    the checker's copy an empty one; shape inference never sees it."""
    model_copy = onnx.ModelProto()
    model_copy.CopyFrom(model)
    for v in (*model_copy.graph.input, *model_copy.graph.output):
        if v.type.HasField("tensor_type") and not v.type.tensor_type.HasField("shape"):
            v.type.tensor_type.shape.SetInParent()
    try:
        onnx.checker.check_model(model_copy)
    except Exception as e:
        raise BadInput(f"not a valid ONNX model ({one_line(e)})") from None


def default_opset(model: onnx.ModelProto) -> int:
    for o in model.opset_import:
        if o.domain in DEFAULT_DOMAINS:
            return int(o.version)
    raise BadInput("the model imports no version of the default ONNX operator set")


# --- external data -------------------------------------------------------------------


def safe_location(base_dir: Path, location: str, tensor: str) -> Path:
    """The file an external-data `location` names, only if it stays inside
    `base_dir`.  Pure path arithmetic: the file is not opened here."""
    bad = (
        not location
        or "\x00" in location
        or os.path.isabs(location)
        or location.startswith(("/", "\\"))
        or (len(location) > 1 and location[1] == ":")
    )
    if bad:
        raise BadInput(f"external data of tensor {tensor!r}: location {location!r} is not allowed")
    root = Path(os.path.realpath(base_dir))
    target = Path(os.path.realpath(root / location))
    if target != root and root not in target.parents:
        raise BadInput(
            f"external data of tensor {tensor!r}: location {location!r} "
            f"points outside the model's folder"
        )
    if not target.is_file():
        raise BadInput(f"external data of tensor {tensor!r}: {location!r} is not a file")
    return target


def external_span(t: onnx.TensorProto, base_dir: Path) -> tuple[Path, int, int]:
    """(file, offset, length) of an external tensor's bytes, after checking the
    file stays in the model's folder and holds that many bytes at that offset:
    `os.stat` only, the content is not read here."""
    info = {e.key: e.value for e in t.external_data}
    path = safe_location(base_dir, info.get("location", ""), t.name)
    want = tensor_bytes(tuple(t.dims), elem_dtype(t.data_type, t.name), t.name)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info.get("length", str(want)))
    except ValueError:
        raise BadInput(f"external data of tensor {t.name!r}: bad offset or length") from None
    size = path.stat().st_size
    if offset < 0 or length != want or offset + length > size:
        raise BadInput(
            f"external data of tensor {t.name!r}: needs {want} bytes at offset {offset} "
            f"of {path.name} ({size} bytes), the model says {length}"
        )
    return path, offset, length


def tensor_to_array(t: onnx.TensorProto) -> np.ndarray:
    """TensorProto -> ndarray, checking the claimed size before numpy allocates it."""
    tensor_bytes(tuple(t.dims), elem_dtype(t.data_type, t.name), t.name)
    try:
        return numpy_helper.to_array(t)
    except Exception as e:
        raise BadInput(f"tensor {t.name!r}: unreadable data ({one_line(e)})") from None


# --- graph inputs ---------------------------------------------------------------------


def dims_of(vi: onnx.ValueInfoProto) -> tuple[int | str, ...] | None:
    """Dims as ints, dim_param names, or '?' for unknown; None if no shape at all."""
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return tuple(
        int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in tt.shape.dim
    )


def input_dims_of(vi: onnx.ValueInfoProto) -> tuple[int | str, ...] | None:
    """A graph input's dims, a negative `dim_value` counted as symbolic: Paddle
    writes -1 for "any size".  0 stays a real, empty dimension: ONNX allows
    empty tensors and its backend tests feed them (CastLike's type carrier,
    reductions over an empty set)."""
    dims = dims_of(vi)
    if dims is None:
        return None
    return tuple(d if not isinstance(d, int) or d >= 0 else "?" for d in dims)


class DynamicInputs(BadInput):
    """Graph inputs with symbolic dims and no --input-shape: (name, dims) pairs,
    so the caller can suggest shapes from the whole model."""

    def __init__(self, dynamic: list[tuple[str, tuple[int | str, ...] | None]]) -> None:
        self.dynamic = dynamic
        super().__init__("dynamic input shape: " + "; ".join(dynamic_hint(n, d)
                                                           for n, d in dynamic))


def fix_input_shapes(
    inputs: Sequence[onnx.ValueInfoProto], input_shapes: Mapping[str, Sequence[int]]
) -> list[onnx.ValueInfoProto]:
    """Graph inputs with the user's shapes applied; BadInput for unknown names,
    wrong ranks, conflicts with static dims, and dynamic dims left uncovered."""
    by_name = {vi.name: vi for vi in inputs}
    for name in input_shapes:
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise BadInput(f"--input-shape names {name!r}, not an input of the model ({known})")
    out, dynamic = [], []
    for vi in inputs:
        if not vi.type.HasField("tensor_type"):
            raise BadInput(f"not supported: graph input {vi.name!r} is not a tensor")
        dims = input_dims_of(vi)
        if vi.name in input_shapes:
            out.append(with_shape(vi, dims, tuple(input_shapes[vi.name])))
            continue
        if dims is None or any(not isinstance(d, int) for d in dims):
            dynamic.append((vi.name, dims))
        out.append(vi)
    if dynamic:
        raise DynamicInputs(dynamic)
    for vi in out:  # absurd dims are refused before C++ inference multiplies them
        tensor_bytes(dims_of(vi) or (), elem_dtype(vi.type.tensor_type.elem_type, vi.name), vi.name)
    return out


def elem_dtype(elem_type: int, name: str) -> str:
    """ONNX element type -> numpy dtype name ('float32', 'int8', ...)."""
    try:
        return _dtype_name(elem_type)
    except Exception:
        raise BadInput(f"tensor {name!r} has no usable element type ({elem_type})") from None


@functools.lru_cache(maxsize=64)
def _dtype_name(elem_type: int) -> str:
    """Cached: a 30,000-node model asks 60,000 times for the same few types."""
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name


def dynamic_hint(name: str, dims: tuple[int | str, ...] | None,
                 implied: Mapping[int, int] | None = None) -> str:
    """How to fix an input's shape: its fixed dims kept, a leading symbolic
    (batch) dim as 1, the sizes the model implies (`implied`: axis -> size),
    and every other symbolic dim as a name to fill in, never a made-up size."""
    if dims is None:
        return f"{name} has no shape; pass --input-shape {name}=DxDx... (one size per dim)"
    implied = implied or {}
    parts, blanks = [], []
    for k, d in enumerate(dims):
        if isinstance(d, int):
            parts.append(str(d))
        elif k in implied:
            parts.append(str(implied[k]))
        elif k == 0:
            parts.append("1")
        else:
            blank = dim_name(d, k, {*blanks})
            blanks.append(blank)
            parts.append(blank)
    text = f"{name} has dims {dims}; pass --input-shape {name}={'x'.join(parts)}"
    if implied:
        text += " (the size the model's own shapes or metadata fix)"
    if blanks:
        text += f" with {', '.join(blanks)} filled in (nothing in the model fixes them)"
    return text


def dim_name(d: str, k: int, taken: set[str]) -> str:
    """An upper-case placeholder for a symbolic dim: its dim_param when that is
    a plain word (HEIGHT), else D<axis>."""
    word = d.upper() if d.isidentifier() and not d.lower().startswith("unk") else f"D{k}"
    return word if word not in taken and "X" not in word else f"D{k}"


def with_shape(
    vi: onnx.ValueInfoProto, dims: tuple[int | str, ...] | None, shape: tuple[int, ...]
) -> onnx.ValueInfoProto:
    # 0 only for a decoder's past key/values (an empty cache: the prefill;
    # kvcache.PAST names them all "past..."); a fixed dim must match below
    least = 0 if vi.name.lower().startswith("past") else 1
    if any(not isinstance(d, (int, np.integer)) or d < least for d in shape):
        raise BadInput(f"--input-shape {vi.name}: dimensions must be positive, got {shape}")
    if dims is not None and len(dims) != len(shape):
        raise BadInput(
            f"--input-shape {vi.name}: rank {len(shape)} {shape} does not match the "
            f"model's rank {len(dims)} {dims}"
        )
    for axis, (have, want) in enumerate(zip(dims or (), shape, strict=False)):
        if isinstance(have, int) and have != want:
            raise BadInput(
                f"--input-shape {vi.name}: the model fixes dim {axis} to {have}, not {want} "
                f"(model dims {dims})"
            )
    new = onnx.ValueInfoProto()
    new.CopyFrom(vi)
    shape_proto = new.type.tensor_type.shape
    shape_proto.ClearField("dim")
    for d in shape:
        shape_proto.dim.add().dim_value = int(d)
    return new
