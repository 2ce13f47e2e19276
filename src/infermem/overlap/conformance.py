"""The ONNX DMO rules checked against the executor on the ONNX backend node
tests: here, not in `runtime`, because the rules (`overlap`) build on the
executor (`runtime`) and the dependency runs one way."""

from __future__ import annotations


def rule_mismatches(case) -> list[str]:
    """Where a DMO rule of the case's operator (overlap/onnx_rules) differs
    from the distance the executor's trace of this case's own run gives."""
    from ..frontends.onnx import graph_from_model
    from ..runtime.conformance import with_constants
    from .onnx_trace import rule_mismatches as mismatches

    model, feed = with_constants(case.model, list(case.data_sets[0][0]))
    return mismatches(graph_from_model(model, name=case.name), feed)
