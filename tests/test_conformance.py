"""Conformance: the arena executor on ONNX's backend node test cases.

Every single-node default-domain case
(`onnx.backend.test.case.node.collect_testcases`) counts; one of an operator
the executor has a kernel for goes through the real pipeline —
infermem's ONNX frontend, a TFLM-greedy plan, a run inside the arena — and is
compared with the expected outputs ONNX ships, at the case's own tolerances
(runtime/conformance.py).  Cases the executor refuses (3-D pools, float8 and
int4 types, training-mode Dropout, ...) are refused with a clear error.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from infermem.overlap.conformance import rule_mismatches
from infermem.runtime.conformance import node_cases, run_all, summary

# Measured with onnx 1.23.2: 1,113 of the 1,436 single-node cases pass, 0 compute
# wrong values, 0 crash, 323 are refused.
PASS_FLOOR = 1113

# The operators the fixture zoo needs, each of which must pass its ONNX cases.
ZOO_OPS = ["Conv", "Gemm", "MatMul", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
           "HardSwish", "Tanh", "Add", "Sub", "Mul", "Div", "Sum", "BatchNormalization",
           "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Reshape", "Flatten",
           "Squeeze", "Unsqueeze", "Transpose", "Softmax", "LRN", "Pad", "ReduceMean",
           "Dropout", "QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul"]


@pytest.fixture(scope="module")
def results():
    return run_all()


def test_pass_count_does_not_regress(results):
    print("\n" + summary(results))
    passed = sum(r.status == "pass" for r in results)
    assert passed >= PASS_FLOOR, summary(results)


def test_no_case_computes_wrong_values_or_crashes(results):
    bad = [f"{r.name}: {r.status}: {r.detail}" for r in results if r.status in ("fail", "crash")]
    assert not bad, "\n".join(bad)


def test_every_zoo_operator_passes_its_cases(results):
    by_op = defaultdict(list)
    for r in results:
        by_op[r.op_type].append(r)
    for op in ZOO_OPS:
        assert any(r.status == "pass" for r in by_op[op]), f"{op}: {by_op[op]}"


def test_every_rule_equals_the_trace_on_the_cases(results):
    """For one passing case of every operator: each DMO rule the operator has
    equals the distance measured from the executor's trace of that case."""
    first = {}
    for r in results:
        if r.status == "pass":
            first.setdefault(r.op_type, r.name)
    by_name = {c.name: c for c in node_cases()}
    bad = [m for name in first.values() for m in rule_mismatches(by_name[name])]
    assert len(first) >= 100
    assert not bad, "\n".join(bad)
