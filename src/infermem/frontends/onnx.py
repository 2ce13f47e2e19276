"""ONNX file -> infermem Graph.

The pipeline, each step a refusal point for what we cannot count honestly:

1. parse the protobuf without its large weights (`onnx_weights.open_model`,
   `onnx_load.parse_model`), refuse control flow and unknown operators, map
   weights (inline, or external data only from inside the model's folder);
2. fix the graph inputs' shapes (`--input-shape`), refuse dynamic ones;
3. fold constants and run ONNX shape inference until nothing folds
   (`onnx_fold`), so weights computed in the file are weights;
4. build the Graph: weights with their values (read-only views over a map
   of the file, read only when used), activations with static
   shapes, view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout)
   as aliases of their input, QDQ tensors counted as deployed (`onnx_qdq`).

Conventions: `Graph.format == "onnx"`, operator `type` is the ONNX op_type
('domain::OpType' outside the default domain), `attrs` are plain Python
values (numpy arrays for tensor attributes), tensor `index` is None, and an
absent optional input or an unused optional output is ''.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from ..errors import BadInput
from ..graph import Graph, Operator, Role, Tensor
from . import onnx_load as L
from . import onnx_weights as W
from .onnx_attrs import check_attributes, check_windows
from .onnx_fold import Dims, Shapes, fold_and_infer, is_static
from .onnx_qdq import dequantized_views, is_qdq, quant_params

# Operators whose (first) output is a view of their first input: no new bytes.
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
PROTOBUF_LIMIT = (1 << 31) - 1


def load_onnx(path: Path, input_shapes: Mapping[str, tuple[int, ...]]) -> Graph:
    """Read an .onnx file (never modified) into a Graph; BadInput for anything wrong."""
    path = Path(path)
    try:
        if path.stat().st_size > PROTOBUF_LIMIT:
            raise BadInput(
                f"{path}: not a valid ONNX model (over protobuf's 2 GiB limit; "
                f"models this large keep their weights in external data)"
            )
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror or e})") from None
    model, weights = W.open_model(path)
    try:
        graph = graph_from_model(model, input_shapes, name=path.stem, weights=weights)
    except BadInput as e:
        raise BadInput(f"{path}: {e}") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as e:
        raise BadInput(f"{path}: not a valid ONNX model ({L.one_line(e)})") from None
    return dataclasses.replace(graph, source=str(path))


def graph_from_model(
    model: onnx.ModelProto,
    input_shapes: Mapping[str, tuple[int, ...]] = {},  # noqa: B006 (read only)
    name: str = "model",
    base_dir: Path | None = None,
    weights: W.WeightFiles | None = None,
) -> Graph:
    """A ModelProto (whole model or a single-node test case) -> Graph.  Weights
    outside the proto (external data, or stripped by `onnx_weights.open_model`)
    are views over memory maps (`weights`; by default the files in `base_dir`)."""
    weights = weights or W.WeightFiles(base_dir)
    L.check_skeleton(model, name)
    if model.functions:
        model = inline_functions(model)
    L.check_no_control_flow(model.graph)
    if model.graph.sparse_initializer:
        raise BadInput("not supported: sparse initializers")
    opset = L.default_opset(model)
    L.check_operators_known(model.graph, opset)
    check_attributes(list(enumerate(model.graph.node)))
    initializer_names = {t.name for t in model.graph.initializer}
    declared = [vi for vi in model.graph.input if vi.name not in initializer_names]
    try:
        inputs = L.fix_input_shapes(declared, input_shapes)  # cheap refusals before the weights
    except L.DynamicInputs as e:
        from .onnx_suggest import suggestion

        model, consts, _ = constants(model, weights)
        raise BadInput(suggestion(model, declared, input_shapes, e.dynamic, consts)) from None
    model, consts, mapped = constants(model, weights)
    nodes, shapes = fold_and_infer(model, inputs, consts, not input_shapes, opset, mapped)
    check_windows(nodes, shapes, consts)
    return build_graph(model, name, inputs, nodes, shapes, consts, opset)


def constants(model: onnx.ModelProto, weights: W.WeightFiles
              ) -> tuple[onnx.ModelProto, dict[str, np.ndarray], frozenset[str]]:
    """Initializers and the Constant nodes whose tensors live outside the proto,
    as views over maps (their names too: folding takes them as folded); the
    model with any other attribute tensor outside it read in."""
    keep = {o.name for o in model.graph.output}
    mapped = W.mapped_constants(model.graph, weights, keep)
    model = W.read_in_attributes(model, weights, mapped.keys())
    return model, {**W.initializer_weights(model.graph, weights), **mapped}, frozenset(mapped)


def inline_functions(model: onnx.ModelProto) -> onnx.ModelProto:
    """Model-local functions become plain nodes, so every operator is a real one."""
    try:
        from onnx import inliner

        return inliner.inline_local_functions(model)
    except Exception as e:
        raise BadInput(f"cannot inline the model's local functions: {L.one_line(e)}") from None


# --- building the Graph -----------------------------------------------------------------


def build_graph(
    model: onnx.ModelProto,
    name: str,
    inputs: Sequence[onnx.ValueInfoProto],
    nodes: Sequence[tuple[int, onnx.NodeProto]],
    shapes: Shapes,
    consts: Mapping[str, np.ndarray],
    opset: int,
) -> Graph:
    graph_outputs = [o.name for o in model.graph.output]
    out_set = set(graph_outputs)
    read = {i for _, n in nodes for i in n.input if i} | out_set
    ops = [
        Operator(
            index=k,
            type=L.op_name(node),
            inputs=tuple(node.input),
            outputs=pruned_outputs(node, read, opset),
            attrs=plain_attrs(node),
            name=node.name,
        )
        for k, (_, node) in enumerate(nodes)
    ]
    input_names = tuple(vi.name for vi in inputs)
    is_input = set(input_names)  # membership tests: a tuple would make wide graphs quadratic
    producer = {o: (i, op) for (i, _), op in zip(nodes, ops, strict=True) for o in op.outputs if o}
    for o in graph_outputs:
        if o not in producer and o not in consts and o not in is_input:
            raise BadInput(f"graph output {o!r} is written by no operator")
    aliases = alias_map(ops, out_set)
    quants = quant_params(
        [(op.type, op.inputs, op.outputs) for op in ops],
        [op.attrs for op in ops],
        consts,
        {
            **{k: len(d) for k, (_, d) in shapes.items() if d is not None},
            **{k: a.ndim for k, a in consts.items()},
        },
    )
    tensors: dict[str, Tensor] = {}

    def add(tname: str) -> None:
        if not tname or tname in tensors:
            return
        if tname in consts:
            role = Role.OUTPUT if tname in out_set else Role.WEIGHT
            arr = consts[tname]
            tensors[tname] = Tensor(
                tname, tuple(arr.shape), dtype_name(arr), role, quant=quants.get(tname), data=arr
            )
            return
        if tname in is_input:
            role = Role.INPUT
        elif tname in out_set:
            role = Role.OUTPUT
        else:
            role = Role.ALIAS if tname in aliases else Role.ACTIVATION
        etype, dims = shapes.get(tname, (0, None))
        if tname in producer:
            check_static(tname, dims, *producer[tname])
        elif not is_static(dims):
            raise BadInput(f"tensor {tname!r} is read but written by no operator")
        tensors[tname] = Tensor(
            tname,
            tuple(int(d) for d in dims),
            L.elem_dtype(etype, tname),
            role,
            alias_of=aliases.get(tname) if role is Role.ALIAS else None,
            quant=quants.get(tname),
        )

    for n in input_names:
        add(n)
    for op in ops:
        for t in (*op.inputs, *op.outputs):
            add(t)
    for n in graph_outputs:
        add(n)
    for t in tensors.values():
        t.nbytes  # noqa: B018 -- refuses negative or absurd sizes now, not later
    graph = Graph(
        name=name,
        format="onnx",
        tensors=tensors,
        operators=tuple(ops),
        inputs=input_names,
        outputs=tuple(graph_outputs),
        meta=model_meta(model, ops, len(model.graph.node) - len(ops)),
    )
    graph.file_order  # noqa: B018 -- BadInput if the file is not topologically sorted
    return graph


def alias_map(ops: Sequence[Operator], graph_outputs: set[str]) -> dict[str, str]:
    """View outputs -> their input, then QDQ's dequantized views (onnx_qdq)."""
    views = {
        op.outputs[0]: op.inputs[0]
        for op in ops
        if op.type in VIEW_OPS and op.inputs and op.inputs[0] and op.outputs[0]
        if op.outputs[0] not in graph_outputs
    }
    if not is_qdq([op.type for op in ops]):
        return views  # no Q/DQ operator: no dequantized view to find
    consumers: dict[str, list[int]] = {}
    for op in ops:
        for t in dict.fromkeys(op.inputs):
            if t:
                consumers.setdefault(t, []).append(op.index)
    triples = [(op.type, op.inputs, op.outputs) for op in ops]
    qdq = dequantized_views(triples, consumers, graph_outputs, set(views))
    return {**qdq, **views}


def check_static(tname: str, dims: Dims | None, file_index: int, op: Operator) -> None:
    if is_static(dims):
        return
    where = f"{op.name!r} ({op.type})" if op.name else f"#{file_index} ({op.type})"
    domain = op.type.split("::")[0] if "::" in op.type else ""
    if domain and not onnx.defs.has(op.type.split("::")[1], domain):
        raise BadInput(
            f"cannot infer the output shape of node {where}: unknown operator {op.type!r}"
        )
    if dims is None:
        detail = "no shape at all (rank unknown)"
    else:
        loose = [k for k, d in enumerate(dims) if not isinstance(d, int) or d < 0]
        detail = f"shape {list(dims)}, dim(s) {loose} unresolved"
    raise BadInput(
        f"cannot infer a static shape for {tname!r}, output of node {where}: {detail} "
        f"(its size depends on data, or on an operator shape inference cannot follow)"
    )


def pruned_outputs(node: onnx.NodeProto, read: set[str], opset: int) -> tuple[str, ...]:
    """Outputs, with '' for optional ones nobody reads (Dropout's mask, MaxPool's
    Indices): a runtime that is not asked for them does not write them."""
    outs = list(node.output)
    if all(o in read for o in outs if o):
        return tuple(outs)
    schema = optional_outputs(node.op_type, node.domain, opset)
    return tuple("" if i in schema and o not in read else o for i, o in enumerate(outs))


_OPTIONAL: dict[tuple[str, str, int], frozenset[int]] = {}


def optional_outputs(op_type: str, domain: str, opset: int) -> frozenset[int]:
    key = (op_type, domain, opset)
    if key not in _OPTIONAL:
        optional = onnx.defs.OpSchema.FormalParameterOption.Optional
        try:
            schema = onnx.defs.get_schema(op_type, opset, "" if domain == "ai.onnx" else domain)
            found = frozenset(i for i, p in enumerate(schema.outputs) if p.option == optional)
        except onnx.defs.SchemaError:
            found = frozenset()
        _OPTIONAL[key] = found
    return _OPTIONAL[key]


def plain_attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: plain_value(a) for a in node.attribute}


def plain_value(a: onnx.AttributeProto) -> Any:
    """AttributeProto -> int, float, str, list, or ndarray (for tensors)."""
    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, onnx.TensorProto):
        return L.tensor_to_array(v)
    if isinstance(v, list):
        return [plain_item(x) for x in v]
    if isinstance(v, (onnx.SparseTensorProto, onnx.TypeProto)):
        return str(v)
    return v


def plain_item(x: Any) -> Any:
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, onnx.TensorProto):
        return L.tensor_to_array(x)
    return x


def dtype_name(arr: np.ndarray) -> str:
    return "object" if arr.dtype.kind in "OUSV" else arr.dtype.name


def model_meta(model: onnx.ModelProto, ops: Sequence[Operator], folded: int) -> dict[str, Any]:
    opsets = {o.domain or "": int(o.version) for o in model.opset_import}
    return {
        "opset": opsets.get("", opsets.get("ai.onnx", 0)),
        "opsets": opsets,
        "ir_version": int(model.ir_version),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "qdq": is_qdq([op.type for op in ops]),
        "folded_nodes": folded,
    }
