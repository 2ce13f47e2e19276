"""The near-linear paths give the same answers as the ones they replace.

Dense problems (too many conflicting pairs to list) are placed from numpy
arrays instead of neighbour lists; every greedy, with and without overlaps,
mirrored or not, must give the identical offsets either way.  The figures
(how fast, how much memory) are in benchmarks/scale.py, not here.
"""

from __future__ import annotations

import importlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infermem.planners.greedy import ORDERS
from infermem.planners.place import place
from infermem.planners.problem import Buffer, Overlap, Problem
from infermem.planners.synthetic import cnn_like
from infermem.profile import live_names

C = importlib.import_module("infermem.planners.context")  # the module, not the function


def random_problem(seed: int, n: int, overlaps: bool, fixed: bool, al: int) -> Problem:
    """Lifetimes of every length (wide cliques included), sizes of every kind."""
    rng = random.Random(seed)
    steps = max(1, n // 3)
    bufs, ovs = [], []
    for k in range(n):
        first = rng.randrange(steps)
        last = min(steps - 1, first + rng.choice([0, 0, 1, 2, steps]))
        size = rng.choice([0, 1, 7, 16, 48, 100, 256, 1000])
        off = None
        if fixed and rng.random() < 0.1:
            off = al * rng.randrange(0, 64)
        bufs.append(Buffer(f"b{k}", size, first, last, offset=off, index=k))
    for k in range(1, n):
        if overlaps and rng.random() < 0.5:
            j = rng.randrange(k)
            ovs.append(Overlap(bufs[k].name, bufs[j].name, rng.choice([0, 16, 64, 1000])))
    # fixed buffers must not clash with each other: keep one fixed per step range
    kept, seen = [], []
    for b in bufs:
        if b.offset is not None and any(
            b.first <= s.last and s.first <= b.last and b.offset < s.offset + s.size
            and s.offset < b.offset + b.size for s in seen
        ):
            b = Buffer(b.name, b.size, b.first, b.last, index=b.index)
        if b.offset is not None:
            seen.append(b)
        kept.append(b)
    return Problem(tuple(kept), al, tuple(ovs))


def both(problem: Problem, monkeypatch) -> tuple[C.Context, C.Context]:
    listed = C._build(problem)
    monkeypatch.setattr(C, "NBR_MAX_PAIRS", -1)
    dense = C._build(problem)
    monkeypatch.undo()
    assert listed.nbr is not None and dense.nbr is None
    return listed, dense


def assert_same_placements(problem: Problem, monkeypatch) -> None:
    listed, dense = both(problem, monkeypatch)
    assert listed.degree == tuple(len(x) for x in listed.nbr)
    no_fixed = all(f is None for f in listed.fixed)
    for name, (order_fn, fit) in ORDERS.items():
        for use in (False, True):
            for mirror in (False, True) if no_fixed else (False,):
                a = place(listed, order_fn(listed), fit, use, mirror=mirror)
                b = place(dense, order_fn(dense), fit, use, mirror=mirror)
                assert a == b, (name, use, mirror)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(1, 60),
    overlaps=st.booleans(),
    fixed=st.booleans(),
    al=st.sampled_from([1, 16, 64]),
)
def test_dense_placement_equals_neighbour_lists(seed, n, overlaps, fixed, al):
    with pytest.MonkeyPatch.context() as mp:
        assert_same_placements(random_problem(seed, n, overlaps, fixed, al), mp)


@pytest.mark.parametrize("seed", range(3))
def test_dense_placement_equals_on_cnn_shapes(seed, monkeypatch):
    assert_same_placements(cnn_like(300, seed=seed, overlaps=True), monkeypatch)


def test_live_names_sweep_equals_the_definition():
    from infermem.lifetimes import Lifetime

    rng = random.Random(1)
    lts = []
    for k in range(200):
        a = rng.randrange(50)
        lts.append(Lifetime(f"t{k}", 16, a, min(49, a + rng.choice([0, 1, 5, 49]))))
    got = list(live_names(lts, 50))
    want = [tuple(lt.name for lt in lts if lt.first <= s <= lt.last) for s in range(50)]
    assert got == want


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 50), spread=st.sampled_from([1, 4, 1000]))
def test_validator_sweeps_find_the_same_clashes(seed, n, spread):
    """Both enumerations the validator picks between yield the same clashing pairs."""
    import numpy as np

    from infermem.planners.validate import address_pairs

    rng = random.Random(seed)
    p = random_problem(seed, n, False, False, 16)
    o = np.array([16 * rng.randrange(spread) for _ in p.buffers], dtype=np.int64)
    e = o + np.array([b.size for b in p.buffers], dtype=np.int64)
    first = np.array([b.first for b in p.buffers], dtype=np.int64)
    last = np.array([b.last for b in p.buffers], dtype=np.int64)

    def clashes(chunks) -> set:
        out = set()
        for i, j in chunks:
            hit = np.maximum(o[i], o[j]) < np.minimum(e[i], e[j])
            out |= {tuple(sorted(x)) for x in zip(i[hit].tolist(), j[hit].tolist(), strict=True)}
        return out

    assert clashes(C.time_pairs(first, last)) == clashes(
        address_pairs(o, e, first, last, np.unique(first)))


def test_flat_ids_equal_indexing_a_real_arange():
    """FlatIds (the ONNX DMO rules' index map) equals indexing a real arange."""
    import numpy as np

    from infermem.overlap.onnx_rules import FlatIds

    rng = np.random.default_rng(0)
    for _ in range(300):
        shape = tuple(int(d) for d in rng.integers(0, 5, size=rng.integers(0, 4)))
        ids = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        idx = []
        for n in shape[: rng.integers(0, len(shape) + 1)]:
            kind = rng.integers(0, 3)
            if kind == 0 and n:
                idx.append(int(rng.integers(-n, n)))
            elif kind == 1:
                a, b = sorted(int(x) for x in rng.integers(-1, n + 2, size=2))
                idx.append(slice(a, b, int(rng.integers(1, 3))))
            else:
                idx.append(slice(None))
        want = ids[tuple(idx)]
        got = FlatIds(shape).extent(tuple(idx))
        assert got == ((int(want.min()), int(want.max())) if want.size else None)


def test_profile_holds_live_counts_not_per_step_name_lists(tmp_path):
    """Fuzz #8358: on parallel branches the live sets grow with every step, so
    per-step name lists are quadratic (20,000 branches: 200 million names, past
    2 GiB).  The profile keeps counts and generates the names; `--json`, which
    prints them, checks its estimate against the budget before building them."""
    import json
    import sys
    import tracemalloc
    from pathlib import Path

    import onnx

    from infermem.budget import use_budget
    from infermem.errors import BadInput
    from infermem.frontends import load
    from infermem.profile import json_bytes_estimate, profile, to_json

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    import scale_models as S

    onnx.save(S.branches(3000), tmp_path / "b.onnx")
    g = load(tmp_path / "b.onnx", {})
    tracemalloc.start()
    p = profile(g)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, peak  # the 4.5 million names as lists: over 36 MB of pointers
    names = list(p.live_tensors())
    assert [r.live_count for r in p.operators] == [len(n) for n in names]
    assert max(r.live_count for r in p.operators) == 3001
    need = json_bytes_estimate(p)
    assert need >= len(json.dumps(names))
    with use_budget(need - 1), pytest.raises(BadInput, match="live-tensor lists"):
        to_json(g, p)
    with use_budget(need):
        doc = to_json(g, p)
    assert [r["live_tensors"] for r in doc["operators"]] == [list(n) for n in names]


class CountingTensors(dict):
    """A graph's tensor table that counts lookups."""

    lookups = 0

    def __getitem__(self, key):
        CountingTensors.lookups += 1
        return super().__getitem__(key)


def test_alias_chains_are_resolved_once_per_tensor():
    """Fuzz #3238, #6566: 30,000 Identity ops in a row are 30,000 views of one
    buffer; resolving each one's owner by walking the chain again made
    `verify` quadratic (past 120 s).  Roots and lifetimes look each tensor up
    a bounded number of times."""
    from infermem.graph import Graph, Operator, Role, Tensor
    from infermem.lifetimes import lifetimes

    n = 20_000
    names = ["x", *(f"t{k}" for k in range(1, n + 1))]
    tensors = CountingTensors(x=Tensor("x", (1, 4), "float32", Role.INPUT))
    for k in range(1, n + 1):
        role = Role.OUTPUT if k == n else Role.ALIAS
        tensors[names[k]] = Tensor(names[k], (1, 4), "float32", role,
                                   alias_of=names[k - 1] if k < n else None)
    ops = tuple(Operator(k, "Identity", (names[k],), (names[k + 1],)) for k in range(n))
    g = Graph("chain", "onnx", tensors, ops, ("x",), (names[-1],))
    CountingTensors.lookups = 0
    assert {g.root(t) for t in names[:-1]} == {"x"}
    lts = lifetimes(g)
    assert CountingTensors.lookups < 10 * n, CountingTensors.lookups
    assert [(lt.name, lt.first, lt.last) for lt in lts] == [("x", 0, n - 1),
                                                           (names[-1], n - 1, n - 1)]
