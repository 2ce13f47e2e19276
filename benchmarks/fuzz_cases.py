"""Hostile inputs for the fuzz harness (`benchmarks/fuzz.py`, `tests/test_fuzz.py`).

A case is a few files written into an empty folder and one `infermem` command
line run on them.  `make_case(seed, i)` is a pure function of the seed and
the case number, so any failure is reproduced by its number alone.  Families:

- `onnx`: structured ONNX mutations of a small synthetic network and of the
  fixtures: huge / negative / zero / too many dims, cycles, duplicate names,
  missing initializers, very deep chains, very wide operators, external-data
  paths that leave the folder, folding bombs, bad window attributes, unknown
  operators, broken outputs;
- `tflite`: structured mutations through the flatbuffer object API: control
  flow, unknown builtins, self-cycles, absurd or negative shapes, indices out
  of range, zero strides, bad padding, garbage offline plans;
- `bytes`: truncations, bit flips and splices of fixture `.tflite` / `.onnx`;
- `paths`: outputs onto the input (name, `..`, symlink, hard link), onto a
  folder, under a missing folder, over an existing file, a bad plot extension.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
TFLITE_SEEDS = ("dmo/ops_int8.tflite", "dmo/ops_f32.tflite", "tiny_unet_int8.tflite",
                "inception_block_int8.tflite", "ds_cnn_int8.tflite")  # fmt: skip
ONNX_SEEDS = ("inception_block_f32.onnx", "ds_cnn_f32.onnx")

# Every case runs under this budget, below the harness's default 2 GiB RSS
# limit: the harness checks that infermem keeps to the budget it is given
# (its default, half of the available RAM, is far above the limit).
BUDGET = ("--max-memory", "1536MiB")

# Commands; '{m}' is the model, '{d}' the case folder.  fit measures in TFLM
# only in the `fit-tflm` variant.
COMMANDS: dict[str, tuple[str, ...]] = {
    "profile": ("profile", "{m}", "--json"),
    "plan": ("plan", "{m}", "--time-limit", "1"),
    "plan-dmo": ("plan", "{m}", "--dmo", "--time-limit", "1"),
    "fit": ("fit", "{m}", "--device", "nrf52840", "--time-limit", "1", "--no-measure"),
    "fit-tflm": ("fit", "{m}", "--device", "nrf52840", "--time-limit", "1"),
    "verify": ("verify", "{m}", "--time-limit", "1"),
    "tflm-measure": ("tflm", "measure", "{m}", "--no-bisect", "--timeout", "30"),
    "optimize": ("optimize", "{m}", "-o", "{d}/out.tflite", "--runs", "1", "--timeout", "30",
                 "--time-limit", "1"),  # fmt: skip
    "report": ("report", "{m}", "-o", "{d}/out.html", "--no-tflm", "--time-limit", "1"),
}
# Relative weights: the commands that start TFLM children are the slow ones.
WEIGHTS = {"profile": 6, "plan": 5, "plan-dmo": 4, "fit": 3, "fit-tflm": 1, "verify": 4,
           "tflm-measure": 1, "optimize": 1, "report": 1}  # fmt: skip
TFLITE_ONLY = {"tflm-measure", "optimize", "fit-tflm"}


@dataclass(frozen=True)
class Case:
    number: int
    family: str
    mutation: str
    command: str
    argv: tuple[str, ...]  # with {d} (the case folder) still to fill in
    files: dict[str, bytes] = field(default_factory=dict)  # written before the run
    links: tuple[tuple[str, str, str], ...] = ()  # (kind symlink|hardlink|mkdir, target, name)
    must_fail: bool = False  # only exit 2 is right (path cases)
    heavy: bool = False  # a resource bomb: run it in a child with an RSS limit

    def title(self) -> str:
        return f"#{self.number} {self.family}/{self.mutation} {self.command}"


# ------------------------------------------------------------------ ONNX


def _model(nodes, inputs, outputs, inits=(), opset: int = 17) -> bytes:
    g = helper.make_graph(list(nodes), "fuzz", list(inputs), list(outputs), list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def _vi(name, dims, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, dims)


def _init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def small_net(dims=(1, 4, 8, 8), conv_attrs=None, pool_attrs=None) -> bytes:
    """x -> Conv -> Relu -> MaxPool -> Conv -> Add(skip) -> GlobalAveragePool."""
    c = dims[1] if len(dims) > 1 and isinstance(dims[1], int) and 0 < dims[1] < 64 else 4
    w1 = np.full((c, c, 3, 3), 0.05, np.float32)
    w2 = np.full((c, c, 1, 1), 0.1, np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1",
                         **({"pads": [1, 1, 1, 1]} if conv_attrs is None else conv_attrs)),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1",
                         **({"kernel_shape": [2, 2], "strides": [2, 2]} if pool_attrs is None
                            else pool_attrs)),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Add", ["c2", "p1"], ["a2"], name="add2"),
        helper.make_node("GlobalAveragePool", ["a2"], ["y"], name="gap"),
    ]  # fmt: skip
    return _model(nodes, [_vi("x", list(dims))], [_vi("y", None)],
                  [_init("w1", w1), _init("w2", w2)])  # fmt: skip


def chain(n: int, op: str = "Relu") -> bytes:
    nodes = [helper.make_node(op, [f"t{i}"], [f"t{i + 1}"]) for i in range(n)]
    return _model(nodes, [_vi("t0", [1, 16])], [_vi(f"t{n}", None)])


def wide(n: int, op: str) -> bytes:
    ins = [_vi(f"i{k}", [1, 4]) for k in range(n)]
    attrs = {"axis": 1} if op == "Concat" else {}
    node = helper.make_node(op, [f"i{k}" for k in range(n)], ["y"], **attrs)
    return _model([node], ins, [_vi("y", None)])


def branches(n: int) -> bytes:
    nodes = [helper.make_node("Relu", ["x"], [f"b{k}"]) for k in range(n)]
    nodes.append(helper.make_node("Sum", [f"b{k}" for k in range(n)], ["y"]))
    return _model(nodes, [_vi("x", [1, 8])], [_vi("y", None)])


def bomb(kind: str) -> bytes:
    """Small files whose folding or shape inference would materialise GiBs."""
    i64 = lambda name, v: _init(name, np.array(v, np.int64))  # noqa: E731
    if kind == "range":
        nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
                 helper.make_node("Add", ["r", "r"], ["y"])]  # fmt: skip
        inits = [i64("s", 0), i64("l", 1 << 28), i64("d", 1)]
    elif kind == "constantofshape":
        nodes = [helper.make_node("ConstantOfShape", ["shape"], ["c"],
                                  value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
                 helper.make_node("Add", ["c", "c"], ["y"])]  # fmt: skip
        inits = [i64("shape", [65536, 32768])]
    elif kind == "expand":
        nodes = [helper.make_node("Expand", ["one", "shape"], ["e"]),
                 helper.make_node("Add", ["e", "e"], ["y"])]  # fmt: skip
        inits = [_init("one", np.ones((1, 1), np.float32)), i64("shape", [16384, 16384])]
    else:  # tile
        nodes = [helper.make_node("Tile", ["one", "reps"], ["e"]),
                 helper.make_node("Add", ["e", "e"], ["y"])]  # fmt: skip
        inits = [_init("one", np.ones((1, 1), np.float32)), i64("reps", [16384, 16384])]
    x = helper.make_node("Relu", ["x"], ["x1"])  # a real input, so the graph is a model
    return _model([x, *nodes], [_vi("x", [1, 4])], [_vi("y", None), _vi("x1", None)], inits)


def external(location: str) -> bytes:
    t = TensorProto(name="w", dims=[4, 4], data_type=TensorProto.FLOAT)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "64")):
        e = t.external_data.add()
        e.key, e.value = k, v
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    return _model([node], [_vi("x", [1, 4])], [_vi("y", None)], [t])


BAD_CONV = [
    {"group": 0}, {"group": -1}, {"group": 3}, {"group": 1 << 40}, {"auto_pad": "BOGUS"},
    {"auto_pad": ""}, {"strides": [0, 1]}, {"strides": [-2, 1]}, {"strides": [1 << 62, 1]},
    {"strides": [1, 1, 1]}, {"dilations": [0, 1]}, {"dilations": [1 << 62, 1]},
    {"pads": [-1, 0, 0, 0]}, {"pads": [1, 1]}, {"pads": [1 << 62, 0, 0, 0]},
    {"kernel_shape": [5, 5]}, {"kernel_shape": [0, 3]}, {"kernel_shape": [3, 3, 3]},
]  # fmt: skip
BAD_POOL = [
    {"kernel_shape": [0, 2]}, {"kernel_shape": [64, 2]},
    {"strides": [0, 2], "kernel_shape": [2, 2]},
    {"kernel_shape": [2, 2], "auto_pad": "X"}, {"kernel_shape": [2, 2], "pads": [0, 0, -3, 0]},
    {"kernel_shape": [2, 2], "dilations": [1 << 62, 1]}, {},
]  # fmt: skip


def _fixture_onnx(rng: random.Random) -> onnx.ModelProto:
    return onnx.load_from_string(_read(rng.choice(ONNX_SEEDS)))


def _mutate_fixture_onnx(rng: random.Random) -> tuple[str, bytes]:
    m = _fixture_onnx(rng)
    g = m.graph
    k = rng.randrange(len(g.node))
    what = rng.choice(["drop-node", "swap-nodes", "op-type", "drop-init", "init-dims",
                       "attr-int", "rename-input", "output-name", "input-dtype",
                       "dup-output"])  # fmt: skip
    node = g.node[k]
    if what == "drop-node":
        del g.node[k]
    elif what == "swap-nodes":
        j = rng.randrange(len(g.node))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(g.node[k])
        b.CopyFrom(g.node[j])
        g.node[k].CopyFrom(b)
        g.node[j].CopyFrom(a)
    elif what == "op-type":
        node.op_type = rng.choice(["Foo", "Softmax", "Conv", "Loop", "Reshape", ""])
    elif what == "drop-init" and g.initializer:
        del g.initializer[rng.randrange(len(g.initializer))]
    elif what == "init-dims" and g.initializer:
        t = g.initializer[rng.randrange(len(g.initializer))]
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice([0, -1, 3, 1 << 40])
    elif what == "attr-int":
        for a in node.attribute:
            if a.type == onnx.AttributeProto.INT:
                a.i = rng.choice([0, -1, 1 << 62, 7])
            elif a.type == onnx.AttributeProto.INTS and a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice([0, -1, 1 << 62, 99])
    elif what == "rename-input" and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(["nowhere", node.output[0]])
    elif what == "output-name":
        g.output[0].name = rng.choice(["nowhere", g.input[0].name, ""])
    elif what == "input-dtype":
        g.input[0].type.tensor_type.elem_type = rng.choice([0, 8, 16, 99])
    elif what == "dup-output" and len(g.node) > 1:
        g.node[(k + 1) % len(g.node)].output[0] = node.output[0]
    return f"fixture-{what}", m.SerializeToString()


def onnx_mutation(rng: random.Random, heavy_ok: bool) -> tuple[str, bytes, bool]:
    """(mutation name, model bytes, heavy)."""
    kinds = ["dims", "cycle", "dup-names", "missing-init", "deep", "wide", "external",
             "bad-conv", "bad-pool", "unknown-op", "fixture", "fixture", "fixture",
             "rank"]  # fmt: skip
    if heavy_ok and rng.random() < HEAVY_SHARE:
        return heavy_mutation(rng)
    kind = rng.choice(kinds)
    if kind == "dims":
        d = rng.choice([0, -3, 1 << 40, 1 << 62, 1 << 20])
        dims = [1, 4, 8, 8]
        dims[rng.randrange(4)] = d
        return f"dims-{d}", small_net(tuple(dims)), False
    if kind == "rank":
        r = rng.choice([65, 100, 1000])
        return f"rank-{r}", rank_model(r), False
    if kind == "cycle":
        nodes = [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                 helper.make_node("Add", ["x", "a"], ["y"])]  # fmt: skip
        return "cycle", _model(nodes, [_vi("x", [1, 4])], [_vi("y", None)]), False
    if kind == "dup-names":
        nodes = [helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Sigmoid", ["x"], ["t"]),
                 helper.make_node("Add", ["t", "t"], ["y"])]  # fmt: skip
        inits = [_init("x", np.ones((1, 4), np.float32))] if rng.random() < 0.5 else []
        return "dup-names", _model(nodes, [_vi("x", [1, 4])], [_vi("y", None)], inits), False
    if kind == "missing-init":
        node = helper.make_node("MatMul", ["x", "w_missing"], ["y"])
        return "missing-init", _model([node], [_vi("x", [1, 4])], [_vi("y", None)]), False
    if kind == "deep":
        n = rng.choice([100, 300])
        return f"deep-{n}", chain(n, rng.choice(["Relu", "Sigmoid", "Identity"])), False
    if kind == "wide":
        n = rng.choice([50, 200])
        op = rng.choice(["Concat", "Sum", "branches"])
        data = branches(n) if op == "branches" else wide(n, op)
        return f"wide-{op}-{n}", data, False
    if kind == "external":
        loc = rng.choice(["../../../etc/passwd", "/etc/passwd", "sub/../../x.bin",
                          "missing.bin", "", "."])  # fmt: skip
        return f"external-{loc!r}", external(loc), False
    if kind == "bad-conv":
        attrs = dict(rng.choice(BAD_CONV))
        if "auto_pad" not in attrs:
            attrs.setdefault("pads", [1, 1, 1, 1])
        return f"bad-conv-{sorted(attrs)}", small_net(conv_attrs=attrs), False
    if kind == "bad-pool":
        attrs = rng.choice(BAD_POOL)
        return f"bad-pool-{sorted(attrs)}", small_net(pool_attrs=attrs), False
    if kind == "unknown-op":
        node = helper.make_node(rng.choice(["NoSuchOp", "Loop", "If"]), ["x"], ["y"])
        return "unknown-op", _model([node], [_vi("x", [1, 4])], [_vi("y", None)]), False
    name, data = _mutate_fixture_onnx(rng)
    return name, data, False


HEAVY_SHARE = 0.03  # of ONNX cases, when heavy cases are on (the long run)


def heavy_mutation(rng: random.Random) -> tuple[str, bytes, bool]:
    """A resource bomb, a very deep chain or a very wide operator."""
    kind = rng.choice(["bomb", "bomb", "deep", "wide"])
    if kind == "bomb":
        b = rng.choice(["range", "constantofshape", "expand", "tile"])
        return f"bomb-{b}", bomb(b), True
    if kind == "deep":
        n = rng.choice([1000, 5000, 30000])
        return f"deep-{n}", chain(n, rng.choice(["Relu", "Sigmoid", "Identity"])), True
    n = rng.choice([1000, 3000, 20000])
    op = rng.choice(["Concat", "Sum", "branches"])
    return f"wide-{op}-{n}", branches(n) if op == "branches" else wide(n, op), True


def rank_model(r: int) -> bytes:
    node = helper.make_node("Relu", ["x"], ["y"])
    return _model([node], [_vi("x", [1] * r)], [_vi("y", None)])


# ------------------------------------------------------------------ TFLite


@cache
def _read(rel: str) -> bytes:
    return (FIX / rel).read_bytes()


def _tflite_tree(rel: str):
    from infermem.frontends.tflite_flatbuffer import read_model

    return read_model(_read(rel), rel)


def _pack(m) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1 << 16)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


TFLITE_KINDS = ("while", "unknown-builtin", "self-cycle", "absurd-shape", "neg-shape", "rank",
                "tensor-index", "opcode-index", "buffer-index", "stride0", "dilation0", "padding",
                "no-options", "type", "io-empty", "offline-plan", "dup-writer",
                "variable", "filter-fit", "conv-input-rank", "input-index")  # fmt: skip


def tflite_mutation(rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(TFLITE_KINDS)
    return kind, mutate_tflite(rng.choice(TFLITE_SEEDS), kind, rng)


def _window_op(m, sg, tfl):
    """The first convolution or pool (the operators with strides)."""
    window = {tfl.BuiltinOperator.CONV_2D, tfl.BuiltinOperator.DEPTHWISE_CONV_2D,
              tfl.BuiltinOperator.AVERAGE_POOL_2D, tfl.BuiltinOperator.MAX_POOL_2D}  # fmt: skip
    return next((op for op in sg.operators
                 if m.operatorCodes[op.opcodeIndex].builtinCode in window), sg.operators[0])


def mutate_tflite(rel: str, kind: str, rng: random.Random | None = None) -> bytes:
    """Fixture `rel` with one structural mutation `kind` (see TFLITE_KINDS)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    rng = rng or random.Random(0)
    m = _tflite_tree(rel)
    sg = m.subgraphs[0]
    window = kind in ("stride0", "dilation0", "padding", "no-options", "filter-fit",
                      "conv-input-rank")
    op = _window_op(m, sg, tfl) if window else rng.choice(sg.operators)
    t = rng.choice(sg.tensors)
    code = m.operatorCodes[op.opcodeIndex]
    opts = op.builtinOptions
    if kind == "while":
        code.builtinCode = rng.choice([tfl.BuiltinOperator.WHILE, tfl.BuiltinOperator.IF,
                                       tfl.BuiltinOperator.CALL_ONCE])  # fmt: skip
    elif kind == "unknown-builtin":
        pair = rng.choice([(250, 127), (-5, -5), (999, 127)])
        code.builtinCode, code.deprecatedBuiltinCode = pair
    elif kind == "self-cycle" and op.inputs is not None and len(op.inputs):
        ins = [int(i) for i in op.inputs]
        ins[0] = int(op.outputs[0])
        op.inputs = ins
    elif kind in ("absurd-shape", "neg-shape", "rank"):
        dims = {"absurd-shape": [1 << 20, 1 << 20, 1 << 20], "neg-shape": [1, -7, 3],
                "rank": [1] * rng.choice([9, 70, 300])}[kind]  # fmt: skip
        t.shape = dims
    elif kind == "tensor-index":
        op.outputs = [len(sg.tensors) + rng.randrange(5)]
    elif kind == "opcode-index":
        op.opcodeIndex = len(m.operatorCodes) + rng.randrange(3)
    elif kind == "buffer-index":
        t.buffer = len(m.buffers) + rng.randrange(3)
    elif kind in ("stride0", "dilation0", "padding") and opts is not None:
        fields = {"stride0": ("strideW", "strideH"), "dilation0": ("dilationWFactor",),
                  "padding": ("padding",)}[kind]  # fmt: skip
        for f in fields:
            if hasattr(opts, f):
                bad = [-1, 9, 100] if f == "padding" else [0, -1, 1 << 30]  # int8 / int32
                setattr(opts, f, rng.choice(bad))
    elif kind == "no-options":
        op.builtinOptions, op.builtinOptionsType = None, 0
    elif kind == "type":
        t.type = rng.choice([99, 13, 16])
    elif kind == "io-empty":
        sg.inputs = []
    elif kind == "input-index":
        sg.inputs = [len(sg.tensors) + 3]
    elif kind == "offline-plan":
        from infermem.tflm.offline import plan_words

        words = plan_words([len(sg.tensors)], {}, set())
        words[3:] = rng.choice([-64, 1 << 30, 8, 0])
        buf = tfl.BufferT()
        buf.data = np.frombuffer(words.tobytes(), np.uint8)
        m.buffers.append(buf)
        meta = tfl.MetadataT()
        meta.name, meta.buffer = "OfflineMemoryAllocation", len(m.buffers) - 1
        m.metadata = [*(m.metadata or []), meta]
    elif kind == "dup-writer" and len(sg.operators) > 1:
        other = sg.operators[(sg.operators.index(op) + 1) % len(sg.operators)]
        other.outputs = [int(op.outputs[0])]
    elif kind == "variable":
        t.isVariable = True
    elif kind == "filter-fit" and len(op.inputs) > 1:
        f = sg.tensors[op.inputs[1]]
        f.shape = [int(f.shape[0]), *(int(d) for d in f.shape[1:3]), int(f.shape[3]) + 1]
    elif kind == "conv-input-rank":
        sg.tensors[op.inputs[0]].shape = [1] * rng.choice([3, 5, 9])
    return _pack(m)


# ------------------------------------------------------------------ bytes


def byte_mutation(rng: random.Random) -> tuple[str, str, bytes]:
    """(mutation, suffix, bytes) from a fixture."""
    rel = rng.choice(TFLITE_SEEDS + ONNX_SEEDS)
    data = bytearray(_read(rel))
    kind = rng.choice(["truncate", "flip", "flip", "splice", "zero"])
    n = len(data)
    if kind == "truncate":
        data = data[: rng.randrange(n)]
    elif kind == "flip":
        for _ in range(rng.choice([1, 2, 8, 64])):
            data[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "splice":
        other = _read(rng.choice(TFLITE_SEEDS + ONNX_SEEDS))
        a, ln = rng.randrange(len(other)), rng.randrange(1, 4096)
        at = rng.randrange(n)
        data[at : at + ln] = other[a : a + ln]
    else:
        at, ln = rng.randrange(n), rng.randrange(1, 512)
        data[at : at + ln] = bytes(min(ln, n - at))
    return f"{kind}-{Path(rel).name}", Path(rel).suffix, bytes(data)


# ------------------------------------------------------------------ output paths

PATH_WRITERS = [
    ("plan", "-o", ".json"), ("plan", "--header", ".h"), ("plan", "--plot", ".png"),
    ("optimize", "-o", ".tflite"), ("report", "-o", ".html"), ("quantize", "-o", ".onnx"),
]  # fmt: skip
PATH_TARGETS = ["input", "dotdot", "symlink", "hardlink", "directory", "missing-parent",
                "existing", "plot-extension", "same-twice"]  # fmt: skip


def path_case(rng: random.Random) -> tuple[str, str, tuple[str, ...], dict, tuple]:
    command, opt, ext = rng.choice(PATH_WRITERS)
    suffix = ".onnx" if command == "quantize" else ".tflite"
    model = f"model{suffix}"
    src = _read(ONNX_SEEDS[1]) if suffix == ".onnx" else _read("ds_cnn_int8.tflite")
    files = {model: src}
    links: tuple = (("mkdir", "", "sub"),)
    target = rng.choice(PATH_TARGETS)
    out = {"input": model, "dotdot": f"sub/../{model}", "symlink": "link", "hardlink": "hard",
           "directory": "sub", "missing-parent": f"nowhere/out{ext}", "existing": f"old{ext}",
           "plot-extension": "layout.txt", "same-twice": f"out{ext}"}[target]  # fmt: skip
    if target == "symlink":
        links += (("symlink", model, "link"),)
    elif target == "hardlink":
        links += (("hardlink", model, "hard"),)
    elif target == "existing":
        files[out] = b"keep me"
    argv = [command, f"{{d}}/{model}", opt, f"{{d}}/{out}"]
    if target == "plot-extension":
        argv = ["plan", f"{{d}}/{model}", "--plot", f"{{d}}/{out}"]
    elif target == "same-twice":
        argv = ["plan", f"{{d}}/{model}", "-o", f"{{d}}/{out}", "--header", f"{{d}}/{out}"]
    if argv[0] == "report":
        argv.append("--no-tflm")
    if rng.random() < 0.3 and target not in ("existing", "directory", "missing-parent",
                                             "plot-extension", "same-twice"):  # fmt: skip
        argv.append("--force")  # an input is refused even with --force
    return target, argv[0], (*argv, *BUDGET), files, links


# ------------------------------------------------------------------ cases


def make_case(seed: int, number: int, heavy_ok: bool = False) -> Case:
    """Case `number` of the run seeded `seed` (a pure function of both)."""
    rng = random.Random(f"{seed}:{number}")
    family = rng.choices(["onnx", "tflite", "bytes", "paths"], weights=[4, 3, 3, 1])[0]
    if family == "paths":
        target, command, argv, files, links = path_case(rng)
        return Case(number, family, target, command, argv, files, links, must_fail=True)
    heavy = False
    if family == "onnx":
        mutation, data, heavy = onnx_mutation(rng, heavy_ok)
        suffix = ".onnx"
    elif family == "tflite":
        mutation, data = tflite_mutation(rng)
        suffix = ".tflite"
    else:
        mutation, suffix, data = byte_mutation(rng)
    names = [c for c in COMMANDS if suffix == ".tflite" or c not in TFLITE_ONLY]
    command = rng.choices(names, weights=[WEIGHTS[c] for c in names])[0]
    if heavy and command in TFLITE_ONLY:
        command = "profile"
    model = f"model{suffix}"
    argv = tuple(a.replace("{m}", f"{{d}}/{model}") for a in COMMANDS[command]) + BUDGET
    return Case(number, family, mutation, command, argv, {model: data}, heavy=heavy)
