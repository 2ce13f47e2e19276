"""Reference-runtime checks for the corpus: each file loads, runs, and its outputs vary.

Imported by make_corpus.py. A random-weight model whose outputs are the same
for every input would let a wrong memory plan pass any output comparison, so
generation fails on one: every output must take a different value for most
of the seeded inputs, and an int8 output may not sit on its clamp values.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from ai_edge_litert.interpreter import Interpreter

RUNS = 6
Ranges = tuple[float, float] | dict[str, tuple[float, float]]


class ConstantOutput(RuntimeError):
    """A corpus model whose output does not depend on its input."""


def tflite_io(data: bytes) -> tuple[list[dict], list[dict]]:
    """Inputs/outputs as stored: the allocated shape and the shape signature (-1 = dynamic)."""
    interp = Interpreter(model_content=data)

    def describe(details):
        return [{"name": d["name"], "shape": [int(s) for s in d["shape"]],
                 "shape_signature": [int(s) for s in d["shape_signature"]],
                 "dtype": np.dtype(d["dtype"]).name} for d in details]

    return describe(interp.get_input_details()), describe(interp.get_output_details())


def varies(name: str, outputs: list[np.ndarray], int8: bool) -> dict:
    """How many of the runs gave a distinct output, and how much of it is clamped."""
    rows = {o.tobytes() for o in outputs}
    stats = {"distinct": len(rows), "runs": len(outputs)}
    if int8:
        stacked = np.stack(outputs)
        stats["saturated_fraction"] = round(float(np.isin(stacked, (-128, 127)).mean()), 3)
    if len(rows) < max(2, len(outputs) // 2) or stats.get("saturated_fraction", 0) > 0.5:
        raise ConstantOutput(f"output {name!r} barely varies with the input: {stats}")
    return stats


def check_tflite(data: bytes, value_range: tuple[float, float], seed: int = 0) -> dict:
    """Run the stored shapes in LiteRT on seeded inputs over the model's input range."""
    interp = Interpreter(model_content=data)
    interp.allocate_tensors()
    (inp,), outs = interp.get_input_details(), interp.get_output_details()
    rng = np.random.default_rng(seed)
    results: list[list[np.ndarray]] = []
    for _ in range(RUNS):
        x = rng.uniform(*value_range, inp["shape"])
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127)
        interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interp.invoke()
        results.append([interp.get_tensor(o["index"]).copy() for o in outs])
    return {"runtime": "ai_edge_litert", "outputs": {
        o["name"]: varies(o["name"], [r[i] for r in results], o["dtype"] == np.int8)
        for i, o in enumerate(outs)}}


def _feeds(sess: ort.InferenceSession, shapes: dict, ranges: Ranges, rng) -> dict:
    feeds = {}
    for i in sess.get_inputs():
        shape = shapes.get(i.name) or i.shape
        if "int" in i.type:
            lo, hi = ranges.get(i.name, (0, 10)) if isinstance(ranges, dict) else (0, 10)
            feeds[i.name] = rng.integers(lo, hi, shape).astype(np.int64)
        else:
            lo, hi = ranges.get(i.name, (-1.0, 1.0)) if isinstance(ranges, dict) else ranges
            feeds[i.name] = rng.uniform(lo, hi, shape).astype(np.float32)
    return feeds


def check_onnx(data: bytes, shapes: dict | None, ranges: Ranges, seed: int = 0) -> dict:
    """Run in onnxruntime at the manifest's shapes (and at batch 2 where dynamic)."""
    onnx.checker.check_model(onnx.load_from_string(data))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    shapes = shapes or {}
    rng = np.random.default_rng(seed)
    names = [o.name for o in sess.get_outputs()]
    results = [sess.run(None, _feeds(sess, shapes, ranges, rng)) for _ in range(RUNS)]
    check = {"runtime": "onnxruntime", "outputs": {
        n: varies(n, [r[i] for r in results], False) for i, n in enumerate(names)}}
    if shapes:
        batch2 = {n: [2, *s[1:]] for n, s in shapes.items()}
        out = sess.run(None, _feeds(sess, batch2, ranges, rng))
        check["batch_2_output_shapes"] = [list(o.shape) for o in out]
    return check
