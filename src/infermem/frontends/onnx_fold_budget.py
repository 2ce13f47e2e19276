"""What folding one constant node would cost, decided before it is computed.

A few bytes of ONNX can ask the folder for gigabytes: `Range(0, 2**28, 1)`,
`ConstantOfShape([65536, 32768])` then `Add`, `Expand`/`Tile` of a scalar to
16384 x 16384.  Three rules keep folding cheap whatever the file says:

* Folds that can be views cost what their inputs hold: `Expand` is a
  broadcast, and an elementwise op whose inputs are all *uniform* (one value
  broadcast, as `ConstantOfShape` makes) is computed on one element and
  broadcast to the output shape.  The tensor stays a weight, exactly as the
  file means it, at no cost.
* Any other fold materialises its output.  Its size is estimated from the
  inferred shape (or, where inference gave none, from the operator's own
  arithmetic) and the fold is admitted only while it fits the memory budget,
  and while the bytes folds add *beyond what their inputs hold* stay under
  `FOLD_GROWTH_BYTES` for the whole model: a weight transform (Transpose,
  Cast, a batch-norm Mul) adds little, an amplifying bomb adds everything.
* A fold not admitted is not refused: the node stays an operator and its
  output an activation of the declared shape, which is what a runtime would
  compute anyway.  Nothing is allocated; later steps that would allocate it
  (verify, fit, TFLM) check the budget themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx

from ..budget import memory_budget

FOLD_GROWTH_BYTES = 256 << 20  # bytes folds may add beyond their inputs, per model

ELEMENTWISE = frozenset(
    "Abs Acos Acosh Add And Asin Asinh Atan Atanh BitShift Cast Ceil Clip Cos Cosh Div "
    "Elu Equal Erf Exp Floor Greater GreaterOrEqual HardSigmoid HardSwish Identity "
    "IsInf IsNaN LeakyRelu Less LessOrEqual Log Max Mean Min Mod Mul Neg Not Or Pow "
    "PRelu Reciprocal Relu Round Selu Sigmoid Sign Sin Sinh Softplus Softsign Sqrt "
    "Sub Sum Tan Tanh ThresholdedRelu Where Xor".split()
)


SHAPE_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Tile"})


def footprint(a: np.ndarray) -> int:
    """Bytes `a` really holds: a zero-stride (broadcast) axis holds one element."""
    if a.size == 0:
        return 0
    return a.itemsize * math.prod(d for d, s in zip(a.shape, a.strides, strict=True) if s)


def uniform(a: np.ndarray) -> bool:
    """One value broadcast over the whole shape (what ConstantOfShape makes)."""
    return a.size > 0 and footprint(a) == a.itemsize


def one_element(a: np.ndarray) -> np.ndarray:
    """The first element of `a`, keeping its rank (so broadcasting still works)."""
    return np.array(a[(slice(0, 1),) * a.ndim])


def estimate_bytes(node: onnx.NodeProto, args: list, out_shapes: list, out_itemsize: int) -> int:
    """Bytes of a node's outputs: from inferred shapes where known, else from
    the operator's arithmetic on its constant inputs (the broadcast of its
    inputs for anything unmodelled: most operators never grow past it)."""
    if out_shapes and all(s is not None for s in out_shapes):
        return sum(math.prod(s) for s in out_shapes) * out_itemsize
    present = [a for a in args if a is not None]
    op = node.op_type
    try:
        if op == "Range" and len(present) == 3:
            start, limit, delta = (float(np.asarray(a).reshape(-1)[0]) for a in present)
            n = max(math.ceil((limit - start) / delta), 0) if delta else 0
        elif op == "Tile" and len(present) == 2:
            n = math.prod(int(d) * int(r) for d, r in
                          zip(present[0].shape, present[1].reshape(-1), strict=False))
        elif op == "Expand" and len(present) == 2:
            n = math.prod(np.broadcast_shapes(present[0].shape,
                                              tuple(int(d) for d in present[1].reshape(-1))))
        else:
            n = math.prod(np.broadcast_shapes(*(a.shape for a in present))) if present else 1
    except (ValueError, TypeError, OverflowError, IndexError):
        n = max((a.size for a in present), default=1)
    return int(n) * out_itemsize


def view_fold(node: onnx.NodeProto, args: list, out_shape: tuple | None, compute) -> list | None:
    """The output as a zero-cost broadcast view, or None when the fold cannot
    be one.  `compute(args)` evaluates the node on (one-element) arrays."""
    present = [a for a in args if a is not None]
    if len(node.output) != 1 or not present:
        return None
    op, x = node.op_type, present[0]
    if op == "Expand" and len(present) == 2:  # a broadcast is a view, uniform or not
        shape = np.broadcast_shapes(x.shape, tuple(int(d) for d in present[1].reshape(-1)))
        return [np.broadcast_to(x, shape)]
    if op in SHAPE_OPS and out_shape is not None and uniform(x):
        return [np.broadcast_to(one_element(x).reshape(()), out_shape)]
    if op not in ELEMENTWISE or not all(map(uniform, present)):
        return None
    if all(a.size == 1 for a in present):
        return None  # scalars: computing them directly is already free
    shape = out_shape or np.broadcast_shapes(*(a.shape for a in present))
    (value,) = compute([None if a is None else one_element(a) for a in args])[:1]
    return [np.broadcast_to(np.asarray(value).reshape(-1)[:1].reshape(()), shape)]


@dataclass
class FoldAllowance:
    """What the folds of one model may still add (mutable: one per load)."""

    growth_left: int = FOLD_GROWTH_BYTES

    def admit(self, new_bytes: int, input_bytes: int) -> bool:
        """Fold a node whose output needs `new_bytes` from inputs holding
        `input_bytes`?  Counts the growth when it says yes."""
        if new_bytes > memory_budget():
            return False
        growth = max(new_bytes - input_bytes, 0)
        if growth > self.growth_left:
            return False
        self.growth_left -= growth
        return True
