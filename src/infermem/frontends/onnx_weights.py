"""ONNX weights as read-only views over memory maps: never a second copy.

Profiling a 1.5 GB transformer must not cost 4 GB.  `open_model` parses the
model without its large weight bytes (`onnx_wire`), and `WeightFiles.array`
gives each weight as a read-only numpy view over one `mmap` per file (the
model file for inline `raw_data`, each external-data file for the rest, after
`onnx_load.external_span`'s path and size checks, which read no content).  The
pages are read only when something reads the values (constant folding, the
executor in `verify`, what-ifs); the profile and the plan read shapes only.

One map per file, not a `numpy.memmap` per tensor: each map keeps a file
descriptor open, and a model can have tens of thousands of initializers.
"""

from __future__ import annotations

import mmap
from collections.abc import Set
from pathlib import Path

import numpy as np
import onnx

from ..errors import BadInput
from ..graph import tensor_bytes
from . import onnx_load as L
from .filemap import map_file
from .onnx_wire import MODEL_FILE, FileBytes, Span, WireError, strip_weights

# Element types whose raw_data is one numpy element per item, little-endian:
# anything else (strings, 2/4/6-bit packed types) is decoded by onnx, as before.
_PACKED = frozenset(
    getattr(onnx.TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2",
                                           "FLOAT6E2M3", "FLOAT6E3M2", "STRING")
    if hasattr(onnx.TensorProto, n)
)


class WeightFiles:
    """The files one model's weights live in, each mapped once, on first use.

    `model_path` and `spans` vouch for the tensors `onnx_wire` stripped from
    the model file; a tensor of the file that names `MODEL_FILE` itself at a
    span the stripper did not record is refused like any bad location."""

    def __init__(self, base_dir: Path | None = None, model_path: Path | None = None,
                 spans: Set[Span] = frozenset()):
        self.base_dir, self.model_path, self.spans = base_dir, model_path, spans
        self._maps: dict[Path, mmap.mmap | bytes] = {}

    def array(self, t: onnx.TensorProto) -> np.ndarray:
        """The tensor's values: a read-only view over a map for external (and
        stripped) data, onnx's own decoding for data kept in the model."""
        if t.data_location != onnx.TensorProto.EXTERNAL:
            return L.tensor_to_array(t)
        path, offset, length = self.locate(t)
        return self.view(path, offset, length, t)

    def locate(self, t: onnx.TensorProto) -> tuple[Path, int, int]:
        """(file, offset, length) of an external tensor, checked, nothing read."""
        info = {e.key: e.value for e in t.external_data}
        if info.get("location") == MODEL_FILE and self.model_path is not None:
            span = Span(*(int(info.get(k, "-1")) if info.get(k, "").isdigit() else -1
                          for k in ("offset", "length")))
            if span in self.spans:
                return self.model_path, span.offset, span.length
        if self.base_dir is None:
            raise BadInput("the model keeps tensors in external data but no folder was given")
        return L.external_span(t, self.base_dir)

    def view(self, path: Path, offset: int, length: int, t: onnx.TensorProto) -> np.ndarray:
        if t.HasField("segment"):
            raise BadInput(f"tensor {t.name!r}: unreadable data (segments are not supported)")
        dtype = L.elem_dtype(t.data_type, t.name)
        dims = tuple(t.dims)
        if t.data_type in _PACKED or dtype == "object":
            return self.decoded(path, offset, length, t)
        need = tensor_bytes(dims, dtype, t.name)
        if length != need:
            raise BadInput(
                f"tensor {t.name!r}: its data holds {length} bytes, its dims {list(dims)} "
                f"of {dtype} need {need}")
        if need == 0:
            return np.zeros(dims, dtype)
        mm = self.map(path)
        if offset + length > len(mm):  # the file shrank since it was checked
            raise BadInput(f"tensor {t.name!r}: {path.name} ends before its data")
        little = np.dtype(dtype).newbyteorder("<")
        return np.frombuffer(mm, little, need // little.itemsize, offset).reshape(dims)

    def decoded(self, path: Path, offset: int, length: int, t: onnx.TensorProto) -> np.ndarray:
        """Types numpy cannot view byte for byte: onnx decodes a copy (small, rare)."""
        copy = onnx.TensorProto()
        copy.CopyFrom(t)
        self.read_in(copy, path, offset, length)
        return L.tensor_to_array(copy)

    def map(self, path: Path) -> mmap.mmap | bytes:
        if path not in self._maps:
            try:
                self._maps[path] = map_file(path)
            except (OSError, ValueError) as e:
                raise BadInput(f"{path.name}: cannot map ({L.one_line(e)})") from None
        return self._maps[path]

    def inline(self, t: onnx.TensorProto) -> None:
        """Read an external tensor's bytes into the proto (for the few tensors
        that stay protobuf: node attributes other than a folded Constant's)."""
        path, offset, length = self.locate(t)
        self.view(path, offset, length, t)  # the checks a weight gets
        self.read_in(t, path, offset, length)

    def read_in(self, t: onnx.TensorProto, path: Path, offset: int, length: int) -> None:
        data = self.map(path)[offset:offset + length]
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
        t.raw_data = data


def open_model(path: Path) -> tuple[onnx.ModelProto, WeightFiles]:
    """The model at `path` without its large weights, and where they are.

    A file the wire reader does not follow is parsed whole, as `onnx.load`
    would, so a corrupt file gets protobuf's own refusal."""
    try:
        with open(path, "rb") as f:
            try:
                stripped = strip_weights(FileBytes(f))
            except WireError:
                f.seek(0)
                return L.parse_model(f.read(), str(path)), WeightFiles(path.parent)
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror or e})") from None
    return L.parse_model(stripped.data, str(path)), WeightFiles(path.parent, path, stripped.spans)


def mapped_constants(graph: onnx.GraphProto, weights: WeightFiles,
                     keep: Set[str]) -> dict[str, np.ndarray]:
    """Values of the Constant nodes whose tensor lives outside the proto
    (stripped, or external data), by output name, as maps; not those whose
    node must stay (they write a graph output)."""
    return {node.output[0]: weights.array(node.attribute[0].t)
            for node in graph.node if external_constant(node) and node.output[0] not in keep}


def external_constant(node: onnx.NodeProto) -> bool:
    return (node.op_type == "Constant" and node.domain in L.DEFAULT_DOMAINS
            and len(node.attribute) == 1 and node.attribute[0].name == "value"
            and node.attribute[0].type == onnx.AttributeProto.TENSOR
            and node.attribute[0].t.data_location == onnx.TensorProto.EXTERNAL
            and len(node.output) == 1 and bool(node.output[0]))


def read_in_attributes(model: onnx.ModelProto, weights: WeightFiles,
                       mapped: Set[str]) -> onnx.ModelProto:
    """The model with every attribute tensor outside the proto read in, except
    the `mapped` Constants' (a copy when there is any: the caller's proto is
    not modified).  Rare: a graph output written by a large Constant."""
    def external(model: onnx.ModelProto):
        for node in model.graph.node:
            if external_constant(node) and node.output[0] in mapped:
                continue
            for a in node.attribute:
                for t in [a.t] if a.type == onnx.AttributeProto.TENSOR else a.tensors:
                    if t.data_location == onnx.TensorProto.EXTERNAL:
                        yield t

    if next(external(model), None) is None:
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for t in external(copy):
        weights.inline(t)
    return copy


def initializer_weights(graph: onnx.GraphProto, weights: WeightFiles) -> dict[str, np.ndarray]:
    return {t.name: weights.array(t) for t in graph.initializer}
