"""A `.tflite` file as TFLite Micro's allocator sees it.

TFLM plans every tensor of every subgraph by its index in the file, sizes it
from the file's own shape (product of dims times the element size of
`TfLiteTypeSizeOf`), and leaves out of the plan the tensors that have data in
the file (constants), variable tensors (persistent) and zero-sized ones.  This
module reads exactly those facts, with the schema that ships with the
`tflite-micro` package, so that the planning problem built from it is TFLM's
and not a frontend's interpretation of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import BadInput

OFFLINE_PLAN_NAME = "OfflineMemoryAllocation"

# TfLiteTypeSizeOf in tensorflow/lite/micro/memory_helpers.cc; other types are refused.
_TYPE_BYTES = {
    "FLOAT16": 2, "FLOAT32": 4, "FLOAT64": 8, "INT16": 2, "INT32": 4, "UINT32": 4,
    "UINT8": 1, "INT8": 1, "INT64": 8, "UINT64": 8, "BOOL": 1, "RESOURCE": 4,
    "COMPLEX64": 8, "COMPLEX128": 16, "INT4": 1, "BFLOAT16": 2, "UINT16": 2,
}  # fmt: skip


def schema():
    """The flatbuffer schema module that ships with tflite-micro (imported lazily)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _names(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


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
    """Parse `path` into TFLM's view; any malformed file is BadInput, never a traceback."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BadInput(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        return _parse(str(path), data)
    except BadInput:
        raise
    except Exception as e:  # a corrupt flatbuffer fails anywhere in the generated reader
        raise BadInput(f"{path}: corrupt TFLite flatbuffer ({type(e).__name__}: {e})") from None


def _parse(path: str, data: bytes) -> TflmModel:
    fb = schema()
    model = fb.Model.GetRootAs(data, 0)
    types = _names(fb.TensorType)
    ops = _names(fb.BuiltinOperator)
    buffers = [model.Buffers(i) for i in range(model.BuffersLength())]
    for b in buffers:
        if b is not None and b.Offset() > 1:
            raise BadInput(f"{path}: buffers stored outside the flatbuffer are not supported")
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = ops.get(code, f"BUILTIN_{code}")
        opcodes.append(oc.CustomCode().decode() if name == "CUSTOM" and oc.CustomCode() else name)
    subgraphs = tuple(
        _subgraph(path, model.Subgraphs(s), buffers, types, opcodes)
        for s in range(model.SubgraphsLength())
    )
    if not subgraphs:
        raise BadInput(f"{path}: the model has no subgraph")
    return TflmModel(path, subgraphs, _offline_plan(path, model, buffers))


def _subgraph(path, sg, buffers, types, opcodes) -> TflmSubgraph:
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if not t.ShapeIsNone() else ()
        tname = types.get(t.Type(), f"TYPE_{t.Type()}")
        b = t.Buffer()
        if not 0 <= b < len(buffers):
            raise BadInput(f"{path}: tensor {i} names buffer {b} of {len(buffers)}")
        constant = buffers[b] is not None and buffers[b].DataLength() > 0
        count = 1
        for d in shape:
            count *= d
        size = _TYPE_BYTES.get(tname)
        if size is None or count < 0:
            nbytes = -1  # refused below if TFLM would have to plan it
        else:
            nbytes = count * size
        tensor = TflmTensor(
            i,
            (t.Name() or b"").decode(errors="replace"),
            shape,
            tname,
            nbytes,
            constant,
            bool(t.IsVariable()),
        )
        if not constant and not tensor.variable and nbytes < 0:
            raise BadInput(f"{path}: tensor {i} ({tname}, shape {shape}) cannot be sized by TFLM")
        tensors.append(tensor)
    n = len(tensors)
    ops = []
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        if not 0 <= op.OpcodeIndex() < len(opcodes):
            raise BadInput(f"{path}: operator {k} has an invalid opcode index")
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if not op.InputsIsNone() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy()) if not op.OutputsIsNone() else ()
        for x in ins + outs:
            if not -1 <= x < n:
                raise BadInput(f"{path}: operator {k} names tensor {x} of {n}")
        ops.append(TflmOp(k, opcodes[op.OpcodeIndex()], ins, outs, _options(op)))
    io = []
    for seq in (
        sg.InputsAsNumpy() if not sg.InputsIsNone() else (),
        sg.OutputsAsNumpy() if not sg.OutputsIsNone() else (),
    ):
        idx = tuple(int(x) for x in seq)
        if any(not 0 <= x < n for x in idx):
            raise BadInput(f"{path}: a subgraph input/output names a tensor out of range")
        io.append(idx)
    return TflmSubgraph(tuple(tensors), tuple(ops), io[0], io[1])


def _options(op) -> Any:
    """The builtin options as an object-API value (small; None when absent)."""
    fb = schema()
    table = op.BuiltinOptions()
    if table is None:
        return None
    try:
        return fb.BuiltinOptionsCreator(op.BuiltinOptionsType(), table)
    except Exception:
        return None


def _offline_plan(path, model, buffers) -> tuple[int, ...] | None:
    import numpy as np

    for i in range(model.MetadataLength()):
        m = model.Metadata(i)
        if (m.Name() or b"") != OFFLINE_PLAN_NAME.encode():
            continue
        b = m.Buffer()
        if not 0 <= b < len(buffers) or buffers[b] is None:
            raise BadInput(f"{path}: {OFFLINE_PLAN_NAME} names a missing buffer")
        raw = buffers[b].DataAsNumpy()
        words = np.frombuffer(bytes(raw), dtype="<i4") if len(raw) % 4 == 0 else None
        if words is None or len(words) < 3 or len(words) != 3 + int(words[2]):
            raise BadInput(f"{path}: malformed {OFFLINE_PLAN_NAME} metadata")
        return tuple(int(x) for x in words[3:])
    return None
