"""QDQ models counted as they are deployed.

A QDQ model (e.g. from `onnxruntime.quantization.quantize_static`) spells an
int8 network in float: `x_q = QuantizeLinear(x)`, `x' = DequantizeLinear(x_q)`,
`y = Conv(x', DequantizeLinear(w_q), ...)`, `y_q = QuantizeLinear(y)`.  A
deployed runtime fuses each DQ -> op -> Q group into one integer kernel: the
float tensors never exist, only the integer ones do.

Representation (explicit, and still runnable op by op):

- `DequantizeLinear` and `QuantizeLinear` stay operators.
- The float output of a `DequantizeLinear` is a `Role.ALIAS` of its integer
  input (`alias_of` = the int8 / int32 tensor).  For a weight that makes the
  integer initializer the weight (counted in weights bytes) and the float
  copy nothing; for an activation the integer tensor owns the arena bytes.
- The float output of any other (non-view) operator whose only reader is a
  `QuantizeLinear` is a `Role.ALIAS` of that Q's integer output: the fused
  kernel writes the integer tensor directly.  Its lifetime (lifetimes.py
  follows aliases) then starts at the producing operator.  The same holds
  one step further back through a fused activation (op -> Relu/Clip -> Q).
- Such an alias keeps its own float dtype, so its dtype differs from its
  root's.  That mismatch is the marker: it is a *dequantized view*, which owns
  no arena bytes, and an executor that runs the QDQ graph op by op keeps its
  float values outside the arena (a fused kernel would never write them).
- Integer tensors carry `Quant(scale, zero_point, axis)` from the Q/DQ
  operators' constant scale and zero point, and `graph.meta["qdq"] = True`.

Graph outputs are never aliased: what the model returns must be written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..graph import Quant

QUANTIZE, DEQUANTIZE = "QuantizeLinear", "DequantizeLinear"
# Activations an integer kernel applies as it writes (TFLite's fused_activation,
# ORT's QDQ Conv+Relu/Clip fusion): their float input is not a tensor either.
FUSED_ACTIVATIONS = frozenset({"Relu", "Clip"})


def is_qdq(op_types: Sequence[str]) -> bool:
    return any(t in (QUANTIZE, DEQUANTIZE) for t in op_types)


def dequantized_views(
    ops: Sequence[tuple[str, tuple[str, ...], tuple[str, ...]]],
    consumers: Mapping[str, Sequence[int]],
    graph_outputs: set[str],
    taken: set[str],
) -> dict[str, str]:
    """Float tensor -> the integer tensor whose bytes stand for it.  `ops` are
    (type, inputs, outputs) in graph order; `taken` names tensors that are
    already views of something else (Reshape, ...) and stay so."""
    views: dict[str, str] = {}
    for op_type, inputs, outputs in ops:
        if op_type == DEQUANTIZE and inputs[0] and outputs[0] not in graph_outputs:
            views[outputs[0]] = inputs[0]
    produced_by = {o: t for t, _, outs in ops for o in outs if o}

    def free(name: str) -> bool:
        """A float tensor a fused integer kernel would never write."""
        return (
            bool(name)
            and name not in graph_outputs
            and name not in taken
            and (name not in views and produced_by.get(name) not in (QUANTIZE, DEQUANTIZE, None))
        )

    def only_reader(name: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        readers = consumers.get(name, ())
        return ops[readers[0]] if len(readers) == 1 else None

    for _, _, outputs in ops:  # op -> Q
        for out in outputs:
            reader = only_reader(out) if free(out) else None
            if reader and reader[0] == QUANTIZE and reader[1][0] == out and reader[2][0]:
                views[out] = reader[2][0]
    for op_type, inputs, outputs in reversed(ops):  # op -> Relu/Clip -> Q
        x = inputs[0] if inputs else ""
        if op_type in FUSED_ACTIVATIONS and outputs[0] in views and free(x) and only_reader(x):
            views[x] = views[outputs[0]]
    return views


def quant_params(
    ops: Sequence[tuple[str, tuple[str, ...], tuple[str, ...]]],
    attrs: Sequence[Mapping[str, object]],
    consts: Mapping[str, np.ndarray],
    ranks: Mapping[str, int],
) -> dict[str, Quant]:
    """Integer tensor -> its affine parameters, from Q outputs and DQ inputs
    whose scale (and zero point, if any) are constants."""
    out: dict[str, Quant] = {}
    for (op_type, inputs, outputs), at in zip(ops, attrs, strict=True):
        if op_type not in (QUANTIZE, DEQUANTIZE) or "block_size" in at and at["block_size"]:
            continue
        target = outputs[0] if op_type == QUANTIZE else inputs[0]
        scale = consts.get(inputs[1]) if len(inputs) > 1 else None
        if not target or target in out or scale is None:
            continue
        zp_name = inputs[2] if len(inputs) > 2 else ""
        zp = consts.get(zp_name) if zp_name else np.zeros(scale.shape, np.int64)
        if zp is None:
            continue
        axis = None
        if scale.size > 1:
            axis = int(at.get("axis", 1))
            axis = axis + ranks.get(target, 0) if axis < 0 else axis
        out[target] = Quant(
            tuple(float(s) for s in scale.reshape(-1)),
            tuple(int(z) for z in np.asarray(zp).reshape(-1)),
            axis,
        )
    return out
