"""Fusion-aware plans: the graph as a fusing runtime runs it.

Runtimes such as TVM and onnxruntime run chains of operators as one kernel
(element-wise chains, bias + activation after a MatMul, LayerNorm and GELU
decompositions, softmax of the scaled and masked attention scores), so the
intermediates inside a chain never exist in memory.  A plan that ignores
this overstates a transformer's arena; one that assumes it must run fused
to be proven.

    fusion = find(graph, "tvm")          # the groups, each with its chunked layout
    fused = fused_graph(graph, fusion)   # one FusedGroup operator per group

In the fused graph a group is one operator: it reads the group's external
inputs (they stay live until the group ends), writes the group's output
(which keeps its own buffer) and a scratch tensor that lives for that step
only: one chunk of every intermediate (`chunk.Layout`).  Everything else —
lifetimes, planners, reordering, DMO, the arena executor — works on the fused
graph unchanged; the executor runs a FusedGroup chunk by chunk
(`runtime/kernels/fused.py`), so `verify --fuse` proves the plan.

The rules per runtime are in `tvm.py` and `ort.py` (over `dominators.py`), the
table in docs/fusion.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..errors import BadInput
from ..graph import Graph, Operator, Role, Tensor
from .chunk import Layout, layout

RUNTIMES: Mapping[str, str] = {
    "tvm": "TVM Relax default pipeline (FuseOps + FuseTIR by op pattern kind)",
    "ort": "onnxruntime CPU provider, ORT_ENABLE_ALL graph transformers",
}
DEFAULT_RUNTIME = "tvm"
FUSED_TYPE = "FusedGroup"

__all__ = ["DEFAULT_RUNTIME", "FUSED_TYPE", "RUNTIMES", "Fusion", "Layout", "find",
           "fused_graph", "fuse"]


@dataclass(frozen=True)
class Fusion:
    """The groups one runtime's rules form on a graph, each with its layout."""

    runtime: str
    layouts: tuple[Layout, ...]
    saved_bytes: int  # bytes of the intermediates that get no arena space (unaligned)

    def describe(self) -> str:
        n = sum(len(x.ops) for x in self.layouts)
        return (f"fusion ({self.runtime}: {RUNTIMES[self.runtime]}): {len(self.layouts)} "
                f"group(s) of {n} operators; {self.saved_bytes:,} B of intermediates never "
                "in the arena")

    def to_json(self) -> dict:
        return {"runtime": self.runtime, "groups": len(self.layouts),
                "fused_operators": sum(len(x.ops) for x in self.layouts),
                "intermediate_bytes_removed": self.saved_bytes,
                "scratch_bytes_max": max((x.scratch_bytes for x in self.layouts), default=0)}


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise BadInput(f"--fuse {runtime!r}: unknown runtime; choose one of "
                       f"{', '.join(RUNTIMES)}")
    return runtime


def find(graph: Graph, runtime: str = DEFAULT_RUNTIME, alignment: int = 16) -> Fusion:
    """The groups `runtime` fuses in `graph`, restricted to those the arena
    executor runs chunk by chunk."""
    from .ort import ort_groups
    from .tvm import tvm_groups

    check_runtime(runtime)
    if graph.format != "onnx":
        raise BadInput(f"{graph.source or graph.name}: --fuse plans ONNX graphs as TVM or "
                       "onnxruntime fuse them; a .tflite is planned as TFLM runs it (its "
                       "activations are already fused into the operators)")

    def fits(ops) -> bool:
        return isinstance(layout(graph, tuple(ops), alignment), Layout)

    rule = tvm_groups if runtime == "tvm" else ort_groups
    layouts = tuple(layout(graph, g, alignment) for g in rule(graph, fits))
    saved = sum(graph.tensors[t].nbytes for x in layouts for t in x.internal)
    return Fusion(runtime, layouts, saved)


def fused_graph(graph: Graph, fusion: Fusion) -> Graph:
    """`graph` with every group as one FusedGroup operator at its last
    operator's place (a valid order: a group's inputs are all made before
    its last operator), its intermediates gone and its scratch added."""
    if not fusion.layouts:
        return graph
    last = {x.ops[-1]: x for x in fusion.layouts}
    inner = {i for x in fusion.layouts for i in x.ops[:-1]}
    tensors = dict(graph.tensors)
    ops: list[Operator] = []
    for op in graph.operators:
        if op.index in inner:
            continue
        x = last.get(op.index)
        if x is None:
            ops.append(replace(op, index=len(ops)))
            continue
        for t in x.internal:
            del tensors[t]
        outs = (x.output,)
        if x.scratch_bytes:
            name = f"{x.output}#fused_scratch"
            tensors[name] = Tensor(name, (x.scratch_bytes,), "uint8", Role.ACTIVATION)
            outs += (name,)
        types = "+".join(graph.operators[i].type for i in x.ops)
        ops.append(Operator(len(ops), FUSED_TYPE, x.inputs, outs,
                            {"layout": x, "graph": graph}, f"fused[{types}]"))
    return replace(graph, tensors=tensors, operators=tuple(ops),
                   meta={**graph.meta, "fusion": fusion.runtime})


def fuse(graph: Graph, runtime: str = DEFAULT_RUNTIME, alignment: int = 16) -> Graph:
    """`fused_graph(graph, find(graph, runtime, alignment))`."""
    return fused_graph(graph, find(graph, runtime, alignment))
