"""Shape inference and constant folding for the ONNX frontend.

Weights must count as weights even when a file computes them: the model-zoo
"light" models store every weight as `ConstantOfShape`, exporters emit
`Shape -> Gather -> Concat -> Reshape` chains, and `Constant` nodes hold
tensors.  We fold every node whose inputs are all known (and `Shape`/`Size`
of a tensor whose shape inference made static), alternating with ONNX's own
shape inference until nothing more folds.

Why it is fast on big models: shape inference runs on a *skeleton* model that
carries only small constants (shape arithmetic needs their values, nothing
else does); large weights are declared as typed inputs.  The common folds are
plain numpy; only rare ops go through `onnx.reference` on a one-node graph.
`ConstantOfShape` folds to a zero-stride `np.broadcast_to` view, so a 500 MB
light VGG costs no memory; onnx_fold_budget decides, before computing, which
other folds can be views and which would cost too much to materialise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import BadInput
from ..graph import tensor_bytes
from .onnx_fold_budget import FoldAllowance, estimate_bytes, footprint, view_fold
from .onnx_load import DEFAULT_DOMAINS, describe, dims_of, elem_dtype, one_line, run_checker

Dims = tuple[int | str, ...]
Shapes = dict[str, tuple[int, Dims | None]]  # name -> (ONNX elem_type, dims)

# Kept as operators: DequantizeLinear is how a QDQ model marks its integer
# weights (see onnx_qdq); random ops must draw at run time.
NEVER_FOLD = frozenset(
    {
        "DequantizeLinear",
        "RandomNormal",
        "RandomUniform",
        "RandomNormalLike",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)
SKELETON_MAX_ELEMENTS = 1024  # constants up to this size keep their values for data_prop
# Rounds stop as soon as one folds nothing.  A deep graph can need one round per
# layer: GPT-2 exports slice each layer's causal mask by lengths read from the
# previous layer's output Shape, known only once that slice is folded.
MAX_FOLD_ROUNDS = 128


def is_static(dims: Dims | None) -> bool:
    return dims is not None and all(isinstance(d, int) and d >= 0 for d in dims)


def known(shapes: Shapes, name: str) -> bool:
    """Does inference give `name` an element type and a static shape?"""
    return name in shapes and shapes[name][0] != 0 and is_static(shapes[name][1])


# --- shape inference on a skeleton ------------------------------------------------------


def skeleton(
    model: onnx.ModelProto,
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    consts: Mapping[str, np.ndarray],
    keep_value_info: bool,
) -> onnx.ModelProto:
    """A model with `nodes`, the real graph inputs, and the constants they read:
    small ones as initializers, large ones as typed inputs without data."""
    used = {i for n in nodes for i in n.input if i} | {o.name for o in model.graph.output}
    small, declared = [], []
    for name in used:
        if name not in consts:
            continue
        arr = consts[name]
        if arr.size <= SKELETON_MAX_ELEMENTS and arr.dtype != object:
            small.append(numpy_helper.from_array(arr, name))
        else:
            etype = helper.np_dtype_to_tensor_dtype(arr.dtype)
            declared.append(helper.make_tensor_value_info(name, etype, arr.shape))
    outputs = [o if keep_value_info else untyped_shape(o) for o in model.graph.output]
    graph = helper.make_graph(
        list(nodes),
        model.graph.name or "g",
        [*inputs, *declared],
        outputs,
        small,
        value_info=list(model.graph.value_info) if keep_value_info else [],
    )
    skel = helper.make_model(graph, opset_imports=list(model.opset_import))
    skel.ir_version = max(int(model.ir_version), 4)
    return skel


def untyped_shape(vi: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    """A graph output's declaration without its (possibly stale) shape."""
    new = onnx.ValueInfoProto()
    new.CopyFrom(vi)
    if new.type.HasField("tensor_type"):
        new.type.tensor_type.ClearField("shape")
    return new


def infer(skel: onnx.ModelProto) -> Shapes:
    """ONNX shape inference (non-strict, with data propagation when it works)."""
    inferred = None
    for data_prop in (True, False):
        try:
            inferred = onnx.shape_inference.infer_shapes(
                skel, check_type=False, strict_mode=False, data_prop=data_prop
            )
            break
        except Exception as e:
            error = e
    if inferred is None:
        raise BadInput(f"ONNX shape inference failed: {one_line(error)}")
    g = inferred.graph
    shapes: Shapes = {}
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.type.HasField("tensor_type"):
            shapes[vi.name] = (vi.type.tensor_type.elem_type, dims_of(vi))
    return shapes


# --- evaluating one constant node ---------------------------------------------------------


def attrs_of(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def axes_arg(node: onnx.NodeProto, args: list[np.ndarray | None], at: dict) -> list[int] | None:
    """Unsqueeze/Squeeze axes: an attribute before opset 13, input 1 after."""
    if "axes" in at:
        return list(at["axes"])
    if len(args) > 1 and args[1] is not None:
        return [int(a) for a in args[1].reshape(-1)]
    return None


def fold_constant(at: dict) -> np.ndarray | None:
    if "value" in at:
        return numpy_helper.to_array(at["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32)):
        if key in at:
            return np.array(at[key], dtype=dtype)
    for key in ("value_int", "value_ints"):
        if key in at:
            return np.array(at[key], dtype=np.int64)
    for key in ("value_string", "value_strings"):
        if key in at:
            v = at[key]
            strings = [s.decode() for s in v] if isinstance(v, list) else v.decode()
            return np.array(strings, dtype=object)
    return None  # sparse_value: leave it to the reference evaluator


def fold_constant_of_shape(node, args, at) -> np.ndarray:
    shape = tuple(int(d) for d in args[0].reshape(-1))
    value = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
    tensor_bytes(shape, value.dtype.name, node.output[0])
    return np.broadcast_to(value.reshape(()), shape)  # zero-stride: no bytes spent


def fold_reshape(args, at) -> np.ndarray:
    x, target = args[0], [int(d) for d in args[1].reshape(-1)]
    if not at.get("allowzero", 0):
        target = [x.shape[i] if d == 0 and i < x.ndim else d for i, d in enumerate(target)]
    return x.reshape(target)


def fold_flatten(x: np.ndarray, axis: int) -> np.ndarray:
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def unsqueeze(x: np.ndarray, axes: list[int]) -> np.ndarray:
    rank = x.ndim + len(axes)
    return np.expand_dims(x, tuple(a + rank if a < 0 else a for a in axes))


def squeeze(x: np.ndarray, axes: list[int] | None) -> np.ndarray:
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, tuple(a + x.ndim if a < 0 else a for a in axes))


def fold_cast(x: np.ndarray, to: int) -> np.ndarray | None:
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(to))
    if dtype.kind in "biuf" and x.dtype.kind in "biuf":
        return x.astype(dtype)
    return None  # strings, float8, bfloat16: the reference evaluator knows the rules


def fast_fold(node: onnx.NodeProto, args: list, at: dict, dims: Dims | None) -> list | None:
    """numpy for the folds that matter for speed; None means 'ask onnx.reference'."""
    op = node.op_type
    if op == "Constant":
        v = fold_constant(at)
        return None if v is None else [v]
    if op == "ConstantOfShape":
        return [fold_constant_of_shape(node, args, at)]
    if op in ("Shape", "Size"):
        # a folded input's own shape is the truth; inference may still call it 'unk__0'
        shape = args[0].shape if args and args[0] is not None else tuple(int(d) for d in dims)
        if op == "Size":
            return [np.array(math.prod(shape), dtype=np.int64)]
        start, end = at.get("start", 0), at.get("end", len(shape))
        return [np.array(shape[start:end], dtype=np.int64)]
    x = args[0] if args else None
    simple = {
        "Identity": lambda: x,
        "Reshape": lambda: fold_reshape(args, at),
        "Flatten": lambda: fold_flatten(x, at.get("axis", 1)),
        "Unsqueeze": lambda: unsqueeze(x, axes_arg(node, args, at) or []),
        "Squeeze": lambda: squeeze(x, axes_arg(node, args, at)),
        "Concat": lambda: np.concatenate(args, axis=at["axis"]),
        "Gather": lambda: np.take(x, args[1], axis=at.get("axis", 0)),
        "Transpose": lambda: np.transpose(x, at.get("perm")),
        "Cast": lambda: fold_cast(x, at["to"]),
    }
    if op not in simple or any(a is None for a in args[:1]):
        return None
    v = simple[op]()
    return None if v is None else [v]


def reference_fold(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int) -> list:
    from onnx.reference import ReferenceEvaluator

    return list(ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds))


FREE_FOLDS = frozenset({"Constant", "ConstantOfShape", "Shape", "Size"})  # no bytes to speak of


def out_itemsize(node: onnx.NodeProto, shapes: Shapes, args: list) -> int:
    """Bytes per element of a node's outputs (the widest; 8 when unknown)."""
    sizes = []
    for o in node.output:
        if o in shapes and shapes[o][0]:
            try:
                sizes.append(np.dtype(helper.tensor_dtype_to_np_dtype(shapes[o][0])).itemsize)
            except (KeyError, TypeError, ValueError):
                sizes.append(8)
    if not sizes:
        sizes = [a.itemsize for a in args if a is not None] or [8]
    return max(sizes)


def compute(node: onnx.NodeProto, args: list, at: dict, dims: Dims | None, opset: int) -> list:
    values = fast_fold(node, args, at, dims)
    if values is None:
        feeds = {i: a for i, a in zip(node.input, args, strict=False) if i and a is not None}
        values = reference_fold(node, feeds, opset)
    return values


def evaluate(
    node: onnx.NodeProto,
    index: int,
    consts: Mapping[str, np.ndarray],
    shapes: Shapes,
    opset: int,
    allowance: FoldAllowance,
) -> list[np.ndarray] | None:
    """The values of a node's outputs, all its inputs being known; None when
    computing them would cost more than `allowance` admits (see
    onnx_fold_budget: the node then stays an operator)."""
    outs = []
    for out in node.output:  # refuse absurd outputs before computing them
        if out and out in shapes and is_static(shapes[out][1]):
            tensor_bytes(shapes[out][1], elem_dtype(shapes[out][0], out), out)
            outs.append(tuple(int(d) for d in shapes[out][1]))
        else:
            outs.append(None)
    args = [consts.get(i) if i else None for i in node.input]
    dims = shapes.get(node.input[0], (0, None))[1] if node.input else None
    at = attrs_of(node)
    try:
        values = None
        if node.op_type not in FREE_FOLDS:
            values = view_fold(node, args, outs[0], lambda small: compute(node, small, at, dims,
                                                                          opset))
            if values is None:
                need = estimate_bytes(node, args, outs, out_itemsize(node, shapes, args))
                held = sum(footprint(a) for a in args if a is not None)
                if not allowance.admit(need, held):
                    return None
        if values is None:
            values = compute(node, args, at, dims, opset)
    except BadInput:
        raise
    except MemoryError:
        raise BadInput(f"constant node {describe(node, index)} is too large to compute") from None
    except Exception as e:
        raise BadInput(
            f"cannot compute constant node {describe(node, index)}: {one_line(e)}"
        ) from None
    out = [np.asarray(v) for v in values]
    for name, v in zip(node.output, out, strict=False):
        if name:
            tensor_bytes(v.shape, "uint8" if v.dtype.kind in "OUSV" else v.dtype.name, name)
    return out


# --- the folding loop --------------------------------------------------------------------


def can_fold(
    node: onnx.NodeProto, consts: Mapping[str, np.ndarray], shapes: Shapes, keep: set[str]
) -> bool:
    """All inputs known (or, for Shape/Size, the input's shape static); never a
    graph output (its operator must stay to write it) nor a NEVER_FOLD op."""
    if node.domain not in DEFAULT_DOMAINS or node.op_type in NEVER_FOLD:
        return False
    if any(o in keep for o in node.output):
        return False
    if node.op_type == "Constant":
        return True
    if node.op_type in ("Shape", "Size") and node.input and node.input[0] not in consts:
        return node.input[0] in shapes and is_static(shapes[node.input[0]][1])
    present = [i for i in node.input if i]
    return bool(present) and all(i in consts for i in present)


def may_fold(nodes: Sequence[tuple[int, onnx.NodeProto]], consts: Mapping[str, np.ndarray]
             ) -> bool:
    """Can any node fold at all?  `can_fold` needs a Constant, a Shape/Size, or
    inputs that are all constants; with no constants and none of those
    operators, nothing folds.  One set of operator types instead of `can_fold`
    per node: a 30,000-node chain of activations skips its fold pass."""
    return bool(consts) or not {n.op_type for _, n in nodes}.isdisjoint(
        ("Constant", "Shape", "Size"))


def fold_pass(
    nodes: Sequence[tuple[int, onnx.NodeProto]],
    consts: dict[str, np.ndarray],
    shapes: Shapes,
    keep: set[str],
    opset: int,
    allowance: FoldAllowance,
) -> list[tuple[int, onnx.NodeProto]]:
    """One pass in file order; returns the nodes that stay (with their file index)."""
    remaining = []
    for index, node in nodes:
        values = None
        if can_fold(node, consts, shapes, keep):
            values = evaluate(node, index, consts, shapes, opset, allowance)
        if values is None:
            remaining.append((index, node))
            continue
        for name, value in zip(node.output, values, strict=False):
            if name:
                consts[name] = value
    return remaining


def fold_and_infer(
    model: onnx.ModelProto,
    inputs: Sequence[onnx.ValueInfoProto],
    consts: dict[str, np.ndarray],
    use_annotations: bool,
    opset: int,
    folded: Set[str] = frozenset(),
) -> tuple[list[tuple[int, onnx.NodeProto]], Shapes]:
    """Alternate shape inference and folding until nothing folds.  Returns the
    remaining (file index, node) pairs and the final shapes; `consts` grows.
    Constant nodes writing a name in `folded` are folded already (the loader
    mapped their tensors into `consts`)."""
    nodes = [(i, n) for i, n in enumerate(model.graph.node)
             if not (folded and n.op_type == "Constant" and n.output and n.output[0] in folded)]
    keep = {o.name for o in model.graph.output}
    allowance = FoldAllowance()

    def shapes_of(nodes: list[tuple[int, onnx.NodeProto]], first: bool) -> Shapes:
        """Inference from the inputs alone; the file's own annotations (value_info,
        output shapes) only fill what inference cannot: non-strict inference
        would silently keep a stale annotation that contradicts it."""
        skel = skeleton(model, [n for _, n in nodes], inputs, consts, False)
        if first:
            run_checker(skel)
        shapes = infer(skel)
        missing = [o for _, n in nodes for o in n.output if o and not known(shapes, o)]
        if missing and use_annotations:
            try:
                noted = infer(skeleton(model, [n for _, n in nodes], inputs, consts, True))
            except BadInput:
                return shapes
            shapes.update({o: noted[o] for o in missing if known(noted, o)})
        return shapes

    for round_ in range(MAX_FOLD_ROUNDS):
        shapes = shapes_of(nodes, round_ == 0)
        if not may_fold(nodes, consts):
            return nodes, shapes
        remaining = fold_pass(nodes, consts, shapes, keep, opset, allowance)
        if len(remaining) == len(nodes):
            return nodes, shapes
        nodes = remaining
    return nodes, shapes_of(nodes, False)
