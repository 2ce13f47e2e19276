"""A guarded walk over a .tflite flatbuffer: bytes -> plain frozen records.

The generated flatbuffer reader (tflite-micro's `schema_py_generated`) trusts
every offset and length it reads.  On a corrupt file it raises struct errors,
returns nonsense, or - when many vectors claim to be huge and overlap - loops
for a very long time.  This module reads only what infermem needs, checks
every vector length against the file size, charges every element it copies to
a budget proportional to the file size (a real file's vectors do not overlap,
so a file that makes us read more than twice its size is corrupt), and turns
any failure into one BadInput line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

from ..errors import BadInput

IDENTIFIER = b"TFL3"


class Corrupt(Exception):
    """Internal: the bytes contradict the schema (turned into BadInput)."""


@dataclass(frozen=True)
class FbQuant:
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int


@dataclass(frozen=True)
class FbTensor:
    index: int
    name: str
    type: int  # schema TensorType code
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    buffer: int
    is_variable: bool
    quant: FbQuant | None
    sparse: bool
    external: bool  # data in a file outside the model (ExternalBuffer)


@dataclass(frozen=True)
class FbOperator:
    index: int
    opcode_index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    options: Any  # a schema_fb *OptionsT object, or None
    options2: Any


@dataclass(frozen=True)
class FbOpcode:
    builtin_code: int
    custom_code: str
    version: int


@dataclass(frozen=True)
class FbSubgraph:
    tensors: tuple[FbTensor, ...]
    operators: tuple[FbOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class FbModel:
    """Subgraph 0 of a model (the frontend's graph), plus what of the rest
    infermem reports; `subgraphs` holds every subgraph for TFLM's view, which
    plans the tensors of all of them."""

    version: int
    description: str
    opcodes: tuple[FbOpcode, ...]
    n_subgraphs: int
    tensors: tuple[FbTensor, ...]
    operators: tuple[FbOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    buffers: tuple[np.ndarray | None, ...]  # uint8 views over the file; None = empty
    metadata: tuple[tuple[str, int], ...]  # (name, buffer index)
    subgraphs: tuple[FbSubgraph, ...] = ()  # all of them, subgraph 0 first
    appended_buffers: tuple[int, ...] = ()  # data after the flatbuffer (offset > 1)


class _Budget:
    """Bytes of vector data we may still read: bounds the work on any file."""

    def __init__(self, file_size: int):
        self.size = file_size
        self.left = 2 * file_size + 4096

    def table_vector(self, n: int, what: str) -> int:
        """Check a vector of n table offsets (4 bytes each) and charge it."""
        if n < 0 or 4 * n > self.size:
            raise Corrupt(f"{what} claims {n} entries, more than the file can hold")
        self.charge(4 * n, what)
        return n

    def charge(self, nbytes: int, what: str) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise Corrupt(f"{what}: vectors overlap or run past the file")


def _array(value: Any, budget: _Budget, what: str) -> np.ndarray:
    """A scalar vector from an `...AsNumpy()` accessor (which returns 0 when
    the field is absent), charged to the budget."""
    if isinstance(value, int):
        return np.zeros(0, dtype=np.int32)
    budget.charge(value.nbytes, what)
    return value


def _ints(value: Any, budget: _Budget, what: str) -> tuple[int, ...]:
    return tuple(int(v) for v in _array(value, budget, what).tolist())


def _text(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


def _quant(q: Any, budget: _Budget, what: str) -> FbQuant | None:
    if q is None:
        return None
    scale = tuple(float(s) for s in _array(q.ScaleAsNumpy(), budget, what).tolist())
    if not scale:
        return None
    zp = _ints(q.ZeroPointAsNumpy(), budget, what) or (0,) * len(scale)
    if len(zp) != len(scale):
        raise Corrupt(f"{what} has {len(scale)} scales but {len(zp)} zero points")
    return FbQuant(scale, zp, int(q.QuantizedDimension()))


def _tensor(t: Any, index: int, budget: _Budget) -> FbTensor:
    what = f"tensor {index}"
    shape = _ints(t.ShapeAsNumpy(), budget, what)
    signature = None if t.ShapeSignatureIsNone() else _ints(t.ShapeSignatureAsNumpy(), budget, what)
    if signature is not None and len(signature) != len(shape):
        raise Corrupt(f"{what}: shape {shape} and shape_signature {signature} differ in rank")
    return FbTensor(
        index=index,
        name=_text(t.Name()),
        type=int(t.Type()),
        shape=shape,
        shape_signature=signature,
        buffer=int(t.Buffer()),
        is_variable=bool(t.IsVariable()),
        quant=_quant(t.Quantization(), budget, what),
        sparse=t.Sparsity() is not None,
        external=int(t.ExternalBuffer()) != 0,
    )


def _charge_object(obj: Any, budget: _Budget, what: str, depth: int = 0) -> None:
    """Charge the vectors an unpacked options object holds (nested ones too)."""
    if depth > 8:
        raise Corrupt(f"{what}: options nested too deep")
    for v in vars(obj).values() if hasattr(obj, "__dict__") else ():
        if isinstance(v, np.ndarray):
            budget.charge(v.nbytes, what)
        elif isinstance(v, (list, bytes, str)):
            budget.charge(len(v), what)
            for x in v if isinstance(v, list) else ():
                _charge_object(x, budget, what, depth + 1)
        else:
            _charge_object(v, budget, what, depth + 1)


def _options(kind: int, table: Any, creator: Any, budget: _Budget, what: str) -> Any:
    if table is None or kind == 0:
        return None
    obj = creator(kind, table)
    _charge_object(obj, budget, what)
    return obj


def _operator(op: Any, index: int, budget: _Budget) -> FbOperator:
    what = f"operator {index}"
    return FbOperator(
        index=index,
        opcode_index=int(op.OpcodeIndex()),
        inputs=_ints(op.InputsAsNumpy(), budget, what),
        outputs=_ints(op.OutputsAsNumpy(), budget, what),
        intermediates=_ints(op.IntermediatesAsNumpy(), budget, what),
        options=_options(
            op.BuiltinOptionsType(),
            op.BuiltinOptions(),
            schema_fb.BuiltinOptionsCreator,
            budget,
            what,
        ),
        options2=_options(
            op.BuiltinOptions2Type(),
            op.BuiltinOptions2(),
            schema_fb.BuiltinOptions2Creator,
            budget,
            what,
        ),
    )


def _opcode(code: Any) -> FbOpcode:
    # Files older than schema v3a store the code only in the int8 deprecated
    # field; newer ones put 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) there.
    # TFLite takes the larger of the two; so do we.
    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    return FbOpcode(builtin, _text(code.CustomCode()), int(code.Version()))


def _buffer(b: Any, data: bytes) -> np.ndarray | None:
    """The bytes of one buffer: inline, or at (offset, size) from the file's
    start for models past the 2 GB flatbuffer limit."""
    if b is None:
        return None
    offset, size = int(b.Offset()), int(b.Size())
    if offset > 1:
        if offset + size > len(data):
            raise Corrupt(f"a buffer at offset {offset} of {size} bytes runs past the file")
        return np.frombuffer(data, dtype=np.uint8, count=size, offset=offset) if size else None
    arr = b.DataAsNumpy()
    return None if isinstance(arr, int) or arr.size == 0 else arr


def _subgraph(sub: Any, index: int, budget: _Budget) -> FbSubgraph:
    """Tensors, operators, inputs and outputs of one subgraph."""
    what = f"subgraph {index}"
    n_t = budget.table_vector(sub.TensorsLength(), f"{what} tensors")
    n_o = budget.table_vector(sub.OperatorsLength(), f"{what} operators")
    return FbSubgraph(
        tuple(_tensor(sub.Tensors(i), i, budget) for i in range(n_t)),
        tuple(_operator(sub.Operators(i), i, budget) for i in range(n_o)),
        _ints(sub.InputsAsNumpy(), budget, f"{what} inputs"),
        _ints(sub.OutputsAsNumpy(), budget, f"{what} outputs"),
    )


def _check_signatures(model: Any, budget: _Budget) -> None:
    """Signature defs are not used, but the object API unpacks them: bound them."""
    for i in range(budget.table_vector(model.SignatureDefsLength(), "signature defs")):
        sig = model.SignatureDefs(i)
        budget.table_vector(sig.InputsLength(), "signature inputs")
        budget.table_vector(sig.OutputsLength(), "signature outputs")


def _walk(data: bytes) -> FbModel:
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise Corrupt("no TFL3 identifier")
    budget = _Budget(len(data))
    model = schema_fb.Model.GetRootAs(data, 0)
    n_sub = budget.table_vector(model.SubgraphsLength(), "subgraphs")
    if n_sub == 0:
        raise Corrupt("it has no subgraph")
    # Every subgraph is walked (so that read_model's full unpack is bounded);
    # the frontend uses subgraph 0, TFLM's view all of them.
    subgraphs = tuple(_subgraph(model.Subgraphs(s), s, budget) for s in range(n_sub))
    main = subgraphs[0]
    _check_signatures(model, budget)
    n_c = budget.table_vector(model.OperatorCodesLength(), "operator codes")
    n_b = budget.table_vector(model.BuffersLength(), "buffers")
    n_m = budget.table_vector(model.MetadataLength(), "metadata")
    metadata = tuple(
        (_text(m.Name()), int(m.Buffer())) for m in (model.Metadata(i) for i in range(n_m))
    )
    wanted = {t.buffer for sg in subgraphs for t in sg.tensors} | {b for _, b in metadata}
    tables = [model.Buffers(i) for i in range(n_b)]
    buffers = tuple(_buffer(b, data) if i in wanted else None for i, b in enumerate(tables))
    return FbModel(
        version=int(model.Version()),
        description=_text(model.Description()),
        opcodes=tuple(_opcode(model.OperatorCodes(i)) for i in range(n_c)),
        n_subgraphs=n_sub,
        tensors=main.tensors,
        operators=main.operators,
        inputs=main.inputs,
        outputs=main.outputs,
        buffers=buffers,
        metadata=metadata,
        subgraphs=subgraphs,
        appended_buffers=tuple(
            i for i, b in enumerate(tables) if b is not None and int(b.Offset()) > 1
        ),
    )


def parse(data: bytes, source: str) -> FbModel:
    """Walk the flatbuffer `data` (the whole file); BadInput if it is not one."""
    try:
        return _walk(data)
    except BadInput:
        raise
    except RecursionError:
        raise BadInput(f"{source}: not a valid TFLite model (nesting too deep)") from None
    except Exception as e:  # noqa: BLE001 - any reader failure means a corrupt file
        detail = str(e) if isinstance(e, Corrupt) else f"{type(e).__name__}: {e}"
        raise BadInput(f"{source}: not a valid TFLite model ({detail})") from None


def read_model(data: bytes, source: str = "model") -> schema_fb.ModelT:
    """The whole model as the schema's mutable object tree (for writers such as
    the TFLM offline-plan adapter), after the guarded walk has vouched for it."""
    parse(data, source)
    try:
        return schema_fb.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # noqa: BLE001
        raise BadInput(f"{source}: not a valid TFLite model ({type(e).__name__}: {e})") from None
