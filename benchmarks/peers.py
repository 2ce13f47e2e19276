"""Peer planners on one ONNX model, as JSON: TVM Relax's static plan, onnx-tool's.

Runs in the peers' own environment, never infermem's (neither is an infermem
dependency; this file imports nothing of infermem):

    python3 -m venv /work/venv-peers
    /work/venv-peers/bin/pip install onnx onnx-tool apache-tvm==0.27.0.post1 numpy psutil
    /work/venv-peers/bin/python benchmarks/peers.py tvm MODEL.onnx \\
        --input-shape input_ids=1x128 --input-shape attention_mask=1x128 ...

Prints one JSON object on stdout:

* `tvm`: `{"version", "default", "default_storage", "default_blocks",
  "default_outside_plan", the same for "unfused", "seconds",
  "scalar_constants_of_shape"}`: after TVM's default (fused) pipeline and after
  the unfused lowering (see peers_tvm.py), the bytes of the `alloc_storage`
  blocks `StaticPlanBlockMemory` leaves (`_storage`, `_blocks` of them) plus
  those of the tensors allocated outside them (`_outside_plan`: the unfused
  lowering allocates the graph's outputs there); `default` / `unfused` are
  the sums, comparable with an arena that holds the outputs;
* `onnx-tool`: `{"version", "activation_bytes", "raw_bytes", "seconds"}`:
  `Graph.compress_memory()`, onnx-tool's activation memory after its reuse
  (graph inputs and outputs included, 64-byte padding), and the sum of all
  activations without reuse;

or `{"not_installed": "<why>"}` (exit 3) when the peer cannot be imported.
benchmarks/transformers.py calls it through `--peer-python`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

NOT_INSTALLED = 3


def parse_shape(text: str) -> tuple[str, list[int]]:
    """NAME=DxDxD, as infermem's --input-shape takes it."""
    name, _, dims = text.rpartition("=")
    return name, [int(d) for d in dims.split("x")]


def scalar_constants_of_shape(model) -> int:
    """Rewrite `ConstantOfShape` of an empty shape (a scalar: `torch.full([], x)`
    in GPT-2's attention) as the `Constant` scalar it is, in place: TVM 0.27's
    ONNX frontend refuses it (broadcast_to a 0-d shape).  Returns how many."""
    import numpy as np
    from onnx import helper, numpy_helper

    empty = {i.name for i in model.graph.initializer if 0 in i.dims}
    empty |= {n.output[0] for n in model.graph.node if n.op_type == "Constant"
              and any(a.name == "value" and 0 in a.t.dims for a in n.attribute)}
    count = 0
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in empty:
            value = next((numpy_helper.to_array(a.t) for a in node.attribute
                          if a.name == "value"), np.zeros(1, np.float32))  # ONNX's default
            tensor = numpy_helper.from_array(value.reshape(()), node.output[0])
            node.CopyFrom(helper.make_node("Constant", [], list(node.output), name=node.name,
                                           value=tensor))
            count += 1
    return count


def tvm_figures(path: Path, shapes: dict[str, list[int]]) -> dict:
    import onnx
    import tvm
    from peers_tvm import tvm_plans

    t = time.perf_counter()
    model = onnx.load(path)
    rewritten = scalar_constants_of_shape(model)
    plans = tvm_plans(model, shapes)
    out = {"version": tvm.__version__, "seconds": round(time.perf_counter() - t, 1),
           "scalar_constants_of_shape": rewritten}
    for key, name in (("default", "default (fused)"), ("unfused", "unfused")):
        blocks, outside = plans[name]["blocks"], plans[name]["outside"]
        out[key] = sum(blocks) + sum(outside)
        out |= {f"{key}_storage": sum(blocks), f"{key}_blocks": len(blocks),
                f"{key}_outside_plan": sum(outside)}
    return out


def onnx_tool_figures(path: Path, shapes: dict[str, list[int]]) -> dict:
    from importlib.metadata import version

    import numpy as np
    import onnx
    import onnx_tool

    t = time.perf_counter()
    model = onnx_tool.Model(str(path), {"verbose": False})
    g = model.graph
    dtypes = {i.name: onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
              for i in model.mproto.graph.input}
    g.shape_infer({n: np.zeros(s, dtypes[n]) for n, s in shapes.items()})
    _, compressed = g.compress_memory()
    raw = sum(g.tensormap[t].get_memsize() for t in g.dynamics
              if t not in g.input and t not in g.output)
    return {"version": version("onnx-tool"), "activation_bytes": int(compressed),
            "raw_bytes": int(raw), "seconds": round(time.perf_counter() - t, 1)}


PEERS = {"tvm": tvm_figures, "onnx-tool": onnx_tool_figures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("model", type=Path)
    ap.add_argument("--input-shape", action="append", default=[], type=parse_shape,
                    metavar="NAME=DxD", help="fix an input's shape (repeatable)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        figures = PEERS[args.peer](args.model, dict(args.input_shape))
    except ImportError as e:
        print(json.dumps({"not_installed": str(e)}))
        return NOT_INSTALLED
    except Exception as e:  # the peer's own failure, in one line for the table
        last = (str(e).strip().splitlines() or [""])[-1]
        print(json.dumps({"failed": f"{type(e).__name__}: {last}"}))
        return 1
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
