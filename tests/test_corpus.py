"""The real-world corpus (tests/corpus/, made by scripts/make_corpus.py).

The files are shaped like what users bring (TFLiteConverter defaults with
batch -1, dynamic-axes PyTorch exports, Paddle's dim_value -1, tf2onnx's
unk__ dims). These tests check the corpus is what the manifest says and
meaningful as a test set (outputs depend on the input in the reference
runtimes), then run infermem's commands on it, as a user would: with
`--input-shape` only where the manifest gives `run_shapes` (symbolic inputs).
`benchmarks/zoo.py` prints the same commands as a table for every file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from ai_edge_litert.interpreter import Interpreter

from infermem.cli import main

CORPUS = Path(__file__).parent / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
ENTRIES = {Path(e["file"]).stem: e for e in MANIFEST}
ONNX = sorted(s for s, e in ENTRIES.items() if e["format"] == "onnx")
TFLITE = sorted(s for s, e in ENTRIES.items() if e["format"] == "tflite")

TAKES_IDS = tuple(s for s in ONNX if any("int" in i["dtype"] for i in ENTRIES[s]["inputs"]))

def path_of(stem: str) -> Path:
    return CORPUS / ENTRIES[stem]["file"]


def shape_args(stem: str) -> list[str]:
    args: list[str] = []
    for name, dims in (ENTRIES[stem]["run_shapes"] or {}).items():
        args += ["--input-shape", f"{name}={'x'.join(map(str, dims))}"]
    return args


def run_json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_manifest_lists_exactly_the_files_and_they_are_small():
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "manifest.json"}
    assert on_disk == {e["file"] for e in MANIFEST}
    for e in MANIFEST:
        assert (CORPUS / e["file"]).stat().st_size == e["bytes"]
        assert e["bytes"] < 1_800_000, e["file"]
    assert sum(e["bytes"] for e in MANIFEST) < 25_000_000


@pytest.mark.parametrize("stem", TFLITE)
def test_tflite_files_have_a_dynamic_batch_like_every_keras_conversion(stem):
    """TFLiteConverter.from_keras_model leaves -1 in the signature, 1 in the stored shape."""
    details = Interpreter(model_path=str(path_of(stem))).get_input_details()
    assert [list(d["shape_signature"]) for d in details] == \
        [i["shape_signature"] for i in ENTRIES[stem]["inputs"]]
    for d in details:
        assert d["shape_signature"][0] == -1 and d["shape"][0] == 1
    assert ENTRIES[stem]["run_shapes"] is None  # the stored shape is the one to use


def _dims(value) -> list:
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize("stem", ONNX)
def test_onnx_inputs_are_symbolic_as_exported_and_run_shapes_fix_them(stem):
    graph = onnx.load(path_of(stem), load_external_data=False).graph
    inputs = {i.name: _dims(i) for i in graph.input}
    assert inputs == {i["name"]: i["shape"] for i in ENTRIES[stem]["inputs"]}
    symbolic = {n for n, dims in inputs.items()
                if any(isinstance(d, str) or d <= 0 for d in dims)}
    assert symbolic and symbolic == set(ENTRIES[stem]["run_shapes"])
    for name, dims in inputs.items():  # run shapes keep every fixed dim
        fixed = [(a, b) for a, b in zip(dims, ENTRIES[stem]["run_shapes"][name], strict=True)
                 if isinstance(a, int) and a > 0]
        assert all(a == b for a, b in fixed)


def test_paddle_style_export_says_dynamic_with_minus_one():
    dims = _dims(onnx.load(path_of("pplcnet_textline_cls")).graph.input[0])
    assert dims == [-1, 3, 48, 192]


def _onnx_feeds(stem: str, seed: int) -> dict:
    """Inputs at the run shapes, drawn from the manifest's value ranges."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in ENTRIES[stem]["inputs"]:
        shape, (lo, hi) = ENTRIES[stem]["run_shapes"][i["name"]], \
            ENTRIES[stem]["value_ranges"][i["name"]]
        feeds[i["name"]] = (rng.integers(lo, hi, shape) if "int" in i["dtype"]
                            else rng.uniform(lo, hi, shape)).astype(i["dtype"])
    return feeds


@pytest.mark.parametrize("stem", ONNX)
def test_onnx_outputs_depend_on_the_input_in_onnxruntime(stem):
    sess = ort.InferenceSession(path_of(stem), providers=["CPUExecutionProvider"])
    a, b = (sess.run(None, _onnx_feeds(stem, seed)) for seed in (1, 2))
    for name, x, y in zip(ENTRIES[stem]["outputs"], a, b, strict=True):
        assert np.isfinite(x).all(), name
        assert not np.array_equal(x, y), f"{stem}: output {name['name']} is input-independent"


@pytest.mark.parametrize("stem", TFLITE)
def test_tflite_outputs_depend_on_the_input_in_litert(stem):
    interp = Interpreter(model_path=str(path_of(stem)))
    interp.allocate_tensors()
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    rng = np.random.default_rng(0)
    results = []
    for _ in range(3):
        if inp["dtype"] == np.int8:
            x = rng.integers(-128, 128, inp["shape"]).astype(np.int8)
        else:
            x = rng.uniform(0, 1, inp["shape"]).astype(np.float32)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        results.append(interp.get_tensor(out["index"]).copy())
    assert len({r.tobytes() for r in results}) == 3
    if out["dtype"] == np.int8:  # not pinned to the clamp values
        assert np.isin(np.stack(results), (-128, 127)).mean() < 0.5


@pytest.mark.parametrize("stem", sorted(ENTRIES))
def test_profile(stem, capsys):
    doc = run_json(capsys, "profile", str(path_of(stem)), *shape_args(stem), "--json")
    assert doc["peak_bytes"] > 0 and doc["weights_bytes"] > 0
    assert doc["peak_bytes"] <= doc["naive_bytes"]
    if stem in TFLITE:  # no --input-shape: the stored shape, and it says so
        resolved = doc["dynamic_dims_resolved"]
        assert [r["signature"] for r in resolved] == \
            [i["shape_signature"] for i in ENTRIES[stem]["inputs"]]
        assert [r["shape"] for r in resolved] == [i["shape"] for i in ENTRIES[stem]["inputs"]]


@pytest.mark.slow
@pytest.mark.parametrize("stem", sorted(ENTRIES))
def test_plan_and_dmo_plan_validate_and_dmo_is_never_larger(stem, capsys):
    plain = run_json(capsys, "plan", str(path_of(stem)), *shape_args(stem), "--json")
    dmo = run_json(capsys, "plan", str(path_of(stem)), *shape_args(stem), "--dmo", "--json")
    assert plain["lower_bound_bytes"] <= plain["arena_bytes"]
    assert 0 < dmo["arena_bytes"] <= plain["arena_bytes"]


@pytest.mark.slow
@pytest.mark.parametrize("stem", ONNX)
@pytest.mark.parametrize("dmo", [(), ("--dmo",)], ids=["best", "dmo"])
def test_verify_runs_the_plan_against_onnxruntime(stem, dmo, capsys):
    doc = run_json(capsys, "verify", str(path_of(stem)), *shape_args(stem), *dmo, "--json")
    assert doc["ok"] and all(o["ok"] for o in doc["outputs"].values())
    assert doc["tensors_checked"] > len(doc["outputs"])


@pytest.mark.parametrize("stem", TFLITE)
def test_tflite_plans_at_the_stored_shape_without_input_shape(stem, capsys):
    """The -1 batch takes the stored shape (what TFLM and LiteRT allocate) and says so."""
    doc = run_json(capsys, "plan", str(path_of(stem)), "--json")
    assert doc["arena_bytes"] > 0 and len(doc["shape_notes"]) == 1
    (resolved,) = doc["dynamic_dims_resolved"]
    assert resolved["signature"][0] == -1 and resolved["shape"][0] == 1


@pytest.mark.parametrize("stem", ["yolov8n_det", "pplcnet_textline_cls", "unet_seg",
                                  "resnet18_torchvision", "bert_tiny"])
def test_onnx_refusal_suggests_a_valid_shape(stem, capsys):
    """Every fixed dim kept, batch 1, never 1x3x1x1 for an image: the dims the
    model does not fix are names to fill in, the rest numbers that parse."""
    assert main(["profile", str(path_of(stem))]) == 2
    err = capsys.readouterr().err
    assert "--input-shape" in err and "x1x1" not in err and "-1x" not in err
    for name, dims in ENTRIES[stem]["run_shapes"].items():
        suggested = err.split(f"--input-shape {name}=")[1].split()[0].split("x")
        assert len(suggested) == len(dims)
        for want, got in zip(dims, suggested, strict=True):
            assert not got.isdigit() or int(got) == want


@pytest.mark.slow
@pytest.mark.parametrize("stem", TAKES_IDS)
@pytest.mark.parametrize("dmo", [(), ("--dmo",)], ids=["best", "dmo"])
def test_transformers_verify_on_a_users_ids(stem, dmo, capsys, tmp_path):
    """Token ids and masks as a tokenizer gives them (--inputs), from the manifest's ranges."""
    feeds = _onnx_feeds(stem, 3)
    sess = ort.InferenceSession(path_of(stem), providers=["CPUExecutionProvider"])
    assert all(np.isfinite(o).all() for o in sess.run(None, feeds))  # a meaningful check
    np.savez(tmp_path / "inputs.npz", **feeds)
    doc = run_json(capsys, "verify", str(path_of(stem)), *shape_args(stem), *dmo,
                   "--inputs", str(tmp_path / "inputs.npz"), "--json")
    assert doc["ok"] and set(doc["outputs"]) == {o["name"] for o in ENTRIES[stem]["outputs"]}


@pytest.mark.slow
@pytest.mark.parametrize("stem", TFLITE)
def test_tflite_dmo_plans_verify_bit_identical_in_tflm(stem, tmp_path, capsys):
    doc = run_json(capsys, "optimize", str(path_of(stem)), "-o", str(tmp_path / "o.tflite"),
                   "--dmo", "--runs", "2", "--json")
    assert doc["verified"] and doc["head_after"] <= doc["head_before"]
    assert doc["constant_outputs"] == [] and len(doc["shape_notes"]) == 1
    assert doc["head_after"] == doc["planned_arena_bytes"]  # TFLM uses the plan as written
