"""An ONNX file without its weight bytes, and where those bytes are.

`onnx.load` copies every weight into the protobuf, and `numpy_helper` copies
it again: ~3x the file in memory before a single shape is known.  Here a small
reader of protobuf's wire format walks ModelProto -> graph (field 7) ->
initializer (field 5) and Constant nodes' `value` tensors, and copies
everything *but* each large `raw_data` (TensorProto field 9) into a stripped
model.  Each stripped tensor is marked as external data at `MODEL_FILE`
(a location no real file can have: it holds a NUL) with the offset and length
of its bytes in the file, so the loader maps them (`onnx_weights`) exactly as
it maps real external data.

Only what the reader understands is rewritten; every other field, subgraphs
and functions included, is copied byte for byte, so parsing the stripped
bytes gives the model protobuf would give, less the weight bytes.  Anything
unexpected (a bad varint, a length past the end, a group) raises `WireError`
and the caller parses the whole file as before, so a corrupt file gets
protobuf's own refusal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MODEL_FILE = "\x00infermem:model-file"  # external-data location of a stripped raw_data
MIN_MAPPED_BYTES = 1024  # smaller raw_data stays in the model: cheaper than a mapping

# field numbers and wire types (onnx.proto3)
_LEN, _VARINT, _I64, _I32 = 2, 0, 1, 5
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER = 1, 5
NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 4, 5, 7
ATTR_NAME, ATTR_T = 1, 5
TENSOR_RAW_DATA, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 9, 13, 14
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


class WireError(Exception):
    """The bytes are not the protobuf this reader expects (internal)."""


@dataclass(frozen=True)
class Span:
    """One stripped raw_data: `length` bytes at `offset` of the model file."""

    offset: int
    length: int


@dataclass(frozen=True)
class Stripped:
    data: bytes  # the model without its large raw_data fields
    spans: frozenset[Span]  # where those fields' bytes are in the file


class FileBytes:
    """A file's bytes by index and slice, read with `pread` a window at a time.

    Why not the memory map the weights use: touching a mapped page maps the
    whole (large) page-cache folio around it, up to megabytes of weights per
    tensor header, all counted in RSS; a read copies only the bytes asked for."""

    WINDOW = 16384

    def __init__(self, f):
        self.fd, self.size = f.fileno(), os.fstat(f.fileno()).st_size
        self.start, self.chunk = 0, b""

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, _ = i.indices(self.size)
            return os.pread(self.fd, max(stop - start, 0), start)
        at = i - self.start
        if not 0 <= at < len(self.chunk):
            self.start, self.chunk, at = i, os.pread(self.fd, self.WINDOW, i), 0
            if not self.chunk:
                raise WireError("the file ended early")  # shrank while being read
        return self.chunk[at]


def varint(buf, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    value, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("bad varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields(buf, start: int, end: int):
    """(field number, wire type, field start, value start, value end) of each
    field of the message in buf[start:end]; a length-delimited value's bounds
    exclude its length prefix."""
    pos = start
    while pos < end:
        tag_at = pos
        tag = buf[pos]  # one-byte varints inline: a graph has a field per node
        tag, pos = (tag, pos + 1) if tag < 0x80 else varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            _, stop = varint(buf, pos, end)
        elif wire == _LEN:
            n = buf[pos] if pos < end else 0x80
            n, pos = (n, pos + 1) if n < 0x80 else varint(buf, pos, end)
            stop = pos + n
        elif wire == _I64:
            stop = pos + 8
        elif wire == _I32:
            stop = pos + 4
        else:
            raise WireError(f"wire type {wire}")  # groups: not in any ONNX file
        if stop > end or number == 0:
            raise WireError("field past the end of its message")
        yield number, wire, tag_at, pos, stop
        pos = stop


def length_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | _LEN) + encode_varint(len(payload)) + payload


def entry(key: str, value: str) -> bytes:
    """One StringStringEntryProto of TensorProto.external_data."""
    return length_field(
        TENSOR_EXTERNAL_DATA,
        length_field(1, key.encode()) + length_field(2, value.encode("utf-8", "surrogatepass")),
    )


class _Rewriter:
    """Copies a message, field by field, replacing some fields' bytes."""

    def __init__(self, buf, min_bytes: int):
        self.buf, self.min_bytes = buf, min_bytes
        self.spans: list[Span] = []

    def message(self, start: int, end: int, rewrite) -> bytes | None:
        """The message in buf[start:end] with each field `rewrite(number, wire,
        start, stop)` returns bytes for replaced; None when nothing changed."""
        pieces, copied, changed = [], start, False
        for number, wire, tag_at, pos, stop in fields(self.buf, start, end):
            new = rewrite(number, wire, pos, stop)
            if new is None:
                continue
            pieces.append(self.buf[copied:tag_at])
            pieces.append(length_field(number, new))
            copied, changed = stop, True
        if not changed:
            return None
        pieces.append(self.buf[copied:end])
        return b"".join(pieces)

    def model(self, start: int, end: int) -> bytes | None:
        return self.message(start, end, lambda n, w, a, b: self.graph(a, b)
                            if (n, w) == (MODEL_GRAPH, _LEN) else None)

    def graph(self, start: int, end: int) -> bytes | None:
        def field(number, wire, a, b):
            if wire != _LEN or b - a < self.min_bytes:
                return None
            if number == GRAPH_INITIALIZER:
                return self.tensor(a, b)
            if number == GRAPH_NODE:
                return self.node(a, b)
            return None

        return self.message(start, end, field)

    def node(self, start: int, end: int) -> bytes | None:
        """A Constant node of the default domain: its `value` tensor stripped."""
        seen = {NODE_OP_TYPE: b"", NODE_DOMAIN: b""}
        for number, wire, _, a, b in fields(self.buf, start, end):
            if number in seen and wire == _LEN:
                seen[number] = bytes(self.buf[a:b])
        if seen[NODE_OP_TYPE] != b"Constant" or seen[NODE_DOMAIN] not in (b"", b"ai.onnx"):
            return None
        return self.message(start, end, lambda n, w, a, b: self.attribute(a, b)
                            if (n, w) == (NODE_ATTRIBUTE, _LEN) and b - a >= self.min_bytes
                            else None)

    def attribute(self, start: int, end: int) -> bytes | None:
        found = list(fields(self.buf, start, end))
        names = [bytes(self.buf[a:b]) for n, w, _, a, b in found if (n, w) == (ATTR_NAME, _LEN)]
        tensors = [(a, b) for n, w, _, a, b in found if (n, w) == (ATTR_T, _LEN)]
        if names != [b"value"] or len(tensors) != 1:
            return None  # a repeated singular field merges: leave it to protobuf
        return self.message(start, end, lambda n, w, a, b: self.tensor(a, b)
                            if (n, w) == (ATTR_T, _LEN) else None)

    def tensor(self, start: int, end: int) -> bytes | None:
        """The TensorProto without its raw_data, marked external at MODEL_FILE;
        None (kept as it is) unless it has exactly one large raw_data and no
        external-data fields of its own."""
        found = list(fields(self.buf, start, end))
        raw = [(w, a, b) for n, w, _, a, b in found if n == TENSOR_RAW_DATA]
        if len(raw) != 1 or any(n in (TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION)
                                for n, *_ in found):
            return None
        (wire, a, b), = raw
        if wire != _LEN or b - a < self.min_bytes:
            return None
        self.spans.append(Span(a, b - a))
        pieces = [self.buf[f_at:stop] for n, _, f_at, _, stop in found if n != TENSOR_RAW_DATA]
        pieces += [entry("location", MODEL_FILE), entry("offset", str(a)),
                   entry("length", str(b - a)),
                   encode_varint(TENSOR_DATA_LOCATION << 3 | _VARINT), encode_varint(EXTERNAL)]
        return b"".join(pieces)


def strip_weights(buf, min_bytes: int = MIN_MAPPED_BYTES) -> Stripped:
    """The model in `buf` (bytes, or FileBytes of the file) without the raw_data
    of initializers and Constant values of `min_bytes` or more.  WireError if
    the bytes are not protobuf as ONNX writes it."""
    rewriter = _Rewriter(buf, max(min_bytes, 1))
    data = rewriter.model(0, len(buf))
    if data is None:
        data = bytes(buf[0:len(buf)])
    return Stripped(data, frozenset(rewriter.spans))
