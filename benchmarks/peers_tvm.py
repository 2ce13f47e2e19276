"""TVM Relax's static memory plan on ONNX ResNet50 (or any ONNX model), next to infermem's.

TVM is not a dependency of infermem; run this in an environment of its own:

    python3 -m venv /tmp/tvm && /tmp/tvm/bin/pip install apache-tvm==0.27.0.post1 onnx
    /tmp/tvm/bin/python benchmarks/peers_tvm.py            # TVM's figures
    python benchmarks/planners.py --markdown               # infermem's (light_resnet50 row)

`tvm_plans(model, shapes)` does the same for any ONNX model with its
symbolic input dims fixed (benchmarks/peers.py runs it for
benchmarks/transformers.py).

Two TVM pipelines on onnx's `light_resnet50.onnx`, each ending with
`StaticPlanBlockMemory`; the figure is the sum of the `alloc_storage` blocks
the planner leaves in `main` (intermediate tensors; weights are constants):

* default: `relax.get_default_pipeline(Target("llvm"))`, what `relax.build`
  runs: legalize, FuseOps + FuseTIR (fused intermediates never reach memory),
  then the VM lowering with StaticPlanBlockMemory;
* unfused: DecomposeOpsForInference + LegalizeOps, then the same lowering
  (every operator's output is a tensor, as in the ONNX graph infermem plans).
"""

from __future__ import annotations

import math
import re
import sys
import time
from pathlib import Path

STORAGE = re.compile(r"alloc_storage\(R\.shape\(\[(\d+)\]\)")
OUTSIDE = re.compile(r'R\.builtin\.alloc_tensor\(R\.shape\(\[([\d, ]*)\]\), R\.dtype\("(\w+)"\)')


def light_resnet50() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"


def storages(mod) -> list[int]:
    return [int(n) for n in STORAGE.findall(mod["main"].script())]


def outside_plan(mod) -> list[int]:
    """Bytes of the tensors `main` allocates outside the static plan: the
    unfused lowering leaves the function's outputs there, the default
    pipeline plans them into storage blocks."""
    import numpy as np

    return [math.prod(int(d) for d in dims.split(",") if d.strip()) * np.dtype(dt).itemsize
            for dims, dt in OUTSIDE.findall(mod["main"].script())]


def unfused(mod):
    import tvm
    from tvm import relax

    passes = [relax.transform.DecomposeOpsForInference(), relax.transform.LegalizeOps(),
              relax.transform.RewriteDataflowReshape(), relax.transform.ToNonDataflow(),
              relax.transform.RemovePurityChecking(), relax.transform.CallTIRRewrite(),
              relax.transform.StaticPlanBlockMemory()]
    return tvm.transform.Sequential(passes)(mod)


def default(mod):
    import tvm
    from tvm import relax

    return relax.get_default_pipeline(tvm.target.Target("llvm"))(mod)


PIPELINES = {"default (fused)": default, "unfused": unfused}


def tvm_plans(model, shapes: dict[str, list[int]] | None = None) -> dict[str, dict]:
    """Per pipeline, the storage blocks it plans for `model` (an
    onnx.ModelProto, its inputs fixed to `shapes`: name -> dims, None keeps
    the file's) and the bytes it allocates outside them: {"blocks", "outside"}."""
    from tvm.relax.frontend.onnx import from_onnx

    mod = from_onnx(model, shape_dict=shapes, keep_params_in_input=False)
    plans = {}
    for name, lower in PIPELINES.items():
        lowered = lower(mod)
        plans[name] = {"blocks": storages(lowered), "outside": outside_plan(lowered)}
    return plans


def main() -> int:
    try:
        import onnx
        import tvm
        import tvm.relax.frontend.onnx
    except ImportError as e:
        print(f"needs TVM and onnx in this environment ({e}); see the docstring")
        return 2
    mod = tvm.relax.frontend.onnx.from_onnx(onnx.load(light_resnet50()),
                                            keep_params_in_input=False)
    print(f"TVM {tvm.__version__}, {light_resnet50().name}")
    print("| pipeline | storage blocks | bytes | time |")
    print("|---|---:|---:|---:|")
    for name, lower in PIPELINES.items():
        t = time.perf_counter()
        blocks = storages(lower(mod))
        print(f"| {name} | {len(blocks)} | {sum(blocks):,} | {time.perf_counter() - t:.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
