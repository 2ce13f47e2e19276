"""Branchy models to exercise the scheduler where the light zoo cannot.

The ImageNet light models peak at their stem (a big input next to a big first
activation), so every order ties there.  NASNet-A cells are the opposite: two
cell inputs feed ten branches, and which branch runs first decides the peak.
`nasnet_onnx` builds a real, runnable ONNX model of NASNet-A normal cells
(random seeded weights; the schedule does not care about values, the
write-back check does).  `random_cells` is a harsher Graph-level family with
random tensor sizes, for stress-testing the exact search.
"""

from __future__ import annotations

import random

import numpy as np

from ..graph import Graph, Operator, Role, Tensor


class _Onnx:
    """Accumulates nodes and seeded initializers of a float32 NCHW model."""

    def __init__(self, seed: int) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.rng = np.random.default_rng(seed)
        self.k = 0

    def name(self, kind: str) -> str:
        self.k += 1
        return f"{kind}_{self.k}"

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int = 1, group: int = 1) -> str:
        from onnx import numpy_helper

        w = self.rng.normal(0, (2 / (k * k * cin / group)) ** 0.5, (cout, cin // group, k, k))
        b = self.rng.normal(0, 0.1, cout)
        wn, bn = self.name("w"), self.name("b")
        self.inits += [numpy_helper.from_array(w.astype(np.float32), wn),
                       numpy_helper.from_array(b.astype(np.float32), bn)]
        return self.node("Conv", [x, wn, bn], kernel_shape=[k, k], pads=[k // 2] * 4,
                         group=group)

    def sep(self, x: str, c: int, k: int) -> str:
        """Keras separable_conv_block: (ReLU, depthwise kxk, pointwise 1x1) x 2."""
        for _ in range(2):
            x = self.conv(self.conv(self.node("Relu", [x]), c, c, k, group=c), c, c)
        return x

    def pool(self, x: str) -> str:
        return self.node("AveragePool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         count_include_pad=0)

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b])


def nasnet_onnx(cells: int = 4, channels: int = 8, size: int = 16, seed: int = 0):
    """An onnx.ModelProto: stem, then `cells` NASNet-A normal cells of
    `channels` filters on size x size maps, then global average pooling."""
    from onnx import TensorProto, helper

    b = _Onnx(seed)
    f, wide = channels, 6 * channels
    stem = b.conv("image", 3, wide, 3)
    prev, cur = stem, b.conv(b.node("Relu", [stem]), wide, wide)
    for _ in range(cells):
        p = b.conv(b.node("Relu", [prev]), wide, f)  # adjust_block
        h = b.conv(b.node("Relu", [cur]), wide, f)
        x1 = b.add(b.sep(h, f, 5), b.sep(p, f, 3))
        x2 = b.add(b.sep(p, f, 5), b.sep(p, f, 3))
        x3 = b.add(b.pool(h), p)
        x4 = b.add(b.pool(p), b.pool(p))
        x5 = b.add(b.sep(h, f, 3), h)
        prev, cur = cur, b.node("Concat", [p, x1, x2, x3, x4, x5], axis=1)
    out = b.node("GlobalAveragePool", [cur])
    graph = helper.make_graph(
        b.nodes, "nasnet_a_normal_cells",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, wide, 1, 1])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def random_cells(cells: int, seed: int = 0, blocks: int = 5) -> Graph:
    """NASNet-shaped wiring (each cell reads the two previous cells; each
    block adds two chains of 1-3 ops) with random tensor sizes: no two
    branches alike, so little collapses and the search has to work."""
    rng = random.Random(seed)
    sizes: dict[str, int] = {}
    ops: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def op(inputs: list[str], out: str, size: int) -> str:
        sizes[out] = size
        ops.append((tuple(inputs), (out,)))
        return out

    sizes["x"] = 1024
    prev, pp = "x", op(["x"], "stem", 1024)
    for c in range(cells):
        hidden, outs = [prev, pp], []
        for k in range(blocks):
            pair = []
            for side in range(2):
                y = rng.choice(hidden)
                for depth in range(rng.randint(1, 3)):
                    y = op([y], f"c{c}b{k}s{side}d{depth}", 16 * rng.randint(8, 96))
                pair.append(y)
            hidden.append(op(pair, f"c{c}b{k}add", 16 * rng.randint(8, 96)))
            outs.append(hidden[-1])
        pp, prev = prev, op(outs, f"c{c}cat", 16 * rng.randint(32, 256))

    def role(n: str) -> Role:
        return Role.INPUT if n == "x" else Role.OUTPUT if n == prev else Role.ACTIVATION

    tensors = {n: Tensor(n, (s,), "int8", role(n)) for n, s in sizes.items()}
    operators = tuple(Operator(i, "Op", a, o) for i, (a, o) in enumerate(ops))
    return Graph(f"random_cells_{cells}_{seed}", "onnx", tensors, operators, ("x",), (prev,))
