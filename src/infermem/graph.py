"""The graph IR every other module reads: tensors, operators, and their wiring.

Frontends turn a model file into a `Graph`; nothing past the frontends sees
ONNX or TFLite types.  Everything is a frozen dataclass so that a Graph can be
shared by the profiler, the planners and the executor without anyone changing
it under the others' feet.  Derived wiring (producers, consumers, topological
order) is computed once, lazily.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np

from .errors import BadInput


class Role(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    WEIGHT = "weight"
    ACTIVATION = "activation"
    ALIAS = "alias"


# A tensor larger than this is not a model for an edge device: refuse it
# before arithmetic on it overflows or numpy tries to allocate it.
MAX_TENSOR_BYTES = 1 << 40
# numpy cannot hold an array of more dimensions (and no runtime kernel takes one).
MAX_RANK = 64


@functools.lru_cache(maxsize=64)
def dtype_size(dtype: str) -> int:
    """Bytes per element of a numpy dtype name ('float32', 'int8', 'bool', ...);
    cached: a big graph asks for the same few types once per tensor."""
    return np.dtype(dtype).itemsize


def tensor_bytes(shape: Sequence[int], dtype: str, name: str = "?") -> int:
    """Exact byte size of a dense tensor, refusing absurd or negative dimensions."""
    if len(shape) > MAX_RANK:
        raise BadInput(
            f"tensor {name!r} has rank {len(shape)}; at most {MAX_RANK} dimensions are supported"
        )
    if all(type(d) is int and d >= 0 for d in shape):  # the common case, checked at once
        n = math.prod(shape) * dtype_size(dtype)
    else:
        for d in shape:
            if not isinstance(d, (int, np.integer)) or d < 0:
                raise BadInput(
                    f"tensor {name!r} has an invalid dimension {d!r} in shape {tuple(shape)}"
                )
        n = math.prod(int(d) for d in shape) * dtype_size(dtype)
    if n > MAX_TENSOR_BYTES:
        raise BadInput(
            f"tensor {name!r} of shape {tuple(shape)} would need {n} bytes, "
            f"more than the sane limit of {MAX_TENSOR_BYTES} bytes"
        )
    return n


@dataclass(frozen=True)
class Quant:
    """Affine quantization parameters (per-tensor or per-axis)."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int | None = None


@dataclass(frozen=True)
class Tensor:
    """One tensor.  `index` is its index in the source file (TFLite tensor index,
    needed to write offline plans back); `alias_of` names the tensor whose bytes
    a view (Reshape, Flatten, ...) shares; `data` holds a weight's values."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    role: Role
    index: int | None = None
    alias_of: str | None = None
    quant: Quant | None = None
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    @cached_property
    def nbytes(self) -> int:
        """Cached (the instance is frozen): profiles and planners ask it often."""
        return tensor_bytes(self.shape, self.dtype, self.name)

    @property
    def is_arena(self) -> bool:
        """Does this tensor own bytes in the arena (not a weight, not a view)?"""
        return self.role in (Role.INPUT, Role.OUTPUT, Role.ACTIVATION)


@dataclass(frozen=True)
class Operator:
    """One node.  `inputs` may contain '' for an absent optional input."""

    index: int
    type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict, compare=False)
    name: str = ""


@dataclass(frozen=True)
class Graph:
    name: str
    format: str  # "onnx" | "tflite"
    tensors: Mapping[str, Tensor]
    operators: tuple[Operator, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def root(self, name: str) -> str:
        """The tensor that owns the bytes of `name` (follows alias chains).
        Remembered for every tensor on the way: 30,000 Identity views in a row
        made each call walk the whole chain (quadratic)."""
        memo = self._roots
        if name in memo:
            return memo[name]
        path: list[str] = []
        seen: set[str] = set()
        while name not in memo and (t := self.tensors[name]).alias_of is not None:
            if name in seen:
                raise BadInput(f"alias cycle through tensor {name!r}")
            seen.add(name)
            path.append(name)
            name = t.alias_of
        owner = memo.get(name, name)
        memo[name] = owner
        for n in path:
            memo[n] = owner
        return owner

    @cached_property
    def _roots(self) -> dict[str, str]:
        """`root`'s memory (the graph is frozen, so an answer never changes)."""
        return {}

    @cached_property
    def producers(self) -> Mapping[str, int]:
        """Tensor name -> index of the operator that writes it."""
        out: dict[str, int] = {}
        for op in self.operators:
            for t in op.outputs:
                if t:
                    out[t] = op.index
        return out

    @cached_property
    def consumers(self) -> Mapping[str, tuple[int, ...]]:
        """Tensor name -> indices of the operators that read it (file order)."""
        out: dict[str, list[int]] = {}
        for op in self.operators:
            for t in dict.fromkeys(op.inputs):
                if t:
                    out.setdefault(t, []).append(op.index)
        return {k: tuple(v) for k, v in out.items()}

    def predecessors(self, op_index: int) -> tuple[int, ...]:
        """Operators whose outputs operator `op_index` reads."""
        op = self.operators[op_index]
        return tuple(sorted({self.producers[t] for t in op.inputs if t in self.producers}))

    def successors(self, op_index: int) -> tuple[int, ...]:
        op = self.operators[op_index]
        return tuple(sorted({c for t in op.outputs for c in self.consumers.get(t, ())}))

    @cached_property
    def file_order(self) -> tuple[int, ...]:
        """The file's own operator order, checked to be a valid schedule."""
        order = tuple(op.index for op in self.operators)
        check_order(self, order)
        return order

    def arena_tensors(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.is_arena]

    @property
    def weights_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values() if t.role is Role.WEIGHT)


def checked_order(graph: Graph, order: Sequence[int] | None) -> tuple[int, ...]:
    """`order` (None: the file's) as a tuple, checked: the file's own order is
    checked once per graph (`file_order` is cached), any other on each call."""
    if order is None:
        return graph.file_order
    order = tuple(order)
    if order == tuple(op.index for op in graph.operators):
        return graph.file_order
    check_order(graph, order)
    return order


def check_order(graph: Graph, order: Sequence[int]) -> None:
    """Raise BadInput unless `order` runs every operator once, producers first."""
    if sorted(order) != list(range(len(graph.operators))):
        raise BadInput("an operator order must name every operator exactly once")
    done: set[str] = set(graph.inputs) | {
        n for n, t in graph.tensors.items() if t.role is Role.WEIGHT
    }
    for i in order:
        op = graph.operators[i]
        for t in op.inputs:
            if t and t not in done and t in graph.producers:
                raise BadInput(
                    f"operator {i} ({op.type}) reads {t!r} before operator "
                    f"{graph.producers[t]} writes it"
                )
        done.update(op.outputs)
