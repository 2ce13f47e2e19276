"""What a kernel really touched: arena byte ranges, chunk by chunk.

The executor's kernels read and write the arena only through `KernelIO`
(kernels/base.py), one *chunk* at a time: all of a chunk's reads happen before
any of its writes.  In tracing mode every read and write is turned into the
exact set of arena bytes the numpy view covers (strides included), so the
trace is the kernel's real access pattern, not a description of it.  The DMO
work derives the safe output/input overlap of an operator from this trace:
an overlap is safe iff no chunk writes bytes that a *later* chunk of the same
operator still reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

_EMPTY = np.zeros((0, 2), dtype=np.int64)


def byte_ranges(view: np.ndarray, base: int) -> np.ndarray:
    """The bytes of `view` as sorted, merged [start, end) ranges relative to the
    address `base` (the arena's first byte).  Shape (k, 2), int64."""
    if view.size == 0:
        return _EMPTY
    start = view.__array_interface__["data"][0] - base
    dims = []
    for n, s in zip(view.shape, view.strides, strict=True):
        if n == 1 or s == 0:  # a broadcast or singleton dim repeats the same bytes
            continue
        if s < 0:
            start += (n - 1) * s
            s = -s
        dims.append((s, n))
    dims.sort()
    run = view.itemsize
    while dims and dims[0][0] == run:  # fold the contiguous innermost dims into one run
        run *= dims.pop(0)[1]
    starts = np.array([start], dtype=np.int64)
    for s, n in dims:
        starts = (starts[:, None] + np.arange(n, dtype=np.int64) * s).ravel()
    starts.sort()
    return merge(np.stack([starts, starts + run], axis=1))


def merge(ranges: np.ndarray) -> np.ndarray:
    """Merge sorted-by-start ranges that touch or overlap."""
    if len(ranges) <= 1:
        return ranges
    ranges = ranges[np.argsort(ranges[:, 0], kind="stable")]
    ends = np.maximum.accumulate(ranges[:, 1])
    new = np.ones(len(ranges), dtype=bool)
    new[1:] = ranges[1:, 0] > ends[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(ranges)) - 1
    return np.stack([ranges[first, 0], ends[last]], axis=1)


@dataclass(frozen=True)
class Access:
    """Bytes of one arena buffer (named by its root tensor, the name planners
    use) read or written in one chunk: `ranges` are [start, end) arena offsets."""

    tensor: str
    ranges: np.ndarray = field(compare=False, repr=False)

    @property
    def bytes(self) -> int:
        return int((self.ranges[:, 1] - self.ranges[:, 0]).sum())


@dataclass(frozen=True)
class Chunk:
    """One chunk of one operator: `op` is the operator index, `index` the
    chunk's position in that operator's run; its reads all precede its writes."""

    op: int
    index: int
    reads: tuple[Access, ...]
    writes: tuple[Access, ...]


@dataclass
class Trace:
    """All chunks of one run, in execution order, with the offsets they refer to."""

    offsets: dict[str, int]
    chunks: list[Chunk] = field(default_factory=list)

    def for_op(self, op: int) -> list[Chunk]:
        return [c for c in self.chunks if c.op == op]

    def ops(self) -> list[int]:
        return list(dict.fromkeys(c.op for c in self.chunks))

    def relative(self, op: int, tensor: str, kind: str = "reads") -> Iterator[np.ndarray]:
        """Per chunk of `op`: the ranges of `tensor` it reads (or writes),
        relative to the tensor's own first byte (empty where it touches none)."""
        off = self.offsets[tensor]
        for c in self.for_op(op):
            acc = [a.ranges for a in getattr(c, kind) if a.tensor == tensor]
            yield merge(np.concatenate(acc) - off) if acc else _EMPTY


class Recorder:
    """Builds `Chunk`s for one operator from the views a kernel hands to
    KernelIO; checks the kernel keeps its own promise (no read after a write
    within a chunk)."""

    def __init__(self, trace: Trace, op: int, base: int, arena_bytes: int,
                 inputs: Sequence[str], outputs: Sequence[str]) -> None:
        self.trace, self.op, self.base, self.size = trace, op, base, arena_bytes
        self.names = (tuple(inputs), tuple(outputs))
        self.index = 0
        self.reads: list[Access] = []
        self.writes: list[Access] = []

    def _access(self, name: str, view: np.ndarray) -> Access | None:
        addr = view.__array_interface__["data"][0] - self.base
        if not name or view.size == 0 or not 0 <= addr < self.size:
            return None  # a weight or an empty view: not arena bytes
        return Access(name, byte_ranges(view, self.base))

    def read(self, slot: int, view: np.ndarray) -> None:
        if self.writes:
            raise AssertionError(
                f"kernel of operator {self.op} read after writing within chunk {self.index}"
            )
        if (a := self._access(self.names[0][slot], view)) is not None:
            self.reads.append(a)

    def write(self, slot: int, view: np.ndarray) -> None:
        if (a := self._access(self.names[1][slot], view)) is not None:
            self.writes.append(a)

    def end_chunk(self) -> None:
        if self.reads or self.writes:
            self.trace.chunks.append(
                Chunk(self.op, self.index, tuple(self.reads), tuple(self.writes))
            )
        self.index += 1
        self.reads, self.writes = [], []
