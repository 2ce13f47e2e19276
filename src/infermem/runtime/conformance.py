"""The executor on ONNX's own backend test cases, one node at a time.

`onnx.backend.test.case.node.collect_testcases(None)` holds, per operator,
small models with inputs and expected outputs computed by ONNX's reference
implementation.  Every single-node default-domain case is counted (1,436
with onnx 1.23), whether or not the executor has the operator: a case of an
operator without a kernel is refused, naming it.  Each case is turned into a
Graph by infermem's ONNX frontend (inputs that the operator
needs as constants — shapes, axes, pads, quantization parameters — become
initializers, as they are in real models), planned with TFLM's greedy
planner, run in the arena and compared with the expected outputs at the
case's own tolerances.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import InfermemError
from .kernels import KERNELS

# Inputs (by position) that real models give as constants.
CONST_INPUTS: dict[str, set[int]] = {
    "Reshape": {1}, "Squeeze": {1}, "Unsqueeze": {1}, "Pad": {1, 2, 3}, "Dropout": {1, 2},
    "ReduceMean": {1}, "ReduceSum": {1}, "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1},
    "QuantizeLinear": {1, 2}, "DequantizeLinear": {1, 2},
    "QLinearConv": {1, 2, 4, 5, 6, 7}, "QLinearMatMul": {1, 2, 4, 5, 6, 7},
    "Clip": {1, 2},
    **{op: {1} for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                          "ReduceSumSquare", "Tile", "Expand", "CumSum", "CumProd", "TopK",
                          "Trilu", "CenterCropPad", "Compress", "Split", "Upsample")},
    "Slice": {1, 2, 3, 4}, "Resize": {1, 2, 3}, "OneHot": {1},
    "LSTM": {4}, "GRU": {4}, "RNN": {4},
}


@dataclass(frozen=True)
class CaseResult:
    name: str
    op_type: str
    status: str  # "pass" | "fail" (wrong values) | "refused" (a clear InfermemError) | "crash"
    detail: str = ""


@functools.cache
def node_cases() -> tuple:
    """Every single-node, default-domain backend case (collected once: ONNX
    builds them, and their expected outputs, on the fly)."""
    import warnings

    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    out = []
    for c in cases:
        nodes = c.model.graph.node if c.model is not None else []
        if len(nodes) == 1 and nodes[0].domain in ("", "ai.onnx"):
            out.append(c)
    return tuple(sorted(out, key=lambda c: c.name))


def plain(v) -> np.ndarray:
    """A case's value as numpy (some cases store TensorProtos: bfloat16, float8)."""
    return numpy_helper.to_array(v) if isinstance(v, onnx.TensorProto) else np.asarray(v)


def with_constants(model: onnx.ModelProto, values: list[np.ndarray]) -> tuple:
    """A copy of `model` whose constant-like inputs are initializers, and the
    feed for the inputs that remain."""
    values = [plain(v) for v in values]
    m = onnx.ModelProto()
    m.CopyFrom(model)
    node = m.graph.node[0]
    const = {node.input[i] for i in CONST_INPUTS.get(node.op_type, ()) if i < len(node.input)}
    keep, feed = [], {}
    for vi, v in zip(list(m.graph.input), values, strict=False):
        if vi.name in const and vi.name:
            m.graph.initializer.append(numpy_helper.from_array(np.asarray(v), vi.name))
        else:
            keep.append(vi)
            feed[vi.name] = np.asarray(v)
    del m.graph.input[:]
    m.graph.input.extend(keep)
    return m, feed


def run_case(case) -> CaseResult:
    from ..frontends.onnx import graph_from_model
    from ..lifetimes import problem
    from ..planners import plan
    from .executor import run

    op_type = case.model.graph.node[0].op_type
    if op_type not in KERNELS:
        return CaseResult(case.name, op_type, "refused",
                          f"the arena executor has no kernel for {op_type}")
    inputs, expected = case.data_sets[0]
    try:
        model, feed = with_constants(case.model, list(inputs))
    except (NotImplementedError, TypeError, ValueError) as e:  # sequences, optionals
        return CaseResult(case.name, op_type, "refused", f"inputs not plain tensors ({e})")
    try:
        if not feed:
            return CaseResult(case.name, op_type, "refused", "every input is a constant")
        graph = graph_from_model(model, name=case.name)
        outs = run(graph, plan(problem(graph), "tflm"), feed)
    except InfermemError as e:
        return CaseResult(case.name, op_type, "refused", str(e))
    except Exception as e:  # noqa: BLE001 - a bug in infermem, reported as such
        return CaseResult(case.name, op_type, "crash", f"{type(e).__name__}: {e}")
    for name, want in zip([o.name for o in case.model.graph.output], expected, strict=False):
        got = outs.get(name)
        if got is None:
            return CaseResult(case.name, op_type, "fail", f"no output {name!r}")
        want = plain(want)
        try:
            np.testing.assert_allclose(got.astype(want.dtype) if want.dtype.kind == "f" else got,
                                       want, rtol=case.rtol, atol=case.atol)
        except (AssertionError, ValueError, TypeError) as e:
            return CaseResult(case.name, op_type, "fail", str(e).strip().splitlines()[0])
    return CaseResult(case.name, op_type, "pass")


def run_all() -> list[CaseResult]:
    return [run_case(c) for c in node_cases()]


def summary(results: list[CaseResult]) -> str:
    by = Counter(r.status for r in results)
    return (f"{by['pass']} of {len(results)} ONNX backend node cases pass "
            f"({by['fail']} wrong values, {by['refused']} refused, {by['crash']} crashed)")
