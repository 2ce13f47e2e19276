"""Peer planners on one ONNX model, as JSON: TVM Relax's static plan, onnx-tool's.

Runs in the peers' own environment, never infermem's (neither is an infermem
dependency; this file imports nothing of infermem):

    python3 -m venv /work/venv-peers
    /work/venv-peers/bin/pip install onnx onnx-tool apache-tvm==0.27.0.post1 numpy psutil
    /work/venv-peers/bin/python benchmarks/peers.py tvm MODEL.onnx \\
        --input-shape input_ids=1x128 --input-shape attention_mask=1x128 ...

Prints one JSON object on stdout:

* `tvm`: `{"version", "default": bytes, "default_blocks": n, "unfused": bytes,
  "unfused_blocks": n, "seconds"}`: the `alloc_storage` blocks TVM's
  `StaticPlanBlockMemory` leaves after its default (fused) pipeline and after
  the unfused lowering (see peers_tvm.py);
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


def tvm_figures(path: Path, shapes: dict[str, list[int]]) -> dict:
    import onnx
    import tvm
    from peers_tvm import tvm_plans

    t = time.perf_counter()
    plans = tvm_plans(onnx.load(path), shapes)
    out = {"version": tvm.__version__, "seconds": round(time.perf_counter() - t, 1)}
    for key, name in (("default", "default (fused)"), ("unfused", "unfused")):
        out[key], out[f"{key}_blocks"] = sum(plans[name]), len(plans[name])
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
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
