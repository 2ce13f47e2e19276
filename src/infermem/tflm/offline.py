"""Write an offline memory plan into a copy of a `.tflite` model.

TFLM looks for a metadata entry named `OfflineMemoryAllocation` whose buffer
is little-endian int32 `[version=1, subgraph count, tensor count, offset...]`
with one offset per tensor of every subgraph (subgraph 0's tensors first),
in bytes from the start of the arena head (`GetOverlayMemoryAddress`), or -1
for "plan this one online".  `GetOfflinePlannedOffsets`
(micro_allocation_info.cc) refuses the plan only if the tensor count differs
from the model's; it never checks the offsets.  Its GreedyMemoryPlanner puts
the offline buffers first, exactly where they are told, then fits the online
ones (-1 tensors and every scratch buffer) around them.  Offsets of tensors
TFLM does not plan (constants, variables, zero-sized) are never read, so they
are written as -1.  Note TFLM indexes the offsets by the tensor's index inside
its own subgraph, so only subgraph 0 of a multi-subgraph model can be planned
safely: this writer refuses offsets for other subgraphs.

The copy is packed with the schema's object API; constant buffers keep a
16-byte alignment (as the converter writes them) so that kernels on a device
may read weights with aligned loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import BadInput, Failure
from ..frontends.tflite_flatbuffer import read_model as read_model_tree
from ..outputs import check_output, write_bytes
from ._model import OFFLINE_PLAN_NAME, model_from_bytes, read_model, schema

VERSION = 1
BUFFER_ALIGNMENT = 16
MAX_OFFSET = (1 << 31) - 1


class _AlignedBuffer:
    """A BufferT whose data vector is packed with 16-byte alignment."""

    def __init__(self, buf) -> None:
        self.buf = buf

    def Pack(self, builder):  # noqa: N802  (flatbuffers object-API name)
        fb = schema()
        data = None
        if self.buf.data is not None:
            raw = np.ascontiguousarray(np.asarray(self.buf.data, dtype=np.uint8)).tobytes()
            builder.StartVector(1, len(raw), BUFFER_ALIGNMENT)
            builder.head -= len(raw)
            builder.Bytes[builder.head : builder.head + len(raw)] = raw
            data = builder.EndVector()
        fb.BufferStart(builder)
        if data is not None:
            fb.BufferAddData(builder, data)
        fb.BufferAddOffset(builder, self.buf.offset)
        fb.BufferAddSize(builder, self.buf.size)
        return fb.BufferEnd(builder)


def plan_words(
    tensor_counts: list[int], offsets: Mapping[int, int], planned: set[int], subgraph: int = 0
) -> np.ndarray:
    """The int32 metadata buffer for `offsets` (tensor index in `subgraph` -> bytes)."""
    words = [VERSION, len(tensor_counts), sum(tensor_counts)]
    for s, n in enumerate(tensor_counts):
        for i in range(n):
            words.append(offsets.get(i, -1) if s == subgraph and i in planned else -1)
    return np.array(words, dtype="<i4")


def write_offline_plan(
    src_path: str | Path,
    dst_path: str | Path,
    offsets_by_tensor_index: Mapping[int, int],
    subgraph: int = 0,
    alignment: int = 16,
    force: bool = False,
) -> None:
    """Copy `src_path` to `dst_path` with an `OfflineMemoryAllocation` entry holding
    `offsets_by_tensor_index` (replacing an existing one).  Tensors not given,
    and tensors TFLM does not plan, get -1.  The source is never modified; an
    existing `dst_path` is replaced only with `force` (see `outputs.check_output`)."""
    src, dst = Path(src_path), Path(dst_path)
    check_output(dst, [src], force=force)
    model = read_model(src)
    if subgraph != 0:
        raise BadInput(
            "TFLM reads offline offsets by in-subgraph index: only subgraph 0 can be "
            "planned offline"
        )
    sg = model.subgraphs[subgraph]
    planned = {t.index for t in sg.tensors if t.planned}
    for i, off in offsets_by_tensor_index.items():
        if not isinstance(i, (int, np.integer)) or not 0 <= i < len(sg.tensors):
            raise BadInput(f"offline plan names tensor {i!r}, not a tensor of subgraph {subgraph}")
        if i not in planned:
            raise BadInput(
                f"tensor {i} ({sg.tensors[i].name!r}) is not planned by TFLM "
                "(constant, variable or empty): it cannot have an offset"
            )
        if not isinstance(off, (int, np.integer)) or not 0 <= off <= MAX_OFFSET:
            raise BadInput(f"tensor {i}: offset {off!r} is not an int32 >= 0")
        if off % alignment:
            raise BadInput(f"tensor {i}: offset {off} is not a multiple of {alignment}")
    words = plan_words(
        [len(s.tensors) for s in model.subgraphs],
        {int(k): int(v) for k, v in offsets_by_tensor_index.items()},
        planned,
    )
    data = _pack(src.read_bytes(), words, str(src))
    if model_from_bytes(data, str(dst)).offline_plan != tuple(int(w) for w in words[3:]):
        raise Failure(f"{dst}: the offline plan does not read back identically; nothing written")
    write_bytes(dst, data)


def _pack(raw: bytes, words: np.ndarray, source: str = "model") -> bytes:
    fb = schema()
    m = read_model_tree(raw, source)  # the object tree, after the guarded walk
    m.buffers = list(m.buffers or [])
    m.metadata = list(m.metadata or [])
    payload = words.view(np.uint8)
    entry = next((e for e in m.metadata if _name(e.name) == OFFLINE_PLAN_NAME), None)
    if entry is not None and not _shared(m, entry):
        m.buffers[entry.buffer].data = payload
    else:
        buf = fb.BufferT()
        buf.data = payload
        m.buffers.append(buf)
        if entry is None:
            entry = fb.MetadataT()
            entry.name = OFFLINE_PLAN_NAME
            m.metadata.append(entry)
        entry.buffer = len(m.buffers) - 1
    return pack_tree(m, len(raw) + len(payload) + 4096)


def pack_tree(m, size_hint: int = 1 << 20) -> bytes:
    """Serialise a schema object tree, constant buffers 16-byte aligned.  The
    tree's own buffer list is left as it was."""
    import copy

    import flatbuffers

    m = copy.copy(m)
    m.buffers = [_AlignedBuffer(b) for b in m.buffers or []]
    builder = flatbuffers.Builder(size_hint)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(name) -> str:
    return name.decode() if isinstance(name, bytes) else (name or "")


def _shared(m, entry) -> bool:
    """Is the entry's buffer referenced by anything else (a tensor, other metadata)?"""
    b = entry.buffer
    if not 0 <= b < len(m.buffers):
        return True
    if any(e is not entry and e.buffer == b for e in m.metadata):
        return True
    return any(t.buffer == b for sg in m.subgraphs or [] for t in sg.tensors or [])
