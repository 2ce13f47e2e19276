"""benchmarks/transformers.py's helpers on the corpus's tiny BERT and GPT-2, peers absent.

The benchmark itself runs on the generated 0.4-1.5 GB files (too big for
tests); these check that what it reads and prints is what infermem computes
in-process, and that a missing or failing peer is named, not fatal.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from infermem.frontends import load
from infermem.planning import plan_model

ROOT = Path(__file__).parents[1]
CORPUS = ROOT / "tests" / "corpus"
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location("bench_transformers",
                                               ROOT / "benchmarks" / "transformers.py")
bench = importlib.util.module_from_spec(_spec)  # not "transformers": Hugging Face's name
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)


def test_plan_figures_are_the_in_process_plan():
    case = bench.Case("gpt2_tiny", "gpt2", 16)
    shapes = case.shapes()
    graph = load(CORPUS / "gpt2_tiny.onnx", {n: tuple(s) for n, s in shapes.items()})
    plain, child = bench.plan_bytes(CORPUS / "gpt2_tiny.onnx", shapes)
    assert plain == plan_model(graph).plan.arena_bytes
    assert child.rc == 0 and child.rss > 10 << 20 and child.wall > 0


def test_a_failing_plan_and_absent_peers_are_named_in_the_table():
    path = CORPUS / "bert_tiny.onnx"
    shapes = {"input_ids": [1, 16]}  # the other two inputs left symbolic
    failed, _ = bench.plan_bytes(path, shapes)
    assert failed.startswith("failed (exit 2: ") and "\n" not in failed
    # infermem's own Python has onnx but neither TVM nor onnx-tool
    assert bench.peer(Path(sys.executable), "tvm", path, shapes) == {"missing": "not installed"}
    assert bench.peer(ROOT / "no-such-python", "onnx-tool", path, shapes)["missing"] == \
        "not installed"
    row = bench.Row("bert_tiny", 733332, failed, 36928, "n/a", "not installed",
                    "not installed", "not installed", 1.5, 5.5, 77_516_800, 6.2, 77_979_648)
    md = bench.table([row], markdown=True).splitlines()
    assert md[0].count("|") == md[2].count("|") == len(bench.COLUMNS) + 1
    assert md[2].startswith("| bert_tiny | 1 MB | failed (exit 2: ")
    assert "| 36,928 | n/a | not installed |" in md[2] and "| 78 MB |" in md[2]
    text = bench.table([row], markdown=False).splitlines()
    assert len(text) == 2 and len(text[0]) == len(text[1])


def test_the_scalar_constant_of_shape_rewrite_for_tvm_keeps_the_outputs():
    import numpy as np
    import onnx
    import onnxruntime as ort
    from peers import scalar_constants_of_shape

    model = onnx.load(CORPUS / "gpt2_tiny.onnx")
    feeds = {"input_ids": np.arange(16, dtype=np.int64)[None] % 7,
             "attention_mask": np.ones((1, 16), np.int64)}

    def logits(m):
        s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return s.run(None, feeds)[0]

    before = logits(model)
    assert scalar_constants_of_shape(model) == 2  # one torch.full([], x) per layer
    assert "ConstantOfShape" not in {n.op_type for n in model.graph.node}
    onnx.checker.check_model(model)
    np.testing.assert_array_equal(logits(model), before)
