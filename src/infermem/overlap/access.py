"""From a kernel's access order to the largest safe overlap of its output over one input.

Every method (analytic rules, traced reference kernels, and the ONNX executor's
rules) reduces an operator to the same picture: a sequence of *steps* in the
kernel's loop order; at step t the kernel reads some input bytes and writes
some output bytes.  Place the output D bytes below the input (D = offset(in) -
offset(out) >= 0).  Writing output byte p then destroys input byte p - D.
That is harmless if no input byte at or above p - D is read later, so the
write pointer must trail the smallest input byte still to be read:

    D  >  last byte written at t  -  smallest input byte read after t

Taking the maximum over steps gives the smallest safe distance D_min; any
D >= D_min is safe (the condition only gets easier as D grows), which is why
one number, the planner's `Overlap.max_bytes`, can carry the proof:
k = size(out) - D, the output's end may reach at most k bytes into the input.

A step whose writes may happen before or interleaved with its own reads (a
`memcpy` of a chunk, whose internal order the C library does not promise)
counts its own reads as "later" too, so its destination never touches its
source.  A step that writes without reading (zero-filling an accumulator that
is the output) forbids any overlap below the bytes it writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..planners.problem import align_up

NO_READ = np.iinfo(np.int64).max // 4  # "this step reads nothing from the input"


@dataclass(frozen=True)
class Steps:
    """One output and one input of an operator, step by step in loop order, in bytes.

    `write_end[t]`: one past the highest output byte written at step t (0 when
    the step writes nothing).  `first_read[t]`: the lowest input byte read at
    step t (NO_READ when none).  `own[t]`: the step's writes may precede its
    own reads (memcpy), so its own reads count as later.
    """

    write_end: np.ndarray
    first_read: np.ndarray
    own: np.ndarray | bool = False

    def __post_init__(self) -> None:
        if self.write_end.shape != self.first_read.shape or self.write_end.ndim != 1:
            raise ValueError("write_end and first_read must be 1-D arrays of one length")


def element_steps(
    write_elem_end: np.ndarray,
    first_read_elem: np.ndarray,
    out_width: int,
    in_width: int,
    own: np.ndarray | bool = False,
) -> Steps:
    """Steps from element indices: `write_elem_end` one past the highest output
    element written (0: none), `first_read_elem` the lowest input element read
    (NO_READ or negative: none); widths in bytes per element."""
    w = np.asarray(write_elem_end, dtype=np.int64) * out_width
    r = np.asarray(first_read_elem, dtype=np.int64)
    r = np.where((r < 0) | (r >= NO_READ), NO_READ, r * in_width)
    return Steps(w, r, own)


def later_min(first_read: np.ndarray, own: np.ndarray | bool) -> np.ndarray:
    """Per step, the lowest input byte read strictly after it (or at it, for
    steps marked `own`)."""
    n = len(first_read)
    if n == 0:
        return first_read
    suffix = np.minimum.accumulate(first_read[::-1])[::-1]  # min over t..end
    strict = np.empty(n, dtype=np.int64)
    strict[:-1] = suffix[1:]
    strict[-1] = NO_READ
    if isinstance(own, (bool, np.bool_)):
        return suffix if own else strict
    return np.where(np.asarray(own, dtype=bool), suffix, strict)


def min_distance(steps: Steps) -> int:
    """D_min in bytes: the smallest offset(in) - offset(out) >= 0 that is safe."""
    later = later_min(steps.first_read, steps.own)
    live = (later < NO_READ) & (steps.write_end > 0)
    if not live.any():
        return 0
    return max(0, int(np.max(steps.write_end[live] - later[live])))


def max_overlap(distance: int, out_size: int, alignment: int) -> int:
    """The planner's `max_bytes` for an output buffer of `out_size` bytes
    (already aligned): offsets are multiples of `alignment`, so the distance
    actually usable is D_min rounded up to it."""
    return max(0, out_size - align_up(distance, alignment))


def combine(parts: list[Steps]) -> Steps:
    """One input fed to several positions of the same operator (ADD(x, x)):
    the same steps, reading the lower of the positions' first bytes."""
    first = parts[0].first_read
    for p in parts[1:]:
        first = np.minimum(first, p.first_read)
    own = parts[0].own
    for p in parts[1:]:
        own = np.logical_or(own, p.own)
    return Steps(parts[0].write_end, first, own)
