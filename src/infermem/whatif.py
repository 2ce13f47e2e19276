"""What-ifs: the sizes a model would have with other dtypes, or pruned.

These answer "what must I change?" without producing a model: a what-if
graph has the same operators and shapes with other dtypes (or with weights
pruned), so the profile, the planners and the fit report recompute every size
from it.  It is for sizes, not for running: weights keep their source values
(`data`), only their declared dtype changes.

Dtype rules, as deployed int8 models are built (TFLite / TFLM full-integer
quantization): weights become the new dtype, except the bias of a
convolution or fully connected layer, which stays int32 under int8; integer
tensors that are not quantized values (shapes, indices, masks) never change;
views own no bytes and are left alone.

Sparsity: per weight tensor, how many values are zero (a quantized value is
zero when it equals its zero point) and what it would take to store it dense,
as CSR (values + column indices + row pointers, the matrix being dim 0 by
the rest) or as a bitmask (values + one bit per element), with the index
widths stated.  `prune` zeroes the smallest-magnitude fraction of each
prunable tensor (rank >= 2: not biases).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import BadInput
from .graph import Graph, Role, Tensor, dtype_size

DTYPES = {"int8": "int8", "fp16": "float16", "float16": "float16", "fp32": "float32",
          "float32": "float32"}
# Operator type -> index of its bias input (kept int32 when weights go int8).
BIAS_INPUT = {"Conv": 2, "ConvTranspose": 2, "Gemm": 2, "CONV_2D": 2, "DEPTHWISE_CONV_2D": 2,
              "FULLY_CONNECTED": 2, "CONV_3D": 2, "TRANSPOSE_CONV": 3}


@dataclass(frozen=True)
class WhatIf:
    """What was changed, for reports: dtypes by their numpy names, prune as a fraction."""

    weights: str | None = None
    activations: str | None = None
    prune: float | None = None

    @property
    def active(self) -> bool:
        return self.weights is not None or self.activations is not None or self.prune is not None

    def describe(self) -> str:
        parts = []
        if self.weights:
            parts.append(f"weights {self.weights}")
        if self.activations:
            parts.append(f"activations {self.activations}")
        if self.prune is not None:
            parts.append(f"{self.prune:.0%} of each weight tensor pruned by magnitude")
        return "what-if: " + ", ".join(parts) + " (sizes recomputed; not a model you can run)"


def parse_dtype(text: str) -> str:
    """'int8' | 'fp16' | 'fp32' (or their numpy names) -> numpy dtype name."""
    key = text.strip().lower()
    if key not in DTYPES:
        raise BadInput(f"dtype {text!r}: choose int8, fp16 or fp32")
    return DTYPES[key]


def parse_fraction(text: str) -> float:
    """'50%' or '0.5' -> 0.5; BadInput outside [0, 1)."""
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise BadInput(
            f"prune amount {text!r}: write a percentage like 50% or a fraction like 0.5"
        ) from None
    if not 0 <= v < 1 or math.isnan(v):
        raise BadInput(f"prune amount {text!r} must be at least 0% and below 100%")
    return v


def _is_value(t: Tensor) -> bool:
    """Does `t` hold numeric values a dtype change applies to (float, or
    integers that quantize real values) rather than shapes, indices or masks?"""
    return np.dtype(t.dtype).kind == "f" or (t.quant is not None and np.dtype(t.dtype).kind in "iu")


def bias_tensors(graph: Graph) -> frozenset[str]:
    """Weights read as the bias of a convolution / fully connected operator."""
    out = set()
    for op in graph.operators:
        k = BIAS_INPUT.get(op.type)
        if k is not None and k < len(op.inputs) and op.inputs[k]:
            name = graph.root(op.inputs[k])
            if graph.tensors[name].role is Role.WEIGHT:
                out.add(name)
    return frozenset(out)


def quant_params(graph: Graph) -> frozenset[str]:
    """Weights read only as the scale or zero point of a (De)QuantizeLinear:
    quantization parameters, not values a dtype what-if applies to."""
    params, other = set(), set()
    for op in graph.operators:
        for k, name in enumerate(op.inputs):
            if name:
                is_param = op.type in ("QuantizeLinear", "DequantizeLinear") and k > 0
                (params if is_param else other).add(name)
    return frozenset(params - other)


def with_dtypes(graph: Graph, weights: str | None = None, activations: str | None = None) -> Graph:
    """`graph` with weights and/or activations declared as another dtype."""
    if weights is None and activations is None:
        return graph
    biases = bias_tensors(graph) if weights == "int8" else frozenset()
    params = quant_params(graph)
    tensors: dict[str, Tensor] = {}
    for name, t in graph.tensors.items():
        new = t.dtype
        if t.role is Role.WEIGHT and weights and _is_value(t) and name not in params:
            new = "int32" if name in biases else weights
        elif t.role in (Role.INPUT, Role.OUTPUT, Role.ACTIVATION) and activations and _is_value(t):
            new = activations
        tensors[name] = t if new == t.dtype else dataclasses.replace(t, dtype=new)
    what = dict(graph.meta.get("whatif", {}))
    what.update({k: v for k, v in (("weights", weights), ("activations", activations)) if v})
    return dataclasses.replace(graph, tensors=tensors, meta={**graph.meta, "whatif": what})


@dataclass(frozen=True)
class TensorSparsity:
    name: str
    shape: tuple[int, ...]
    dtype: str
    elements: int
    zeros: int
    dense_bytes: int
    csr_bytes: int
    bitmask_bytes: int
    csr_index_bytes: int  # width of one column index
    csr_pointer_bytes: int  # width of one row pointer

    @property
    def zero_fraction(self) -> float:
        return self.zeros / self.elements if self.elements else 0.0

    @property
    def best(self) -> tuple[str, int]:
        """The smallest storage: ('dense' | 'csr' | 'bitmask', bytes)."""
        return min((("dense", self.dense_bytes), ("csr", self.csr_bytes),
                    ("bitmask", self.bitmask_bytes)), key=lambda kv: kv[1])


def _index_width(largest: int) -> int:
    """Bytes of the narrowest unsigned integer holding `largest`."""
    return 1 if largest < 1 << 8 else 2 if largest < 1 << 16 else 4 if largest < 1 << 32 else 8


def _zero_point(t: Tensor, ndim: int) -> np.ndarray:
    """The zero point(s) of a quantized tensor, shaped to broadcast over its data."""
    zp = np.asarray(t.quant.zero_point if t.quant else (), dtype=np.int64)
    if zp.size > 1 and t.quant.axis is not None and ndim:
        shape = [1] * ndim
        shape[t.quant.axis] = zp.size
        return zp.reshape(shape)
    return zp.reshape(()) if zp.size else np.zeros((), np.int64)


def _is_quantized_int(t: Tensor, data: np.ndarray) -> bool:
    return t.quant is not None and np.dtype(data.dtype).kind in "iu"


def _zero_mask(t: Tensor) -> np.ndarray:
    """True where the stored value means 0.0 (the zero point for quantized data)."""
    data = np.asarray(t.data)
    if not _is_quantized_int(t, data):
        return data == 0
    return data.astype(np.int64) == _zero_point(t, data.ndim)


def tensor_sparsity(t: Tensor, zeros: int) -> TensorSparsity:
    n = math.prod(t.shape)
    item = dtype_size(t.dtype)
    rows = t.shape[0] if len(t.shape) >= 2 else 1
    cols = n // rows if rows else 0
    nnz = n - zeros
    col_w, ptr_w = _index_width(max(cols - 1, 0)), _index_width(nnz)
    return TensorSparsity(
        name=t.name, shape=t.shape, dtype=t.dtype, elements=n, zeros=zeros,
        dense_bytes=n * item,
        csr_bytes=nnz * (item + col_w) + (rows + 1) * ptr_w,
        bitmask_bytes=nnz * item + -(-n // 8),
        csr_index_bytes=col_w, csr_pointer_bytes=ptr_w,
    )


def sparsity(graph: Graph) -> tuple[TensorSparsity, ...]:
    """Sparsity of every weight that holds values (sizes at the graph's dtypes)."""
    rows = []
    for t in graph.tensors.values():
        if t.role is Role.WEIGHT and t.data is not None and _is_value(t) and t.shape:
            if np.asarray(t.data).size != math.prod(t.shape):
                continue  # data does not match the declared shape: nothing to say
            rows.append(tensor_sparsity(t, int(np.count_nonzero(_zero_mask(t)))))
    return tuple(rows)


def weights_flash_bytes(graph: Graph, rows: tuple[TensorSparsity, ...] | None = None) -> int:
    """Weight bytes with each reported tensor in its smallest storage (others dense)."""
    rows = sparsity(graph) if rows is None else rows
    best = {r.name: r.best[1] for r in rows}
    return sum(best.get(t.name, t.nbytes) for t in graph.tensors.values()
               if t.role is Role.WEIGHT)


def prunable(t: Tensor) -> bool:
    return t.role is Role.WEIGHT and t.data is not None and _is_value(t) and len(t.shape) >= 2


def _pruned(t: Tensor, fraction: float) -> np.ndarray:
    """A copy of `t.data` with its `fraction` smallest magnitudes set to zero
    (to the zero point for quantized data; ties broken by position)."""
    data = np.asarray(t.data)
    k = int(fraction * data.size)
    if k == 0:
        return data
    if _is_quantized_int(t, data):
        zp = _zero_point(t, data.ndim)
        magnitude = np.abs(data.astype(np.int64) - zp).ravel()
        fill = np.broadcast_to(zp, data.shape).astype(data.dtype).ravel()
    else:
        magnitude = np.abs(data.astype(np.float64)).ravel()
        fill = np.zeros(data.size, data.dtype)
    out = data.copy().ravel()
    idx = np.argsort(magnitude, kind="stable")[:k]
    out[idx] = fill[idx]
    return out.reshape(data.shape)


def prune(graph: Graph, fraction: float) -> Graph:
    """`graph` with the smallest-magnitude `fraction` of every prunable weight zeroed."""
    if not 0 <= fraction < 1:
        raise BadInput(f"prune fraction must be in [0, 1), got {fraction}")
    tensors: Mapping[str, Tensor] = {
        n: dataclasses.replace(t, data=_pruned(t, fraction)) if prunable(t) else t
        for n, t in graph.tensors.items()
    }
    what = {**graph.meta.get("whatif", {}), "prune": fraction}
    return dataclasses.replace(graph, tensors=tensors, meta={**graph.meta, "whatif": what})


def apply(graph: Graph, what: WhatIf) -> Graph:
    """All of `what` applied: pruning first (it needs the source values), then dtypes."""
    if what.prune is not None:
        graph = prune(graph, what.prune)
    return with_dtypes(graph, what.weights, what.activations)
