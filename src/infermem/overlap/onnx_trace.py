"""Method 2 for ONNX: the safe overlap from the arena executor's own trace.

The executor records, in tracing mode, the exact arena byte ranges every
chunk of every kernel reads and writes (runtime/trace.py).  One run of the
whole graph at a plan without overlaps gives, per operator, the bytes of each
input read and of the output written, chunk by chunk, relative to each
tensor's first byte; reads precede writes within a chunk.  That is the
`access.Steps` picture directly, in bytes, from the kernel that runs.
"""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from .access import NO_READ, Steps, min_distance

_CACHE: dict[int, tuple[Graph, dict[tuple[int, str], int]]] = {}


def traced_distances(graph: Graph, seed: int = 0,
                     inputs: dict | None = None) -> dict[tuple[int, str], int]:
    """(operator index, input root tensor) -> D_min, for every operator the
    executor runs, from one traced run on seeded random inputs (or `inputs`)."""
    hit = _CACHE.get(id(graph))
    if inputs is None and hit is not None and hit[0] is graph:
        return hit[1]
    from ..lifetimes import problem
    from ..planners import plan
    from ..runtime.executor import run
    from ..runtime.verify import random_inputs

    p = plan(problem(graph), "best")
    _, trace = run(graph, p, random_inputs(graph, seed) if inputs is None else inputs,
                   trace=True)
    out: dict[tuple[int, str], int] = {}
    for i in trace.ops():
        op = graph.operators[i]
        if not op.outputs or not op.outputs[0]:
            continue  # the rules cover an operator's first output only
        dst = graph.root(op.outputs[0])
        writes = [r[:, 1].max() if len(r) else 0 for r in trace.relative(i, dst, "writes")]
        for t in dict.fromkeys(x for x in op.inputs if x):
            src = graph.root(t)
            if src not in trace.offsets or src == dst:
                continue
            reads = [r[:, 0].min() if len(r) else NO_READ for r in trace.relative(i, src, "reads")]
            s = Steps(np.array(writes, dtype=np.int64), np.array(reads, dtype=np.int64))
            out[(i, src)] = min_distance(s)
    if inputs is None:
        if len(_CACHE) > 4:
            _CACHE.clear()
        _CACHE[id(graph)] = (graph, out)
    return out


def onnx_traced(graph: Graph, op_index: int, input_name: str) -> int | str:
    d = traced_distances(graph).get((op_index, graph.root(input_name)))
    return "the executor's trace has no chunk of this operator" if d is None else d


def rule_mismatches(graph: Graph, inputs: dict | None = None) -> list[str]:
    """Every analytic rule (onnx_rules) whose distance differs from the one the
    executor's trace of a run (seeded random inputs, or `inputs`) gives: the
    check that each rule is the chunk order the kernel really runs."""
    from ..lifetimes import problem
    from . import prove

    traced = traced_distances(graph, inputs=inputs)
    bad = []
    for p in prove(graph, None, problem(graph)):
        t = traced.get((p.op_index, p.input))
        if t is None and not p.input_bytes:
            continue  # an empty tensor: no chunk ran
        if p.distance is not None and p.distance != t:
            bad.append(f"{graph.name}: operator {p.op_index} ({p.op_type}) over {p.input}: "
                       f"rule {p.distance}, trace {t}")
    return bad
