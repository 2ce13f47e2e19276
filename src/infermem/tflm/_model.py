"""A `.tflite` file as TFLite Micro's allocator sees it.

TFLM plans every tensor of every subgraph by its index in the file, sizes it
from the file's own shape (product of dims times the element size of
`TfLiteTypeSizeOf`), and leaves out of the plan the tensors that have data in
the file (constants), variable tensors (persistent) and zero-sized ones.  This
module derives exactly those facts, so that the planning problem built from
it is TFLM's and not the frontend's interpretation of the graph.  The bytes
are read once, by the frontend's guarded walk (`tflite_flatbuffer.parse`):
every vector length is checked and the work is bounded, so a hostile file is
a BadInput, never a hang; only the sizing rules here are TFLM's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from ..frontends.tflite_flatbuffer import (
    FbModel,
    FbOpcode,
    FbOperator,
    FbSubgraph,
    FbTensor,
    parse,
    schema_fb,
)
from ..frontends.tflite_options import OPERATOR_NAMES, TENSOR_TYPE_NAMES

OFFLINE_PLAN_NAME = "OfflineMemoryAllocation"

# TfLiteTypeSizeOf in tensorflow/lite/micro/memory_helpers.cc; other types are refused.
_TYPE_BYTES = {
    "FLOAT16": 2, "FLOAT32": 4, "FLOAT64": 8, "INT16": 2, "INT32": 4, "UINT32": 4,
    "UINT8": 1, "INT8": 1, "INT64": 8, "UINT64": 8, "BOOL": 1, "RESOURCE": 4,
    "COMPLEX64": 8, "COMPLEX128": 16, "INT4": 1, "BFLOAT16": 2, "UINT16": 2,
}  # fmt: skip


def schema():
    """The flatbuffer schema module that ships with tflite-micro (the guarded
    walk's own), for writers that pack a changed copy of a model."""
    return schema_fb


@dataclass(frozen=True)
class TflmTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    type: str  # TensorType name: 'INT8', 'FLOAT32', ...
    nbytes: int  # TfLiteEvalTensorByteLength
    constant: bool  # has data in the file
    variable: bool

    @property
    def planned(self) -> bool:
        """Does TFLM place this tensor in the arena head (`needs_allocating`)?"""
        return not self.constant and not self.variable and self.nbytes != 0


@dataclass(frozen=True)
class TflmOp:
    index: int
    type: str  # BuiltinOperator name
    inputs: tuple[int, ...]  # -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: Any = None  # the builtin options object (lazy flatbuffer view)


@dataclass(frozen=True)
class TflmSubgraph:
    tensors: tuple[TflmTensor, ...]
    ops: tuple[TflmOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TflmModel:
    path: str
    subgraphs: tuple[TflmSubgraph, ...]
    offline_plan: tuple[int, ...] | None  # offsets of an existing OfflineMemoryAllocation

    @property
    def main(self) -> TflmSubgraph:
        return self.subgraphs[0]

    @cached_property
    def tensor_count(self) -> int:
        """TFLM's `info_.tensor_count`: tensors of all subgraphs together."""
        return sum(len(sg.tensors) for sg in self.subgraphs)


def read_model(path: str | Path) -> TflmModel:
    """Parse `path` into TFLM's view; any malformed or hostile file is BadInput,
    never a traceback or a hang.  Every path into TFLM (measure, verify,
    optimize, fit, report, the DMO prober) starts here, so a model `profile`
    refuses (see `check_loadable`) never reaches TFLM's interpreter."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror or e}") from None
    return model_from_bytes(data, str(path))


def model_from_bytes(data: bytes, source: str) -> TflmModel:
    """TFLM's view of a model held in memory (e.g. one about to be written)."""
    return _view(source, check_loadable(data, source))


def check_loadable(data: bytes, source: str) -> FbModel:
    """Refuse, as BadInput, what `infermem profile` refuses: control flow, an
    unknown builtin, an operator reading a tensor before (or as) it is written,
    absurd or inconsistent tensors, constants shorter than their shape.  TFLM's
    own checks are weaker (it runs a self-cycle, crashes or allocates for hours
    on the rest), so this runs before any file is handed to a TFLM child.
    Inputs keep their stored shapes, as TFLM runs them."""
    from ..frontends.tflite import graph_from_flatbuffer, unique_names

    fb = parse(data, source)
    names = unique_names(fb.tensors)
    stored = {names[i]: fb.tensors[i].shape for i in fb.inputs if 0 <= i < len(names)}
    graph = graph_from_flatbuffer(fb, source, stored, Path(source).stem)
    _ = graph.file_order  # checked: every operator after the writers of its inputs
    return fb


def _view(path: str, fb: FbModel) -> TflmModel:
    if fb.appended_buffers:
        raise BadInput(f"{path}: buffers stored outside the flatbuffer are not supported")
    opcodes = tuple(_op_name(c) for c in fb.opcodes)
    subgraphs = tuple(_subgraph(path, sg, fb.buffers, opcodes) for sg in fb.subgraphs)
    return TflmModel(path, subgraphs, _offline_plan(path, fb))


def _op_name(code: FbOpcode) -> str:
    """The BuiltinOperator name, or a custom operator's own code."""
    name = OPERATOR_NAMES.get(code.builtin_code, f"BUILTIN_{code.builtin_code}")
    return code.custom_code if name == "CUSTOM" and code.custom_code else name


def _subgraph(path: str, sg: FbSubgraph, buffers: tuple, opcodes: tuple[str, ...]) -> TflmSubgraph:
    tensors = tuple(_tensor(path, t, buffers) for t in sg.tensors)
    n = len(tensors)
    ops = tuple(_op(path, op, n, opcodes) for op in sg.operators)
    for idx in (sg.inputs, sg.outputs):
        if any(not 0 <= x < n for x in idx):
            raise BadInput(f"{path}: a subgraph input/output names a tensor out of range")
    return TflmSubgraph(tensors, ops, sg.inputs, sg.outputs)


def _tensor(path: str, t: FbTensor, buffers: tuple) -> TflmTensor:
    """TFLM's size (`TfLiteEvalTensorByteLength`) and planning facts of one tensor."""
    if not 0 <= t.buffer < len(buffers):
        raise BadInput(f"{path}: tensor {t.index} names buffer {t.buffer} of {len(buffers)}")
    tname = TENSOR_TYPE_NAMES.get(t.type, f"TYPE_{t.type}")
    count = 1
    for d in t.shape:
        count *= d
    size = _TYPE_BYTES.get(tname)
    nbytes = -1 if size is None or count < 0 else count * size  # -1: refused if planned
    # The walk keeps a buffer's bytes only when it has some: None means no data.
    tensor = TflmTensor(
        t.index, t.name, t.shape, tname, nbytes, buffers[t.buffer] is not None, t.is_variable
    )
    if not tensor.constant and not tensor.variable and nbytes < 0:
        raise BadInput(
            f"{path}: tensor {t.index} ({tname}, shape {t.shape}) cannot be sized by TFLM"
        )
    return tensor


def _op(path: str, op: FbOperator, n: int, opcodes: tuple[str, ...]) -> TflmOp:
    if not 0 <= op.opcode_index < len(opcodes):
        raise BadInput(f"{path}: operator {op.index} has an invalid opcode index")
    for x in op.inputs + op.outputs:
        if not -1 <= x < n:
            raise BadInput(f"{path}: operator {op.index} names tensor {x} of {n}")
    return TflmOp(op.index, opcodes[op.opcode_index], op.inputs, op.outputs, op.options)


def _offline_plan(path: str, fb: FbModel) -> tuple[int, ...] | None:
    """The offsets of the first OfflineMemoryAllocation entry, if there is one."""
    b = next((b for name, b in fb.metadata if name == OFFLINE_PLAN_NAME), None)
    if b is None:
        return None
    if not 0 <= b < len(fb.buffers):
        raise BadInput(f"{path}: {OFFLINE_PLAN_NAME} names a missing buffer")
    raw = fb.buffers[b]
    words = None
    if raw is not None and raw.size % 4 == 0:
        words = np.frombuffer(raw.tobytes(), dtype="<i4")
    if words is None or len(words) < 3 or len(words) != 3 + int(words[2]):
        raise BadInput(f"{path}: malformed {OFFLINE_PLAN_NAME} metadata")
    return tuple(int(x) for x in words[3:])
