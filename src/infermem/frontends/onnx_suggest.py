"""The --input-shape to suggest for symbolic input dims, found in the model.

A refusal that says "pass --input-shape images=1x3x1x1" for a 320x320
detector sends the user into a second error.  A suggestion here keeps every
fixed dim, puts 1 for a leading symbolic (batch) dim — what runtimes
allocate when nobody resizes — and asks for the other symbolic dims only:

- a size the model declares (ultralytics writes `imgsz` into its metadata)
  is used when the model's shapes are consistent with it;
- otherwise plausible sizes (the usual image sizes, then multiples of 8 up
  to 1024, the same size for every such dim) are tried with ONNX's own
  shape inference in strict mode, with data propagation, plus the element
  count of each Reshape: a Gemm/MatMul weight after a Flatten, an Add or a
  Concat with a constant, or a Reshape to constant sizes rejects every size
  but the one the model was built for.  Exactly one survivor is the
  implied size;
- when several sizes fit (a fully convolutional model), or none does within
  the time budget, the dims stay names to fill in (HEIGHT, D2), never a
  made-up 1.
"""

from __future__ import annotations

import ast
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import onnx

from . import onnx_load as L
from .onnx_fold import skeleton

COMMON = (224, 320, 640, 256, 416, 512, 128, 96, 64, 32, 28, 48, 160, 192, 299, 384, 480, 600)
CANDIDATES = tuple(dict.fromkeys((*COMMON, *range(8, 1025, 8))))
TIME_BUDGET_S = 5.0

Assignment = dict[str, dict[int, int]]  # input -> {axis: size}


def suggestion(
    model: onnx.ModelProto,
    declared: Sequence[onnx.ValueInfoProto],
    given: Mapping[str, Sequence[int]],
    dynamic: Sequence[tuple[str, tuple[int | str, ...] | None]],
    consts: Mapping[str, np.ndarray],
) -> str:
    """The one-line refusal for `dynamic` inputs, with shapes worth passing."""
    implied = implied_sizes(model, declared, given, dynamic, consts)
    return "dynamic input shape: " + "; ".join(
        L.dynamic_hint(n, d, implied.get(n)) for n, d in dynamic) + by_name_hint(dynamic)


def by_name_hint(dynamic: Sequence[tuple[str, tuple[int | str, ...] | None]]) -> str:
    """'; or by name: --dim batch_size=N ...' when the dynamic dims have names
    (`dims.py`: one --dim sets a name in every input; a sum or product of
    names, 'past_sequence_length + sequence_length', is computed from them)."""
    names: dict[str, None] = {}
    for _, dims in dynamic:
        for d in dims or ():
            if isinstance(d, str) and d != "?":
                names.update(dict.fromkeys(_names(d)))
    if not names:
        return ""
    return "; or set the dims by name in every input: " + " ".join(
        f"--dim {n}=N" for n in names)


def _names(dim: str) -> list[str]:
    """The names of a '+'/'*' expression of names and integers; the dim_param
    itself otherwise (as `dims.names_in` reads it)."""
    if not re.fullmatch(r"[\w\s+*]+", dim):
        return [dim]
    return re.findall(r"[A-Za-z_]\w*", dim)


def implied_sizes(
    model: onnx.ModelProto,
    declared: Sequence[onnx.ValueInfoProto],
    given: Mapping[str, Sequence[int]],
    dynamic: Sequence[tuple[str, tuple[int | str, ...] | None]],
    consts: Mapping[str, np.ndarray],
) -> Assignment:
    """{input: {axis: size}} for the non-batch symbolic dims the model fixes;
    {} when it fixes none (or they cannot all be searched)."""
    axes = {n: [k for k, d in enumerate(dims) if not isinstance(d, int) and k > 0]
            for n, dims in dynamic if dims is not None}
    if len(axes) < len(dynamic) or not any(axes.values()):
        return {}
    check = Consistency(model, declared, given, dict(dynamic), consts)
    declared_size = metadata_size(model, axes)
    if declared_size and check(declared_size):
        return declared_size
    found: list[Assignment] = []
    deadline = time.monotonic() + TIME_BUDGET_S
    for size in CANDIDATES:
        assignment = {n: dict.fromkeys(ks, size) for n, ks in axes.items()}
        if check(assignment):
            found.append(assignment)
        if len(found) > 1 or time.monotonic() > deadline:
            return {}
    return found[0] if found else {}


def metadata_size(model: onnx.ModelProto, axes: Mapping[str, list[int]]) -> Assignment | None:
    """The image size an exporter wrote into the metadata (ultralytics:
    imgsz '[320, 320]'), for the last two symbolic axes of each input."""
    props = {p.key: p.value for p in model.metadata_props}
    try:
        size = ast.literal_eval(props.get("imgsz", "None"))
    except (ValueError, SyntaxError):
        return None
    if isinstance(size, int):
        size = [size, size]
    if not (isinstance(size, (list, tuple)) and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)):
        return None
    out = {}
    for name, ks in axes.items():
        if len(ks) != 2:
            return None
        out[name] = dict(zip(ks, size, strict=True))
    return out


class Consistency:
    """Does the model's shape arithmetic hold at an assignment of input sizes?"""

    def __init__(self, model, declared, given, dynamic, consts) -> None:
        self.model, self.declared, self.given = model, declared, given
        self.dynamic, self.consts = dynamic, consts
        self.reshapes = [n for n in model.graph.node
                         if n.op_type == "Reshape" and n.domain in L.DEFAULT_DOMAINS
                         and len(n.input) > 1 and n.input[1] in consts]

    def inputs(self, assignment: Assignment) -> Iterator[onnx.ValueInfoProto]:
        for vi in self.declared:
            if vi.name in self.given:
                yield L.with_shape(vi, L.input_dims_of(vi), tuple(self.given[vi.name]))
            elif vi.name in self.dynamic:
                dims = self.dynamic[vi.name]
                shape = tuple(d if isinstance(d, int) else assignment[vi.name].get(k, 1)
                              for k, d in enumerate(dims))
                yield L.with_shape(vi, dims, shape)
            else:
                yield vi

    def __call__(self, assignment: Assignment) -> bool:
        try:
            skel = skeleton(self.model, list(self.model.graph.node),
                            list(self.inputs(assignment)), self.consts, False)
            inferred = onnx.shape_inference.infer_shapes(
                skel, check_type=False, strict_mode=True, data_prop=True)
        except Exception:  # noqa: BLE001 - any inference error means "not this size"
            return False
        shapes = {vi.name: L.dims_of(vi) for vi in (*inferred.graph.input,
                                                    *inferred.graph.value_info)}
        return all(self.reshape_fits(n, shapes.get(n.input[0])) for n in self.reshapes)

    def reshape_fits(self, node: onnx.NodeProto, dims) -> bool:
        """A Reshape to constant sizes keeps the element count (ONNX's inference
        does not check it)."""
        if dims is None or not all(isinstance(d, int) for d in dims):
            return True
        target = [int(t) for t in np.asarray(self.consts[node.input[1]]).reshape(-1)]
        allow_zero = any(a.name == "allowzero" and a.i for a in node.attribute)
        if not allow_zero:
            target = [dims[i] if t == 0 and i < len(dims) else t for i, t in enumerate(target)]
        known = math.prod(t for t in target if t != -1)
        count = math.prod(dims)
        if -1 in target:
            return known > 0 and count % known == 0
        return known == count
