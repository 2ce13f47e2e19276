"""The kernel registry: ONNX op_type -> kernel class, one small class per operator.

`kernel_for(op, graph)` binds an operator to its kernel, or returns None for
an operator that moves no bytes (a view op whose output aliases its input,
a Q/DQ whose integer and float sides share bytes).  Unsupported operators
are refused up front, each type named with the first node that uses it
(`infermem verify --list-ops` prints what is supported).
"""

from __future__ import annotations

from ...errors import BadInput
from ...graph import Graph, Operator
from . import (  # noqa: F401
    attention,
    axis,
    axismap,
    conv,
    convt,
    elementwise,
    fused,
    gather,
    loss,
    matmul,
    matrix,
    norm,
    pool,
    qlinear,
    quant,
    reduce,
    resize,
    rnn,
    shape,
)
from .base import CHUNK_ELEMS, Kernel, KernelIO
from .registry import KERNELS, register

__all__ = ["CHUNK_ELEMS", "KERNELS", "Kernel", "KernelIO", "kernel_for", "register",
           "supported", "check_supported"]

# Operators that do nothing when their output and input share one root buffer.
NO_BYTES_WHEN_SHARED = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
                                  "Dropout", "QuantizeLinear", "DequantizeLinear"})


def supported() -> list[str]:
    """The ONNX operator types the executor runs (not its own FusedGroup)."""
    return sorted(k for k in KERNELS if k != "FusedGroup")


def moves_no_bytes(op: Operator, graph: Graph) -> bool:
    """True for operators whose outputs already hold their values once the
    inputs do: views (Reshape, ... aliased by the frontend) and the Q/DQ
    operators of a QDQ model whose two sides are one integer tensor."""
    outs = [t for t in op.outputs if t]
    if op.type not in NO_BYTES_WHEN_SHARED or not outs or not op.inputs or not op.inputs[0]:
        return False
    return len(outs) == 1 and graph.root(outs[0]) == graph.root(op.inputs[0])


def check_supported(graph: Graph) -> None:
    first: dict[str, Operator] = {}
    for op in graph.operators:
        if op.type not in KERNELS and not moves_no_bytes(op, graph):
            first.setdefault(op.type, op)
    if first:
        named = ", ".join(f"{t} (node {op.index} {op.name!r})" for t, op in sorted(first.items()))
        raise BadInput(f"the arena executor has no kernel for operator type(s) {named} "
                       f"(model {graph.name!r}; `infermem verify --list-ops` lists the "
                       "supported ones)")


def kernel_for(op: Operator, graph: Graph) -> Kernel | None:
    if moves_no_bytes(op, graph):
        return None
    cls = KERNELS.get(op.type)
    if cls is not None and hasattr(cls, "pick"):
        cls = cls.pick(op, graph)  # one operator, two kernels (e.g. Gather by its indices)
    if cls is None:
        raise BadInput(f"operator {op.index} ({op.type} {op.name!r}): the arena executor has "
                       f"no kernel for {op.type}")
    return cls(op, graph)
