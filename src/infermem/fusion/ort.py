"""onnxruntime's CPU graph transformers at ORT_ENABLE_ALL: fixed patterns,
each one fused kernel — GELU, BiasGelu, FastGelu, LayerNorm, SkipLayerNorm,
MatMul + bias, MatMul + scale, Conv/Gemm + activation, Conv + Add +
activation (the table in docs/fusion.md).  Decompositions are found by
growing a region one post-dominator at a time from their first operator and
comparing the operator types it holds.  Every group is checked with `fits`
(`chunk.layout`): a pattern the executor cannot run is not fused.
"""

from __future__ import annotations

from collections import Counter

from ..graph import Graph, Role
from .dominators import Fits, between, post_dominators

GELU_ERF = Counter({"Erf": 1, "Add": 1})  # and two or three Mul/Div (x/sqrt(2), x*, *0.5)
ACTIVATIONS = frozenset({"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid"})
LAYERNORM = Counter({"ReduceMean": 2, "Sub": 1, "Pow": 1, "Add": 1, "Sqrt": 1, "Div": 1})


def _const(graph: Graph, name: str) -> bool:
    return bool(name) and graph.tensors[graph.root(name)].role is Role.WEIGHT


def _diamond_kind(graph: Graph, region: set[int], last: int) -> str | None:
    types = Counter(graph.operators[i].type for i in region)
    if types == LAYERNORM:
        return "layernorm"
    if graph.operators[last].type != "Mul":
        return None
    rest = types - GELU_ERF
    if types - rest == GELU_ERF and 2 <= sum(rest.values()) <= 3 and set(rest) <= {
            "Div", "Mul"}:
        return "gelu"
    if types["Tanh"] == 1 and types["Add"] >= 2 and set(types) <= {"Tanh", "Mul", "Pow", "Add"} \
            and 6 <= sum(types.values()) <= 8:
        return "fastgelu"
    return None


def _diamond(graph: Graph, ipdom: list[int | None], s: int):
    """(region, its last operator, its kind) of the decomposition that starts
    at operator `s`, grown one post-dominator at a time (LayerNorm's mean
    branch closes at Sub, its variance branch at Div)."""
    region, cur = {s}, s
    for _ in range(8):
        d = ipdom[cur]
        if d is None:
            break
        region |= between(graph, cur, d)
        kind = _diamond_kind(graph, region, d)
        if kind is not None:
            return region, d, kind
        cur = d
    return region, None, None


def _single_reader(graph: Graph, i: int) -> int | None:
    out = graph.operators[i].outputs[0]
    readers = graph.consumers.get(out, ())
    return readers[0] if len(readers) == 1 and out not in graph.outputs else None


def _with_const(graph: Graph, i: int, types: tuple[str, ...]) -> bool:
    op = graph.operators[i]
    return op.type in types and len(op.inputs) == 2 and any(_const(graph, t) for t in op.inputs)


def ort_groups(graph: Graph, fits: Fits) -> list[tuple[int, ...]]:
    """onnxruntime's CPU fusions (see the table in docs/fusion.md)."""
    ipdom = post_dominators(graph)
    taken: set[int] = set()
    groups: list[set[int]] = []

    def commit(group: set[int]) -> None:
        if len(group) > 1 and not group & taken and fits(group):
            groups.append(group)
            taken.update(group)

    for s in graph.file_order:  # GELU / FastGelu / LayerNorm decompositions
        if s in taken or graph.operators[s].type not in ("ReduceMean", "Div", "Mul", "Pow"):
            continue
        region, d, kind = _diamond(graph, ipdom, s)
        if kind is None:
            continue
        group, last = set(region), d
        for _ in range(2 if kind == "layernorm" else 1):  # gamma, beta / the 0.5
            nxt = _single_reader(graph, last)
            if nxt is None or not _with_const(graph, nxt, ("Mul", "Add")):
                break
            group.add(nxt)
            last = nxt
        p = graph.producers.get(graph.operators[s].inputs[0])
        commit(group | (_bias_or_skip(graph, p, kind, group) if p is not None else set()))
    for op in graph.operators:  # SkipLayerNormalization over the LayerNormalization op
        if op.type == "LayerNormalization" and op.index not in taken:
            producer = graph.producers.get(op.inputs[0])
            if producer is not None and _single_reader(graph, producer) == op.index:
                commit({op.index} | _bias_or_skip(graph, producer, "layernorm", {op.index}))
    for op in graph.operators:  # MatMul + bias (Gemm / MatMulAdd), MatMul + scale
        if op.type in ("MatMul", "Gemm") and op.index not in taken:
            nxt = _single_reader(graph, op.index)
            if nxt is not None and _with_const(graph, nxt, ("Add", "Mul", "Div")):
                commit({op.index, nxt})
    for op in graph.operators:  # Conv/Gemm + activation, Conv + Add (+ activation)
        if op.type in ("Conv", "Gemm") and op.index not in taken:
            commit(_conv_epilogue(graph, op.index))
    return sorted(tuple(sorted(g)) for g in groups)


def _conv_epilogue(graph: Graph, i: int) -> set[int]:
    """Conv Activation Fusion (and Gemm's), ConvAddActivationFusion: the
    activation, or the residual Add and its activation, after a Conv."""
    group, nxt = {i}, _single_reader(graph, i)
    if nxt is not None and graph.operators[i].type == "Conv" and (
            graph.operators[nxt].type == "Add"):
        group.add(nxt)
        nxt = _single_reader(graph, nxt)
    if nxt is not None and graph.operators[nxt].type in ACTIVATIONS:
        group.add(nxt)
    return group


def _bias_or_skip(graph: Graph, p: int, kind: str, group: set[int]) -> set[int]:
    """BiasGelu: the bias Add before a GELU.  SkipLayerNorm: the residual Add
    before a LayerNorm, with the bias Add before it.  Only when `group` reads
    all of the Add's output (one output per fused kernel here)."""
    op = graph.operators[p]
    readers = graph.consumers.get(op.outputs[0], ())
    if op.type != "Add" or len(op.inputs) != 2 or op.outputs[0] in graph.outputs or not set(
            readers) <= group:
        return set()
    if kind in ("gelu", "fastgelu"):
        return {p} if any(_const(graph, t) for t in op.inputs) else set()
    if kind != "layernorm" or any(_const(graph, t) for t in op.inputs):
        return set()
    out = {p}
    for t in op.inputs:
        q = graph.producers.get(t)
        if q is not None and _single_reader(graph, q) == p and _with_const(graph, q, ("Add",)):
            out.add(q)
            break
    return out
