"""How long `infermem profile` takes on a deep model (target: 200 layers < 2 s).

Builds a 200-layer ONNX model (Conv + Relu pairs on a 1x16x32x32 input, real
weights) in a temporary folder, then times the whole command line in a fresh
process (imports included, as a user sees it) and the library call alone.
Prints a table; this is a benchmark, not a test.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def deep_model(layers: int, channels: int = 16, side: int = 32) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(layers):
        w = rng.standard_normal((channels, channels, 3, 3)).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        prev = f"r{i}"
    graph = helper.make_graph(
        nodes, "deep",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, side, side])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, channels, side, side])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def child_cpu(cmd: list[str], repeats: int = 3) -> float:
    """Median CPU seconds (user + system) of a child process: the figure that
    does not depend on what else the machine is doing."""
    out = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(out)


def main() -> None:
    from infermem.frontends import load
    from infermem.profile import profile

    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'layers':>7} {'operators':>10} {'CLI (fresh process)':>20} {'--json CLI':>11} "
              f"{'CLI CPU':>8} {'load+profile':>13}")
        for layers in (50, 100, 200):
            path = Path(tmp) / f"deep{layers}.onnx"
            onnx.save(deep_model(layers), path)
            cli = [sys.executable, "-m", "infermem.cli", "profile", str(path)]
            t_cli = timed(lambda c=cli: subprocess.run(c, check=True, capture_output=True), 3)
            t_json = timed(lambda c=cli: subprocess.run([*c, "--json"], check=True,
                                                  capture_output=True), 3)
            t_cpu = child_cpu(cli)
            t_lib = timed(lambda p=path: profile(load(p)))
            n_ops = len(load(path).operators)
            print(f"{layers:>7} {n_ops:>10} {t_cli:>19.2f}s {t_json:>10.2f}s {t_cpu:>7.2f}s "
                  f"{t_lib:>12.3f}s")


if __name__ == "__main__":
    main()
