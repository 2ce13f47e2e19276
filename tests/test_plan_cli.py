"""`infermem plan`: the documented JSON, the plan file, the C header and the plot
all say what the validated plan says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infermem.cli import main
from infermem.frontends import load
from infermem.planners import validate
from infermem.planning import build_problem

FIXTURES = Path(__file__).parent / "fixtures"
MODEL = FIXTURES / "mobilenet_v1_int8.tflite"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    args = ["plan", str(MODEL), "-o", str(out / "plan.json"), "--header", str(out / "plan.h"),
            "--plot", str(out / "layout.png")]
    assert main(args) == 0
    return out


def test_plan_json_has_the_documented_keys_and_validates(outputs, capsys):
    assert main(["plan", str(MODEL), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads((outputs / "plan.json").read_text()) | {"seconds": doc["seconds"]}
    for key in ("strategy", "arena_bytes", "lower_bound_bytes", "optimal", "order", "tensors"):
        assert key in doc
    graph = load(MODEL)
    problem = build_problem(graph, tuple(doc["order"]))
    offsets = {t["name"]: t["offset"] for t in doc["tensors"]}
    validate(problem, offsets)  # the written plan is valid on its own
    assert doc["arena_bytes"] == max(t["offset"] + t["bytes"] for t in doc["tensors"])
    indexed = {t["index"] for t in doc["tensors"] if t["index"] is not None}
    assert indexed == {graph.tensors[n].index for n in graph.tensors
                       if graph.tensors[n].is_arena and n in offsets}


def test_header_defines_the_same_offsets(outputs):
    doc = json.loads((outputs / "plan.json").read_text())
    header = (outputs / "plan.h").read_text()
    defines = dict(re.findall(r"#define INFERMEM_OFFSET_T(\d+) (\d+)u", header))
    by_index = {t["index"]: t["offset"] for t in doc["tensors"] if t["index"] is not None}
    assert {int(k): int(v) for k, v in defines.items()} == by_index
    assert f"#define INFERMEM_ARENA_BYTES {doc['arena_bytes']}u" in header


def test_header_compiles_when_a_c_compiler_is_present(outputs, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this machine")
    main_c = tmp_path / "main.c"
    main_c.write_text(f'#include "{outputs / "plan.h"}"\n'
                      "int main(void) { return infermem_tensor_offsets[0] < -1; }\n")
    subprocess.run([cc, "-Wall", "-Werror", "-c", str(main_c), "-o", str(tmp_path / "m.o")],
                   check=True)


def test_layout_plot_is_a_png(outputs):
    assert (outputs / "layout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
