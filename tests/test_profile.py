"""The live-set peak that `infermem profile` reports, checked against an
independent computation written here from first principles: the model file is
read with onnx / LiteRT directly (not with infermem's frontends), execution is
simulated operator by operator with reference counts, and the bytes in use are
tracked as tensors are allocated and freed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import shape_inference

from infermem.cli import main
from infermem.frontends import load
from infermem.profile import profile

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"
FIXTURES = Path(__file__).parent / "fixtures"
VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def aligned(n: int, a: int = 16) -> int:
    return (n + a - 1) // a * a


def simulate(inputs, outputs, steps, sizes, is_view_of):
    """Peak bytes in use when running `steps` (list of (inputs, outputs)) in order:
    allocate each output before the step, free each tensor after its last reader;
    graph inputs are allocated at the start, graph outputs never freed."""
    owner = {}

    def root(t):
        while t in is_view_of:
            t = is_view_of[t]
        return t

    readers: dict[str, int] = {}
    for ins, _ in steps:
        for t in set(ins):
            if root(t) in sizes:
                readers[root(t)] = readers.get(root(t), 0) + 1
    kept = {root(t) for t in outputs}
    in_use = {root(t) for t in inputs}
    peak = 0
    for ins, outs in steps:
        for t in outs:
            if t in sizes and t not in owner:
                in_use.add(t)
        peak = max(peak, sum(sizes[t] for t in in_use))
        for t in set(ins):
            r = root(t)
            if r in readers:
                readers[r] -= 1
                if readers[r] == 0 and r not in kept:
                    in_use.discard(r)
        for t in outs:  # produced but never read and not an output: dead after its step
            if t in sizes and readers.get(t, 0) == 0 and t not in kept:
                in_use.discard(t)
    return peak


def onnx_peak_first_principles(path: Path) -> int:
    model = shape_inference.infer_shapes(onnx.load(path))
    g = model.graph
    const = {i.name for i in g.initializer}
    steps, view_of = [], {}
    for node in g.node:
        ins = [t for t in node.input if t]
        if all(t in const for t in ins):  # ConstantOfShape of a constant shape, Constant, ...
            const.update(node.output)
            continue
        outs = [t for t in node.output if t]
        if node.op_type in VIEWS:
            view_of[node.output[0]] = node.input[0]
            outs = outs[:1]  # Dropout's mask is not computed in inference
        steps.append(([t for t in ins if t not in const], outs))
    elem = {}
    for vi in [*g.value_info, *g.input, *g.output]:
        tt = vi.type.tensor_type
        dims = [d.dim_value for d in tt.shape.dim]
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).itemsize
        elem[vi.name] = math.prod(dims) * itemsize
    sizes = {
        t: aligned(elem[t])
        for _, outs in steps for t in outs if t not in view_of
    }
    inputs = [i.name for i in g.input if i.name not in const]
    for t in inputs:
        sizes[t] = aligned(elem[t])
    return simulate(inputs, [o.name for o in g.output], steps, sizes, view_of)


def tflite_peak_first_principles(path: Path) -> int:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    details = {d["index"]: d for d in it.get_tensor_details()}
    ops = it._get_ops_details()
    produced = {t for op in ops for t in op["outputs"]}
    inputs = [d["index"] for d in it.get_input_details()]
    outputs = [d["index"] for d in it.get_output_details()]
    arena = produced | set(inputs)
    sizes = {
        t: aligned(int(np.prod(details[t]["shape"])) * np.dtype(details[t]["dtype"]).itemsize)
        for t in arena
    }
    steps = [([t for t in op["inputs"] if t >= 0], list(op["outputs"])) for op in ops]
    return simulate(inputs, outputs, steps, sizes, {})


ONNX_MODELS = ["light_squeezenet", "light_inception_v1", "light_shufflenet", "light_bvlc_alexnet"]
SLOW_ONNX = ["light_resnet50", "light_inception_v2", "light_densenet121"]


@pytest.mark.parametrize(
    "name", ONNX_MODELS + [pytest.param(n, marks=pytest.mark.slow) for n in SLOW_ONNX]
)
def test_onnx_light_peak_matches_first_principles(name):
    path = LIGHT / f"{name}.onnx"
    p = profile(load(path))
    assert p.peak_bytes == onnx_peak_first_principles(path)
    assert p.weights_bytes > 0 and p.naive_bytes >= p.peak_bytes


TFLITE = sorted(FIXTURES.glob("*.tflite"))


@pytest.mark.parametrize("path", TFLITE, ids=[p.name for p in TFLITE])
def test_tflite_peak_matches_first_principles(path):
    p = profile(load(path))
    assert p.peak_bytes == tflite_peak_first_principles(path)
    assert p.operators[p.peak_step].live_bytes == p.peak_bytes


def test_tflite_fixtures_exist():
    assert len(TFLITE) >= 8


def test_profile_json_keys(capsys):
    path = LIGHT / "light_squeezenet.onnx"
    assert main(["profile", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("model", "format", "weights_bytes", "naive_bytes", "peak_bytes",
                "peak_operator_index", "operators", "tensors"):
        assert key in doc
    assert doc["format"] == "onnx"
    assert {"index", "type", "outputs", "live_bytes", "macs"} <= set(doc["operators"][0])
    assert {"name", "index", "shape", "dtype", "bytes", "role", "first", "last"} <= set(
        doc["tensors"][0]
    )
    peak_row = next(r for r in doc["operators"] if r["index"] == doc["peak_operator_index"])
    assert peak_row["live_bytes"] == doc["peak_bytes"]
    # SqueezeNet v1.1's first conv: 64 filters of 3x3x3 on a 224x224 input, stride 2 -> 111x111.
    conv = next(r for r in doc["operators"] if r["type"] == "Conv")
    w = np.prod(conv["outputs"][0]["shape"])
    assert conv["macs"] == w * 3 * 3 * 3


def test_alignment_changes_sizes(capsys):
    path = LIGHT / "light_squeezenet.onnx"
    g = load(path)
    assert profile(g, alignment=64).peak_bytes >= profile(g, alignment=1).peak_bytes
