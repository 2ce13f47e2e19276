"""The planning problem and its answer, in TFLM's planner vocabulary.

A planner sees buffers with a size and a lifetime (first and last step at which
they must hold their bytes) and returns one offset per buffer.  It knows
nothing about models.  An `Overlap` is the one exception to "buffers live at
the same time never share bytes": an operator's output may be placed *below*
one of its inputs, with the output's end reaching at most `max_bytes` into the
input (diagonal memory optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def align_up(n: int, alignment: int) -> int:
    """`n` rounded up to a multiple of `alignment` (1 or less: unchanged).  The
    planners own this rule; everything that sizes arena buffers uses it."""
    return -(-n // alignment) * alignment if alignment > 1 else n


@dataclass(frozen=True)
class Buffer:
    """`size` is already rounded up to the problem's alignment; `index` is the
    tensor's index in the model file where there is one; `offset`, if given,
    is fixed (offline-planned) and planners must keep it."""

    name: str
    size: int
    first: int
    last: int
    index: int | None = None
    offset: int | None = None

    def lives_with(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Overlap:
    """`output` may start at or below `input` and end at most `max_bytes` past
    `input`'s start: offset(out) <= offset(in) and
    offset(out) + size(out) - offset(in) <= max_bytes."""

    output: str
    input: str
    max_bytes: int


@dataclass(frozen=True)
class Problem:
    buffers: tuple[Buffer, ...]
    alignment: int = 16
    overlaps: tuple[Overlap, ...] = ()

    @property
    def by_name(self) -> Mapping[str, Buffer]:
        return {b.name: b for b in self.buffers}

    @property
    def steps(self) -> int:
        return 1 + max((b.last for b in self.buffers), default=-1)


@dataclass(frozen=True)
class Plan:
    strategy: str
    offsets: Mapping[str, int]
    arena_bytes: int
    lower_bound_bytes: int
    optimal: bool | None = None
    seconds: float = 0.0
    notes: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def gap(self) -> float:
        """arena / lower_bound - 1 (0.0 means the plan meets the bound)."""
        if self.lower_bound_bytes == 0:
            return 0.0
        return self.arena_bytes / self.lower_bound_bytes - 1
