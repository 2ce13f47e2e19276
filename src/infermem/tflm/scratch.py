"""Scratch buffers that TFLM's reference kernels request in the arena head.

A kernel may call `RequestScratchBufferInArena(bytes)` in its Prepare; TFLM
plans these buffers together with the tensors, live during that operator
only, always online (an offline plan cannot place them).  The Python
interpreter of the `tflite-micro` package runs the *reference* kernels, so the
rules below are those of `tensorflow/lite/micro/kernels/*.cc` (not CMSIS-NN or
Xtensa, which request more).  Each rule returns the byte sizes in the order
the kernel requests them, which is the order TFLM adds them to its planner.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ._model import TflmOp, TflmSubgraph

_QUANT = ("INT8", "UINT8", "INT16")


def _numel(sg: TflmSubgraph, index: int) -> int:
    return math.prod(sg.tensors[index].shape)


def _type(sg: TflmSubgraph, index: int) -> str | None:
    return sg.tensors[index].type if index >= 0 else None


def _mean_or_sum(sg: TflmSubgraph, op: TflmOp) -> list[int]:
    """reduce_common.cc PrepareMeanOrSum: an int32 accumulator per output element."""
    if _type(sg, op.inputs[0]) in _QUANT:
        return [4 * _numel(sg, op.outputs[0])]
    return []


def _max_or_min(sg: TflmSubgraph, op: TflmOp) -> list[int]:
    """reduce_common.cc PrepareMax/PrepareMin: an int per input dim and per axis entry."""
    return [4 * len(sg.tensors[op.inputs[0]].shape), 4 * _numel(sg, op.inputs[1])]


def _transpose_conv(sg: TflmSubgraph, op: TflmOp) -> list[int]:
    """transpose_conv.cc: int32 (int8) or int64 (int16) accumulators per output element;
    16x8 with an int16 bias also converts the bias to int64."""
    kind = _type(sg, op.inputs[2])
    out = _numel(sg, op.outputs[0])
    if kind == "INT8":
        return [4 * out]
    if kind == "INT16":
        extra = []
        if len(op.inputs) > 3 and _type(sg, op.inputs[3]) == "INT16":
            extra = [8 * _numel(sg, op.inputs[3])]
        return [8 * out, *extra]
    return []


def _int4_filter(sg: TflmSubgraph, op: TflmOp) -> list[int]:
    """conv/depthwise/fully_connected unpack an int4 filter into an int8 scratch buffer."""
    if len(op.inputs) > 1 and _type(sg, op.inputs[1]) == "INT4":
        return [_numel(sg, op.inputs[1])]
    return []


RULES: dict[str, Callable[[TflmSubgraph, TflmOp], list[int]]] = {
    "MEAN": _mean_or_sum,
    "SUM": _mean_or_sum,
    "REDUCE_MAX": _max_or_min,
    "REDUCE_MIN": _max_or_min,
    "TRANSPOSE_CONV": _transpose_conv,
    "CONV_2D": _int4_filter,
    "DEPTHWISE_CONV_2D": _int4_filter,
    "FULLY_CONNECTED": _int4_filter,
}

# Kernels whose scratch requests depend on more than shapes (or that this module
# does not model): a TFLM problem with one of them is reported as approximate.
UNMODELLED = frozenset(
    {
        "SVDF",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "BATCH_MATMUL",
        "TFLite_Detection_PostProcess",
        "DECODE",
        "IF",
        "WHILE",
        "CALL_ONCE",
    }
)


def scratch_requests(sg: TflmSubgraph, op: TflmOp) -> list[int]:
    """Bytes of each scratch buffer `op` requests, in request order (unaligned)."""
    rule = RULES.get(op.type)
    return [b for b in rule(sg, op) if b > 0] if rule else []
