"""Memory-aware operator scheduling: exactness against brute force, the real
model zoo, and writing the order back into ONNX and .tflite files that real
runtimes (onnxruntime, TFLite Micro) then run with identical outputs."""

from __future__ import annotations

import hashlib
import itertools
import random
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from infermem.errors import BadInput
from infermem.frontends import load
from infermem.graph import Graph, Operator, Role, Tensor
from infermem.schedule import (
    best_order,
    branch_points,
    live_peak,
    search,
    write_order_onnx,
    write_order_tflite,
)
from infermem.schedule.model import build, order_peak
from infermem.schedule.synthetic import nasnet_onnx, random_cells
from infermem.schedule.units import plan_units, units

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
FIXTURES = Path(__file__).parent / "fixtures"


# ------------------------------------------------------------ hand-made graphs


def graph(ops, sizes, inputs=("x",), outputs=None, alias=None) -> Graph:
    """ops: [(inputs, outputs)], sizes: bytes per tensor (int8 1-D tensors)."""
    alias = alias or {}
    produced = {t for _, outs in ops for t in outs}
    read = {t for ins, _ in ops for t in ins}
    outputs = outputs or tuple(sorted(produced - read))

    def role(n):
        if n in inputs:
            return Role.INPUT
        if n in alias:
            return Role.ALIAS
        return Role.OUTPUT if n in outputs else Role.ACTIVATION

    tensors = {n: Tensor(n, (s,), "int8", role(n), alias_of=alias.get(n)) for n, s in sizes.items()}
    operators = tuple(Operator(i, "Op", tuple(a), tuple(b)) for i, (a, b) in enumerate(ops))
    return Graph("hand", "onnx", tensors, operators, tuple(inputs), tuple(outputs))


def all_orders(g: Graph):
    n = len(g.operators)
    preds = [set(g.predecessors(i)) for i in range(n)]

    def rec(done: list[int], seen: set[int]):
        if len(done) == n:
            yield tuple(done)
            return
        for i in range(n):
            if i not in seen and preds[i] <= seen:
                seen.add(i)
                done.append(i)
                yield from rec(done, seen)
                done.pop()
                seen.discard(i)

    yield from rec([], set())


def brute_force(g: Graph, alignment: int = 16) -> int:
    return min(live_peak(g, o, alignment) for o in all_orders(g))


def inception_like() -> Graph:
    """x feeds four branches of unequal cost; the file lists the branch that
    ends small but peaks big (b3) last, when three branch outputs are live."""
    ops = [
        (["x"], ["b0"]),  # 0: 1x1 branch, output kept until the concat
        (["x"], ["r1"]),  # 1: reduce
        (["r1"], ["b1"]),  # 2: 3x3
        (["x"], ["p2"]),  # 3: pool
        (["p2"], ["b2"]),  # 4
        (["x"], ["t3"]),  # 5: huge temporary
        (["t3"], ["b3"]),  # 6: ... that shrinks
        (["b0", "b1", "b2", "b3"], ["y"]),  # 7: concat
    ]
    sizes = {"x": 256, "b0": 256, "r1": 64, "b1": 256, "p2": 256, "b2": 256,
             "t3": 1024, "b3": 32, "y": 800}
    return graph(ops, sizes)


def test_inception_like_file_order_is_worse_and_best_is_brute_force_optimum():
    g = inception_like()
    s = best_order(g)
    optimum = brute_force(g)
    assert s.file_order_peak_bytes == live_peak(g, g.file_order)
    assert s.peak_bytes == optimum < s.file_order_peak_bytes
    assert s.proven_optimal and s.lower_bound_bytes == optimum
    assert live_peak(g, s.order) == s.peak_bytes
    assert s.order.index(5) < s.order.index(0)  # the big temporary runs first


def test_diamond_unequal_branches():
    ops = [(["x"], ["a"]), (["a"], ["big"]), (["big"], ["c"]), (["a"], ["d"]),
           (["c", "d"], ["y"])]
    g = graph(ops, {"x": 64, "a": 64, "big": 512, "c": 16, "d": 256, "y": 16})
    s = best_order(g)
    assert s.peak_bytes == brute_force(g) < s.file_order_peak_bytes or (
        s.peak_bytes == brute_force(g) == s.file_order_peak_bytes
    )
    assert s.proven_optimal


def test_chain_collapse_is_not_exact():
    """a -> b is a straight chain (a's only successor b, b's only predecessor a),
    yet every order running them back to back peaks at 210 bytes: b's big
    output must wait until the d branch has shrunk.  The exact search must
    not glue them and finds 128."""
    ops = [(["X"], ["A"]), (["A"], ["B"]), (["Y"], ["D1"]), (["D1"], ["D2"]),
           (["B", "D2"], ["out"])]
    sizes = {"X": 96, "A": 16, "B": 96, "Y": 16, "D1": 96, "D2": 16, "out": 16}
    g = graph(ops, sizes, inputs=("X", "Y"))
    glued = [o for o in all_orders(g) if o.index(1) == o.index(0) + 1]
    assert min(live_peak(g, o) for o in glued) > brute_force(g)
    assert (0, 1) not in units(build(g))
    s = best_order(g)
    assert s.peak_bytes == brute_force(g) and s.proven_optimal


def random_graph(rng: random.Random, n: int, sizes=(16, 32, 48, 64, 96, 128, 256)) -> Graph:
    """A random DAG with multi-output ops, views (aliases), graph outputs that
    are also read, and sometimes a graph input that is also an output."""
    ins = ["x"] + (["y"] if rng.random() < 0.3 else [])
    size = {t: rng.choice(sizes) for t in ins}
    alias, avail, ops, used = {}, list(ins), [], set()
    for i in range(n):
        src = rng.sample(avail, min(rng.choice([1, 1, 2, 3]), len(avail)))
        if rng.random() < 0.15:
            outs = [f"a{i}"]
            alias[outs[0]] = src[0]
            src = src[:1]
        else:
            outs = [f"t{i}"] + ([f"u{i}"] if rng.random() < 0.2 else [])
        for o in outs:
            size[o] = rng.choice(sizes)
        ops.append((src, outs))
        avail += outs
        used.update(src)
    outputs = [t for t in avail if t not in ins and (t not in used or rng.random() < 0.1)]
    if rng.random() < 0.2:
        outputs.append(ins[0])
    outputs = [t for t in dict.fromkeys(outputs) if rng.random() < 0.9] or [avail[-1]]
    return graph(ops, size, inputs=tuple(ins), outputs=tuple(outputs), alias=alias)


@pytest.mark.parametrize("sizes", [(16, 32), (16, 32, 48, 64, 96, 128, 256), (16, 16, 16, 48)])
def test_random_graphs_match_brute_force(sizes):
    """Search peak == brute-force optimum == lifetimes' peak of the returned
    order, with and without the glued pairs, on 80 random small graphs."""
    rng = random.Random(sum(sizes))
    tried = 0
    while tried < 80:
        g = random_graph(rng, rng.randint(1, 9), sizes)
        m = build(g)
        orders = list(itertools.islice(all_orders(g), 3001))
        if len(orders) > 3000:
            continue
        tried += 1
        peaks = [live_peak(g, o) for o in orders]
        for o, p in list(zip(orders, peaks, strict=True))[:10]:
            assert order_peak(m, o) == p  # the bit arithmetic is lifetimes' model
        s = best_order(g, beam_width=1)
        assert s.peak_bytes == min(peaks) and s.proven_optimal
        assert live_peak(g, s.order) == s.peak_bytes <= s.file_order_peak_bytes
        bare = search.exact(m, plan_units(m, glue=False))
        assert bare.proven and bare.peak == min(peaks)


def test_glued_pairs_keep_the_optimum():
    """Gluing pairs (the exchange arguments in units.py) never loses the
    optimum: exact search with and without them agrees on 80 larger graphs."""
    rng = random.Random(11)
    glued = 0
    for _ in range(80):
        g = random_graph(rng, rng.randint(9, 15))
        m = build(g)
        u = plan_units(m)
        glued += m.n - len(u.ops)
        a, b = search.exact(m, u), search.exact(m, plan_units(m, glue=False))
        assert a.proven and b.proven and a.peak == b.peak
    assert glued > 50  # the rules do fire


def test_alignment_is_honoured():
    g = inception_like()
    for alignment in (1, 16, 64):
        s = best_order(g, alignment=alignment)
        assert s.peak_bytes == live_peak(g, s.order, alignment) == brute_force(g, alignment)


def test_empty_graph_and_bad_arguments():
    g = Graph("empty", "onnx", {"x": Tensor("x", (4,), "int8", Role.INPUT)}, (), ("x",), ("x",))
    s = best_order(g)
    assert s.order == () and s.peak_bytes == 0 and s.proven_optimal
    with pytest.raises(BadInput):
        best_order(inception_like(), time_limit=-1)
    with pytest.raises(BadInput):
        best_order(inception_like(), beam_width=0)


def test_time_budget_gives_unproven_best_never_above_file_order():
    g = random_cells(8, seed=2)
    s = best_order(g, time_limit=0.3)
    assert not s.proven_optimal and s.method in ("beam", "file", "exact")
    assert s.lower_bound_bytes <= s.peak_bytes <= s.file_order_peak_bytes
    assert live_peak(g, s.order) == s.peak_bytes
    assert s.seconds < 5


# ------------------------------------------------------------------ real models


@pytest.mark.parametrize("name", ["squeezenet", "inception_v1", "shufflenet"])
def test_light_models(name):
    g = load(LIGHT / f"light_{name}.onnx")
    s = best_order(g, time_limit=10)
    assert s.peak_bytes <= s.file_order_peak_bytes == live_peak(g, g.file_order)
    assert live_peak(g, s.order) == s.peak_bytes
    assert s.proven_optimal and s.lower_bound_bytes == s.peak_bytes
    if name == "shufflenet":  # its file order keeps a branch output too long
        assert s.peak_bytes < s.file_order_peak_bytes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["densenet121", "inception_v2"])
def test_light_models_large(name):
    g = load(LIGHT / f"light_{name}.onnx")
    t = time.perf_counter()
    s = best_order(g, time_limit=30)
    assert time.perf_counter() - t < 35
    assert s.peak_bytes <= s.file_order_peak_bytes
    assert live_peak(g, s.order) == s.peak_bytes
    if name == "densenet121":
        assert branch_points(g) >= 60


def ort_run(path: Path, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_onnx_writeback_shufflenet(tmp_path):
    src = LIGHT / "light_shufflenet.onnx"
    before = digest(src)
    g = load(src)
    s = best_order(g)
    dst = tmp_path / "reordered.onnx"
    write_order_onnx(src, dst, s.order, g)
    assert digest(src) == before
    g2 = load(dst)
    assert [op.outputs for op in g2.operators] == [g.operators[i].outputs for i in s.order]
    assert live_peak(g2, g2.file_order) == s.peak_bytes
    x = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    name = onnx.load(str(src), load_external_data=False).graph.input[0].name
    assert name in g.inputs
    for a, b in zip(ort_run(src, {name: x}), ort_run(dst, {name: x}), strict=True):
        assert a.tobytes() == b.tobytes()


def nasnet(tmp_path: Path, cells: int) -> Path:
    path = tmp_path / f"nasnet_{cells}.onnx"
    onnx.save(nasnet_onnx(cells, channels=8, size=16, seed=cells), str(path))
    return path


def test_nasnet_cells_reorder_and_writeback(tmp_path):
    src = nasnet(tmp_path, 2)
    g = load(src)
    s = best_order(g)
    assert s.proven_optimal and s.peak_bytes < s.file_order_peak_bytes
    dst = tmp_path / "nasnet_reordered.onnx"
    write_order_onnx(src, dst, s.order)
    g2 = load(dst)
    assert live_peak(g2, g2.file_order) == s.peak_bytes
    x = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    for a, b in zip(ort_run(src, {"image": x}), ort_run(dst, {"image": x}), strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.slow
def test_sixty_branch_points_proven_within_ten_seconds(tmp_path):
    g = load(nasnet(tmp_path, 8))
    assert branch_points(g) >= 60
    s = best_order(g, time_limit=10)
    assert s.proven_optimal and s.seconds < 10
    assert s.peak_bytes < s.file_order_peak_bytes
    g = random_cells(10, seed=1)  # random sizes: little collapses
    assert branch_points(g) >= 60
    s = best_order(g, time_limit=10)
    assert s.proven_optimal and s.seconds < 10
    assert s.peak_bytes < s.file_order_peak_bytes


def random_topological_order(g: Graph, rng: random.Random) -> tuple[int, ...]:
    indeg = [len(g.predecessors(i)) for i in range(len(g.operators))]
    ready = [i for i, d in enumerate(indeg) if not d]
    out = []
    while ready:
        out.append(i := ready.pop(rng.randrange(len(ready))))
        for s in g.successors(i):
            indeg[s] -= 1
            if not indeg[s]:
                ready.append(s)
    return tuple(out)


def test_onnx_writeback_any_order_with_folded_constants(tmp_path):
    """Light Inception v1 has 237 nodes, 94 of them constants the frontend
    folds away: the writer must place them before their readers itself."""
    src = LIGHT / "light_inception_v1.onnx"
    g = load(src)
    order = random_topological_order(g, random.Random(3))
    assert order != g.file_order
    dst = tmp_path / "shuffled.onnx"
    write_order_onnx(src, dst, order)
    g2 = load(dst)
    assert [op.outputs for op in g2.operators] == [g.operators[i].outputs for i in order]
    assert len(onnx.load(str(dst)).graph.node) == len(onnx.load(str(src)).graph.node)
    x = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    feeds = {g.inputs[0]: x}
    for a, b in zip(ort_run(src, feeds), ort_run(dst, feeds), strict=True):
        assert a.tobytes() == b.tobytes()


def test_onnx_writeback_refuses_bad_requests(tmp_path):
    src = nasnet(tmp_path, 1)
    g = load(src)
    with pytest.raises(BadInput):
        write_order_onnx(src, src, g.file_order, g)
    with pytest.raises(BadInput):
        write_order_onnx(src, tmp_path / "x.onnx", g.file_order[:-1], g)
    with pytest.raises(BadInput):  # a reader before its writer
        write_order_onnx(src, tmp_path / "y.onnx", tuple(reversed(g.file_order)), g)
    assert not (tmp_path / "y.onnx").exists()


def tflm_outputs(path: Path, seed: int = 0) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(str(path), arena_size=4 << 20)
    rng = np.random.default_rng(seed)
    d = it.get_input_details(0)
    if np.issubdtype(d["dtype"], np.integer):
        x = rng.integers(-128, 128, d["shape"]).astype(d["dtype"])
    else:
        x = rng.normal(size=d["shape"]).astype(d["dtype"])
    it.set_input(x, 0)
    it.invoke()
    return [it.get_output(0).copy()]


@pytest.mark.parametrize("dtype", ["f32", "int8"])
def test_tflite_inception_block_reorder_and_writeback(tmp_path, dtype):
    src = FIXTURES / f"inception_block_{dtype}.tflite"
    before = digest(src)
    g = load(src)
    assert branch_points(g) >= 3
    s = best_order(g)
    assert s.proven_optimal and s.peak_bytes < s.file_order_peak_bytes
    dst = tmp_path / "reordered.tflite"
    write_order_tflite(src, dst, s.order)
    assert digest(src) == before
    g2 = load(dst)
    assert [op.type for op in g2.operators] == [g.operators[i].type for i in s.order]
    assert live_peak(g2, g2.file_order) == s.peak_bytes
    for a, b in zip(tflm_outputs(src), tflm_outputs(dst), strict=True):
        assert a.tobytes() == b.tobytes()


def test_tflite_writeback_drops_a_stale_offline_plan(tmp_path):
    """An OfflineMemoryAllocation planned for the old order could overlap
    tensors the new order keeps live together; TFLM would trust it blindly."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl

    from infermem.tflm import write_offline_plan

    src = FIXTURES / "inception_block_int8.tflite"
    planned = tmp_path / "planned.tflite"
    write_offline_plan(src, planned, {})

    def names(path: Path) -> list[bytes]:
        m = tfl.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)
        return [md.name for md in m.metadata or []]

    assert b"OfflineMemoryAllocation" in names(planned)
    dst = tmp_path / "reordered.tflite"
    write_order_tflite(planned, dst, best_order(load(planned)).order)
    assert b"OfflineMemoryAllocation" not in names(dst)
    assert len(names(dst)) == len(names(planned)) - 1
    assert tflm_outputs(dst)[0].tobytes() == tflm_outputs(src)[0].tobytes()


def test_tflite_writeback_refuses_bad_orders(tmp_path):
    src = FIXTURES / "inception_block_int8.tflite"
    g = load(src)
    n = len(g.operators)
    with pytest.raises(BadInput):
        write_order_tflite(src, tmp_path / "a.tflite", tuple(reversed(range(n))))
    with pytest.raises(BadInput):
        write_order_tflite(src, tmp_path / "b.tflite", tuple(range(n - 1)))
    with pytest.raises(BadInput):
        write_order_tflite(src, src, tuple(range(n)))
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(BadInput):
        write_order_tflite(bad, tmp_path / "c.tflite", (0,))
