"""Operator attributes the planners, DMO rules and executor rely on, checked.

ONNX shape inference is lenient with window operators (Conv, ConvTranspose,
the pools): `group=0`, `auto_pad="BOGUS"` or a stride of 2^62 pass through it
and surface later as a wrong shape, an onnxruntime failure or a traceback deep
in a kernel.  So the frontend checks them twice, each time naming the node and
the attribute: `check_attributes` on the values alone, before folding and
shape inference (a zero stride makes inference give up with no reason), and
`check_windows` against the inferred input shapes (group against channels,
attribute lengths against the spatial rank, a kernel larger than the padded
input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx

from ..errors import BadInput
from . import onnx_load as L

CONVS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"})
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
WINDOW_OPS = CONVS | POOLS
AUTO_PAD = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
MAX_WINDOW = 1 << 20  # a stride, dilation, kernel or pad beyond this is not a model
_WEIGHT_INPUT = {"Conv": 1, "ConvTranspose": 1, "ConvInteger": 1, "QLinearConv": 3}


def _where(node: onnx.NodeProto, index: int) -> str:
    return f"node {L.describe(node, index)}"


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _ints(node, index, attrs, name, low: int) -> list[int] | None:
    """An INTS attribute, each value in [low, MAX_WINDOW]; None when absent."""
    if name not in attrs:
        return None
    values = attrs[name]
    if not isinstance(values, list) or not all(isinstance(v, int) for v in values):
        raise BadInput(f"{_where(node, index)}: attribute {name} must be a list of integers")
    for v in values:
        if not low <= v <= MAX_WINDOW:
            raise BadInput(
                f"{_where(node, index)}: attribute {name}={values} has {v}; each value must "
                f"be in {low}..{MAX_WINDOW}"
            )
    return values


def check_attributes(nodes: Sequence[tuple[int, onnx.NodeProto]]) -> None:
    """Refuse window-operator attributes that are wrong whatever the shapes."""
    for index, node in nodes:
        if node.domain not in L.DEFAULT_DOMAINS or node.op_type not in WINDOW_OPS:
            continue
        a = _attrs(node)
        if node.op_type in CONVS and "group" in a:
            g = a["group"]
            if not isinstance(g, int) or not 1 <= g <= MAX_WINDOW:
                raise BadInput(f"{_where(node, index)}: attribute group={g!r} must be >= 1")
        pad = a.get("auto_pad", b"NOTSET")
        pad = pad.decode(errors="replace") if isinstance(pad, bytes) else pad
        if pad not in AUTO_PAD:
            raise BadInput(
                f"{_where(node, index)}: attribute auto_pad={pad!r} is not one of "
                f"{', '.join(AUTO_PAD)}"
            )
        spatial = {}
        for name, low in (("kernel_shape", 1), ("strides", 1), ("dilations", 1),
                          ("output_padding", 0), ("output_shape", 1)):  # fmt: skip
            values = _ints(node, index, a, name, low)
            if values is not None:
                spatial[name] = len(values)
        pads = _ints(node, index, a, "pads", 0)
        if pads is not None:
            spatial["pads"] = len(pads) // 2 if len(pads) % 2 == 0 else -1
        if node.op_type in POOLS and "kernel_shape" not in a:
            raise BadInput(f"{_where(node, index)}: attribute kernel_shape is required")
        if len(set(spatial.values())) > 1:
            given = ", ".join(f"{k} ({n} dims)" for k, n in spatial.items())
            raise BadInput(f"{_where(node, index)}: attributes disagree on the rank: {given}")


def check_windows(
    nodes: Sequence[tuple[int, onnx.NodeProto]],
    shapes: Mapping[str, tuple[int, Any]],
    consts: Mapping[str, np.ndarray],
) -> None:
    """Refuse window operators whose attributes contradict their input shapes."""
    for index, node in nodes:
        if node.domain not in L.DEFAULT_DOMAINS or node.op_type not in WINDOW_OPS:
            continue
        x = _dims(node.input[0] if node.input else "", shapes, consts)
        if x is None or len(x) < 3:
            continue
        w_at = _WEIGHT_INPUT.get(node.op_type)
        w = _dims(node.input[w_at], shapes, consts) if w_at is not None and w_at < len(
            node.input) else None  # fmt: skip
        _check_window(node, index, _attrs(node), x, w)


def _dims(name: str, shapes, consts) -> tuple[int, ...] | None:
    if name in consts:
        return tuple(int(d) for d in consts[name].shape)
    dims = shapes.get(name, (0, None))[1] if name else None
    if dims is None or not all(isinstance(d, int) and d >= 0 for d in dims):
        return None
    return tuple(dims)


def _check_window(node, index, a, x: tuple[int, ...], w: tuple[int, ...] | None) -> None:
    where = _where(node, index)
    n = len(x) - 2
    for name, want in (("kernel_shape", n), ("strides", n), ("dilations", n), ("pads", 2 * n),
                       ("output_padding", n)):  # fmt: skip
        if name in a and len(a[name]) != want:
            raise BadInput(
                f"{where}: attribute {name} has {len(a[name])} values; the input "
                f"{list(x)} has {n} spatial dims, so it needs {want}"
            )
    group = a.get("group", 1)
    channels = x[1]
    if node.op_type in CONVS and w is not None:
        if len(w) != len(x):
            raise BadInput(f"{where}: weights of rank {len(w)} for an input of rank {len(x)}")
        per_group = w[0] if node.op_type == "ConvTranspose" else w[1] * group
        if channels % group or per_group != channels or (
            node.op_type != "ConvTranspose" and w[0] % group
        ):
            raise BadInput(
                f"{where}: attribute group={group} does not fit input channels {channels} "
                f"and weights {list(w)}"
            )
        if "kernel_shape" in a and list(a["kernel_shape"]) != list(w[2:]):
            raise BadInput(
                f"{where}: attribute kernel_shape={a['kernel_shape']} differs from the "
                f"weights' spatial shape {list(w[2:])}"
            )
    kernel = a.get("kernel_shape") or (list(w[2:]) if w is not None else None)
    pad = a.get("auto_pad", b"NOTSET")
    if kernel is None or node.op_type == "ConvTranspose" or pad not in (b"NOTSET", b"VALID"):
        return
    pads = a.get("pads", [0] * 2 * n) if pad == b"NOTSET" else [0] * 2 * n
    dil = a.get("dilations", [1] * n)
    for k in range(n):
        span = (kernel[k] - 1) * dil[k] + 1
        padded = x[2 + k] + pads[k] + pads[k + n]
        if span > padded:
            raise BadInput(
                f"{where}: kernel spans {span} along spatial dim {k}, more than the "
                f"padded input ({padded}): attributes kernel_shape/dilations/pads"
            )
