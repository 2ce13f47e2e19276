"""Write an operator order back into a copy of the model file.

A runtime runs a `.tflite` subgraph's operators in the order they are listed
(TFLM does), and ONNX runtimes start from the node list; so the order a
schedule chooses only takes effect once the file lists it.  The source file is
never touched: the reordered model goes to `dst`, which must be another path.
"""

from __future__ import annotations

import heapq
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import BadInput, Failure
from ..graph import Graph, check_order
from ..outputs import atomic_path, check_output

OFFLINE_PLAN = "OfflineMemoryAllocation"


def _distinct(src: str | Path, dst: str | Path, force: bool) -> tuple[Path, Path]:
    """The source must exist; `dst` follows the output rules (`outputs.check_output`)."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise BadInput(f"{src}: no such file")
    return src, check_output(dst, [src], force=force)


# ---------------------------------------------------------------- ONNX


def write_order_onnx(src: str | Path, dst: str | Path, order: Sequence[int],
                     graph: Graph | None = None, force: bool = False) -> None:
    """Write the ONNX model at `src` to `dst` with its nodes listed in `order`
    (operator indices of `graph`, by default the graph the frontend loads).

    The frontend may fold or drop nodes (constants, identities), so operators
    are matched to nodes by the tensors they write.  Nodes no operator stands
    for are placed just before their first consumer, and the node list is
    rebuilt by a topological sort of the ONNX graph itself (outer-scope reads
    of If/Loop bodies included) that follows `order`; it is checked to list
    the operators exactly in `order`."""
    import onnx

    src, dst = _distinct(src, dst, force)
    if graph is None:
        from ..frontends import load

        graph = load(src)
    check_order(graph, order)
    try:
        model = onnx.load(str(src))
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        raise BadInput(f"{src}: not a readable ONNX model ({e})") from None
    nodes = list(model.graph.node)
    written = {o for n in nodes for o in n.output if o}
    for op in graph.operators:
        if not any(t in written for t in op.outputs):
            raise Failure(f"operator {op.index} ({op.type}) writes no tensor of {src}: "
                          "cannot tell which node it is")
    rank = {t: r for r, i in enumerate(order) for t in graph.operators[i].outputs if t}
    key = _node_keys(nodes, rank)
    new = _priority_toposort(nodes, key)
    listed = [key[j] for j in new if _mapped(nodes[j], rank)]
    if listed != sorted(listed):
        raise Failure("the ONNX file has dependencies the graph lacks: cannot list this order")
    del model.graph.node[:]
    model.graph.node.extend(nodes[j] for j in new)
    with atomic_path(dst) as tmp:
        onnx.save(model, str(tmp))


def _mapped(node, rank: dict[str, int]) -> bool:
    return any(o in rank for o in node.output)


def _reads(node) -> Iterable[str]:
    """Every tensor name a node reads, including names its subgraphs (If,
    Loop, Scan bodies) read from the enclosing scope."""
    yield from (t for t in node.input if t)
    for a in node.attribute:
        for g in (*([a.g] if a.HasField("g") else []), *a.graphs):
            for n in g.node:
                yield from _reads(n)


def _edges(nodes) -> list[list[int]]:
    """consumers[j]: nodes that read an output of node j."""
    producer = {o: j for j, n in enumerate(nodes) for o in n.output if o}
    consumers: list[list[int]] = [[] for _ in nodes]
    for j, n in enumerate(nodes):
        for t in set(_reads(n)):
            if t in producer and producer[t] != j:
                consumers[producer[t]].append(j)
    return consumers


def _node_keys(nodes, rank: dict[str, int]) -> list[float]:
    """Sort key per node: its operator's rank, or for an unmapped node the
    least key of its consumers (so it runs just before the first of them)."""
    consumers = _edges(nodes)
    key: list[float] = [float("inf")] * len(nodes)
    for j in reversed(_priority_toposort(nodes, [0.0] * len(nodes), consumers)):
        own = [rank[o] for o in nodes[j].output if o in rank]
        key[j] = min(own) if own else min((key[c] for c in consumers[j]), default=float("inf"))
    return key


def _priority_toposort(nodes, key: Sequence[float], consumers=None) -> list[int]:
    """Kahn's algorithm taking the least (key, file position) first."""
    consumers = _edges(nodes) if consumers is None else consumers
    indeg = [0] * len(nodes)
    for cs in consumers:
        for c in cs:
            indeg[c] += 1
    heap = [(key[j], j) for j in range(len(nodes)) if not indeg[j]]
    heapq.heapify(heap)
    out = []
    while heap:
        _, j = heapq.heappop(heap)
        out.append(j)
        for c in consumers[j]:
            indeg[c] -= 1
            if not indeg[c]:
                heapq.heappush(heap, (key[c], c))
    if len(out) != len(nodes):
        raise BadInput("the ONNX graph has a cycle: no node order can run it")
    return out


def _check_permutation(order: Sequence[int], n: int) -> None:
    if sorted(order) != list(range(n)):
        raise BadInput(f"an order must name each of the {n} operators exactly once")


# -------------------------------------------------------------- TFLite

# Operators with effects beyond their outputs: moving them could change results.
_STATEFUL = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


def write_order_tflite(src: str | Path, dst: str | Path, order: Sequence[int],
                       force: bool = False) -> None:
    """Write the `.tflite` at `src` to `dst` with subgraph 0's operators listed
    in `order` (positions in subgraph 0, which are the tflite frontend's
    operator indices).

    The order is checked against the file's own data flow.  A stale
    OfflineMemoryAllocation entry is dropped: its offsets were planned for the
    old order and TFLM would trust them blindly; plan the new order afresh.
    Buffers are re-aligned with TFLM's own aligner (the Python flatbuffers
    packer ignores the schema's force_align)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    from ..frontends.tflite import read_model

    src, dst = _distinct(src, dst, force)
    model = read_model(src)  # the object tree, after the guarded walk (>= 1 subgraph)
    sg = model.subgraphs[0]
    ops = list(sg.operators or [])
    _check_permutation(order, len(ops))
    if list(order) != list(range(len(ops))):
        _refuse_stateful(model, ops, tfl)
    _check_flow(sg, [ops[i] for i in order])
    sg.operators = [ops[i] for i in order]
    model.metadata = [m for m in model.metadata or [] if _name(m.name) != OFFLINE_PLAN] or None
    _pack(model, dst, tfl)


def _name(name) -> str:
    return name.decode() if isinstance(name, bytes) else str(name)


def _refuse_stateful(model, ops, tfl) -> None:
    names = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")}
    for op in ops:
        code = model.operatorCodes[op.opcodeIndex]
        name = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "")
        if name in _STATEFUL:
            raise BadInput(f"the model has {name} operators: reordering could change its results")


def _check_flow(sg, ops) -> None:
    """Each operator must come after the operators writing its inputs."""
    writer = {int(t): k for k, op in enumerate(ops) for t in _ints(op.outputs)}
    for k, op in enumerate(ops):
        for t in _ints(op.inputs):
            if t >= 0 and writer.get(t, -1) > k:
                raise BadInput(f"this order runs an operator before the one writing tensor {t}")


def _ints(vector) -> list[int]:
    return [] if vector is None else [int(t) for t in vector]


def _pack(model, dst: Path, tfl) -> None:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.tools import tflite_flatbuffer_align_wrapper

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with tempfile.TemporaryDirectory(prefix="infermem-order-") as work, atomic_path(dst) as out:
        packed = Path(work, "packed.tflite")
        packed.write_bytes(builder.Output())
        out.unlink()  # the aligner writes a fresh file
        tflite_flatbuffer_align_wrapper.align_tflite_model(str(packed), str(out))
        if not out.is_file():
            raise Failure(f"{dst}: TFLM's flatbuffer aligner wrote nothing")
