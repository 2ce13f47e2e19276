"""Method 2: the safe overlap from a recorded trace of the kernel's accesses.

The reference kernels in `ref_window` and `ref_elementwise` are Python/numpy
re-implementations of TFLM's reference kernels with the loop nest spelled
out: the outer (step) loops and the inner (tap) loops are index grids built in
TFLM's nesting order, every input element a step reads is gathered through
the recorded index array (so the values computed are exactly the values read),
and every output element is stored through the recorded write index.  A
kernel returns its output and a `Trace` of those indices; `trace_steps` turns
the trace into byte positions and `access.min_distance` into the safe
distance.  The kernels are tested against TFLM's own outputs (bit-exact where
TFLM's arithmetic is reproduced), which is what ties the trace to the kernel
that really runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..graph import Graph, Operator, dtype_size
from .access import NO_READ, Steps, min_distance


@dataclass(frozen=True)
class Trace:
    """Accesses of one kernel run, step by step in loop order.

    `writes[t]`: output elements written at step t (-1 pads a row);
    `reads[pos][t]`: elements of input `pos` read at step t, before that
    step's writes (-1 pads); `own`: the step's writes may precede its reads
    (memcpy)."""

    writes: np.ndarray
    reads: Mapping[int, np.ndarray] = field(default_factory=dict)
    own: bool = False


Kernel = Callable[[Operator, Graph, Sequence[np.ndarray]], tuple[np.ndarray, Trace]]


def _rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    return a[:, None] if a.ndim == 1 else a


def trace_steps(trace: Trace, positions: Sequence[int], in_width: int, out_width: int) -> Steps:
    """Byte-level steps of `trace` for the input fed to `positions`."""
    w = _rows(trace.writes)
    write_end = np.where(w.max(axis=1) >= 0, (w.max(axis=1) + 1) * out_width, 0)
    first = np.full(len(w), NO_READ, dtype=np.int64)
    for pos in positions:
        r = trace.reads.get(pos)
        if r is None:
            continue
        r = _rows(r)
        lowest = np.where(r >= 0, r, NO_READ).min(axis=1)
        first = np.minimum(first, np.where(lowest < NO_READ, lowest * in_width, NO_READ))
    return Steps(write_end, first, trace.own)


def kernels() -> dict[str, Kernel]:
    from .ref_elementwise import KERNELS as EW
    from .ref_window import KERNELS as WIN

    return {**WIN, **EW}


def random_value(graph: Graph, name: str, rng: np.random.Generator) -> np.ndarray:
    """A tensor's constant data, or seeded random data shaped and typed like it."""
    t = graph.tensors[name]
    if t.data is not None:
        return np.asarray(t.data).reshape(t.shape)
    dt = np.dtype(t.dtype)
    if dt.kind == "f":
        return rng.standard_normal(t.shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=t.shape, endpoint=True).astype(dt)


def run_op(op: Operator, graph: Graph, values: Sequence[np.ndarray]) -> tuple[np.ndarray, Trace]:
    """Run one operator's reference kernel on `values` (one per op input, None
    for an absent optional input); KeyError if there is no kernel."""
    return kernels()[op.type](op, graph, values)


def traced_distance(
    graph: Graph, op: Operator, positions: Sequence[int], seed: int = 0
) -> int | str:
    """D_min from one traced run of `op`'s reference kernel on seeded random
    inputs (the access order of these kernels does not depend on the data)."""
    fn = kernels().get(op.type)
    if fn is None:
        return f"no traced reference kernel for {op.type}"
    rng = np.random.default_rng(seed)
    vals = [random_value(graph, t, rng) if t else None for t in op.inputs]
    try:
        _, trace = fn(op, graph, vals)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        return f"{op.type} kernel cannot run: {e}"
    x = graph.tensors[op.inputs[positions[0]]]
    y = graph.tensors[op.outputs[0]]
    return min_distance(trace_steps(trace, positions, dtype_size(x.dtype), dtype_size(y.dtype)))


def run_graph(
    graph: Graph, inputs: Sequence[np.ndarray]
) -> tuple[list[np.ndarray], dict[int, Trace]]:
    """Run the whole graph, operator by operator in file order, with the
    reference kernels; the graph outputs and every operator's trace."""
    env: dict[str, np.ndarray] = dict(zip(graph.inputs, inputs, strict=True))
    traces = {}
    for op in graph.operators:
        vals = [
            (env[t] if t in env else np.asarray(graph.tensors[t].data).reshape(
                graph.tensors[t].shape)) if t else None
            for t in op.inputs
        ]  # fmt: skip
        out, traces[op.index] = run_op(op, graph, vals)
        env[op.outputs[0]] = out
    return [env[t] for t in graph.outputs], traces
