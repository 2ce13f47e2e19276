"""Planner tests: every strategy's plans are valid, the bounds hold, the exact
solver is never beaten, allowed overlaps are used and policed, and `tflm`
matches TFLM's GreedyMemoryPlanner (its own unit-test cases, and a literal
port of its linked-list code on random problems)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infermem.errors import BadInput, Failure
from infermem.planners import STRATEGIES, Buffer, Overlap, Problem, lower_bound, plan, validate
from infermem.planners.search import GREEDIES
from infermem.planners.synthetic import cnn_like

FAST = sorted(set(STRATEGIES) - {"exact"})
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, overlaps: bool = False, fixed: bool = False) -> Problem:
    al = draw(st.sampled_from([1, 16, 64]))
    n = draw(st.integers(1, 9))
    bufs = []
    for i in range(n):
        first = draw(st.integers(0, 7))
        size = draw(st.integers(0, 6)) * al
        idx = draw(st.one_of(st.none(), st.integers(0, 20)))
        bufs.append(Buffer(f"b{i}", size, first, first + draw(st.integers(0, 4)), idx))
    ovs = []
    if overlaps:
        for i in range(n):
            for j in range(n):
                if i != j and bufs[i].lives_with(bufs[j]) and draw(st.integers(0, 2)) == 0:
                    k = draw(st.integers(0, bufs[i].size + bufs[j].size + al))
                    ovs.append(Overlap(bufs[i].name, bufs[j].name, k))
    p = Problem(tuple(bufs), al, tuple(ovs))
    if fixed:
        keep = draw(st.lists(st.integers(0, n - 1), max_size=3, unique=True))
        offs = plan(p, "conflicts").offsets  # a valid plan: its offsets cannot clash
        p = Problem(
            tuple(
                Buffer(b.name, b.size, b.first, b.last, b.index, offs[b.name]) if i in keep else b
                for i, b in enumerate(bufs)
            ),
            al,
            p.overlaps,
        )
    return p


def check(p: Problem, strategy: str, **kw) -> int:
    r = plan(p, strategy, **kw)
    validate(p, r.offsets)  # plan already did; do it again, independently of plan
    assert set(r.offsets) == {b.name for b in p.buffers}
    for b in p.buffers:
        assert r.offsets[b.name] % p.alignment == 0
        if b.offset is not None:
            assert r.offsets[b.name] == b.offset
    assert r.arena_bytes == max((r.offsets[b.name] + b.size for b in p.buffers), default=0)
    assert r.arena_bytes >= r.lower_bound_bytes == lower_bound(p)
    return r.arena_bytes


@SETTINGS
@given(problems(overlaps=False, fixed=True))
def test_every_strategy_valid_and_above_live_bound(p):
    live = [sum(b.size for b in p.buffers if b.first <= t <= b.last) for t in range(p.steps)]
    for s in FAST:
        assert check(p, s, time_limit=0.5) >= max(live)


@SETTINGS
@given(problems(overlaps=True, fixed=True))
def test_every_strategy_valid_with_overlaps(p):
    for s in FAST:
        check(p, s, time_limit=0.5)


@SETTINGS
@given(st.one_of(problems(), problems(overlaps=True)))
def test_exact_never_worse_than_a_greedy(p):
    greedy = min(check(p, s) for s in (*GREEDIES, "tflm-dmo", "best"))
    r = plan(p, "exact", time_limit=5)
    assert r.arena_bytes <= greedy
    assert r.optimal  # tiny problems: CP-SAT proves it
    if not p.overlaps:
        assert r.arena_bytes >= lower_bound(p)


def test_chain_reaches_bound():
    p = Problem((Buffer("a", 96, 0, 1), Buffer("b", 208, 1, 2), Buffer("c", 96, 2, 3)))
    for s in (*GREEDIES, "best", "exact"):
        r = plan(p, s)
        assert r.arena_bytes == r.lower_bound_bytes == 304 and r.optimal


def test_greedy_by_size_is_beaten_by_exact():
    """Largest first puts the 3-unit buffer at 0, after which the 1-unit one
    no longer fits under the peak; the optimum (= the live-set bound) puts the
    2-unit buffer at 0 and stacks the 3-unit one above it."""
    u = 16
    p = Problem(
        (
            Buffer("b0", 2 * u, 2, 5),
            Buffer("b1", u, 1, 2),
            Buffer("b2", 3 * u, 3, 3),
            Buffer("b3", 4 * u, 1, 1),
        )
    )
    assert lower_bound(p) == 5 * u
    for s in ("tflm", "best-fit"):
        assert plan(p, s).arena_bytes == 6 * u
    r = plan(p, "exact")
    assert r.arena_bytes == 5 * u and r.optimal
    assert plan(p, "hill-climb").arena_bytes == 5 * u


@pytest.mark.parametrize("al", [1, 16, 64])
def test_overlap_used_and_policed_by_one_alignment_unit(al):
    """The output (8 units) may have its input start inside it, its end
    reaching at most 3.5 units past the input's start (rounded to 3)."""
    a, b = 4 * al, 8 * al
    k = 3 * al + al // 2
    p = Problem((Buffer("in", a, 0, 1), Buffer("out", b, 1, 2)), al, (Overlap("out", "in", k),))
    assert lower_bound(p) == a + b - min(k, a)
    for s in ("tflm-dmo", "best-fit", "breadth", "conflicts", "exact", "best"):
        assert plan(p, s).arena_bytes == 9 * al, s  # out at 0, in at 5 units
    assert plan(p, "exact").optimal
    assert plan(p, "tflm").arena_bytes == a + b  # faithful TFLM never overlaps
    for s in ("best", "exact", "best-fit", "hill-climb"):
        assert plan(p, s, use_overlaps=False).arena_bytes == a + b, s
    validate(p, {"out": 0, "in": 5 * al})
    for bad in ({"out": 0, "in": 4 * al}, {"out": al, "in": 5 * al}):
        with pytest.raises(Failure, match="allowed overlap"):
            validate(p, bad)


def test_mirrored_greedy_puts_a_smaller_output_below_its_input():
    """Largest first puts the 8-unit input at 0, leaving no room below it for
    its output; planning top-down (mirrored) does, as does the exact solver."""
    u = 16
    p = Problem(
        (Buffer("in", 8 * u, 0, 1), Buffer("out", 4 * u, 1, 2)),
        u,
        (Overlap("out", "in", 3 * u + u // 2),),
    )
    assert plan(p, "tflm-dmo").arena_bytes == 12 * u
    for s in ("best", "exact", "hill-climb"):
        r = plan(p, s)
        assert r.arena_bytes == 9 * u and r.offsets == {"in": u, "out": 0}, s


def test_overlapping_plan_rejected_naming_both_tensors():
    p = Problem((Buffer("conv_out", 64, 0, 2), Buffer("relu_out", 32, 1, 3)))
    with pytest.raises(Failure) as e:
        validate(p, {"conv_out": 0, "relu_out": 48})
    msg = str(e.value)
    assert "conv_out" in msg and "relu_out" in msg and "offset 48" in msg and "steps 1..3" in msg
    validate(p, {"conv_out": 0, "relu_out": 64})
    validate(Problem(p.buffers[:1] + (Buffer("x", 32, 3, 4),)), {"conv_out": 0, "x": 0})


def test_validator_rejects_malformed_plans():
    p = Problem((Buffer("a", 32, 0, 1, offset=32), Buffer("b", 32, 0, 0)))
    for bad, what in [
        ({"a": 32}, "no offset"),
        ({"a": 32, "b": 8}, "alignment"),
        ({"a": 32, "b": -16}, "negative"),
        ({"a": 0, "b": 64}, "fixed"),
        ({"a": 32, "b": 0, "c": 0}, "unknown"),
    ]:
        with pytest.raises(Failure, match=what):
            validate(p, bad)


def test_fixed_offsets_kept_and_clashes_refused():
    p = Problem(
        (Buffer("big", 256, 0, 3, offset=128), Buffer("x", 64, 1, 2), Buffer("y", 64, 2, 3))
    )
    for s in sorted(STRATEGIES):
        r = plan(p, s, time_limit=2)
        assert r.offsets["big"] == 128, s
    assert plan(p, "best").arena_bytes == 384  # x and y fit below the fixed buffer
    clash = Problem((Buffer("a", 64, 0, 1, offset=0), Buffer("b", 64, 1, 2, offset=32)))
    with pytest.raises(BadInput, match="fixed"):
        plan(clash)


def test_bad_input():
    p = Problem((Buffer("a", 16, 0, 1),))
    with pytest.raises(BadInput, match="tflm"):
        plan(p, "no-such-planner")
    for bad in [
        Problem((Buffer("a", 16, 2, 1),)),
        Problem((Buffer("a", 16, 0, 1),) * 2),
        Problem((Buffer("a", 16, 0, 1, offset=8),)),
        Problem(p.buffers, 0),
        Problem(p.buffers, 16, (Overlap("a", "ghost", 16),)),
    ]:
        with pytest.raises(BadInput):
            plan(bad)
    assert plan(Problem(()), "best").arena_bytes == 0


# --- TFLM GreedyMemoryPlanner -------------------------------------------------


def tflm_reference(bufs: list[tuple[int, int, int, int | None]]) -> list[int]:
    """A literal port of GreedyMemoryPlanner::CalculateOffsetsIfNeeded (linked
    list and all) for (size, first, last, offline_offset) in AddBuffer order."""
    n = len(bufs)
    if n == 0:
        return []
    sizes, ids, offs = [0] * n, [0] * n, [-1] * n
    tail, head = n, 0
    for i, (size, _, _, off) in enumerate(bufs):
        if off is None:
            tail -= 1
            sizes[tail], ids[tail] = size, i
        else:
            sizes[head], ids[head], offs[i] = size, i, off
            head += 1
    swapped = True
    while swapped:  # ReverseSortInPlace on the online part
        swapped = False
        for i in range(head + 1, n):
            if sizes[i - 1] < sizes[i]:
                sizes[i - 1], sizes[i] = sizes[i], sizes[i - 1]
                ids[i - 1], ids[i] = ids[i], ids[i - 1]
                swapped = True
    entries = [[0, ids[0], -1]]  # offset, buffer id, next entry index
    first_idx = 0
    if bufs[ids[0]][3] is None:
        offs[ids[0]] = 0
    entries[0][0] = offs[ids[0]]
    for i in range(1, n):
        bid = ids[i]
        size, f, last, fixed = bufs[bid]
        cand = 0
        if fixed is None:
            prior = None
            while True:
                nxt = None
                e = first_idx if prior is None else entries[prior][2]
                while e != -1:
                    of, of_l = bufs[entries[e][1]][1], bufs[entries[e][1]][2]
                    if not (of > last or f > of_l):
                        nxt = e
                        break
                    e = entries[e][2]
                if prior is not None:
                    cand = max(cand, entries[prior][0] + bufs[entries[prior][1]][0])
                if nxt is None or entries[nxt][0] - cand >= size:
                    break
                prior = nxt
        else:
            cand = fixed
        offs[bid] = cand
        entries.append([cand, bid, -1])
        new = len(entries) - 1
        if entries[first_idx][0] > cand:
            entries[new][2], first_idx = first_idx, new
        else:
            cur = first_idx
            while entries[cur][2] != -1 and entries[entries[cur][2]][0] <= cand:
                cur = entries[cur][2]
            entries[new][2], entries[cur][2] = entries[cur][2], new
    return offs


def tflm_offsets(specs: list[tuple[int, int, int]], al: int = 1) -> list[int]:
    p = Problem(tuple(Buffer(f"t{i}", s, f, e, i) for i, (s, f, e) in enumerate(specs)), al)
    r = plan(p, "tflm")
    return [r.offsets[f"t{i}"] for i in range(len(specs))]


def test_tflm_matches_its_own_unit_tests():
    """Cases and expected values from greedy_memory_planner_test.cc."""
    assert tflm_offsets([(10, 0, 1), (20, 2, 3)]) == [0, 0]
    medium = [(10, 0, 1), (20, 1, 2), (30, 2, 3), (40, 3, 4), (50, 0, 1)]
    assert tflm_offsets(medium) == [50, 70, 40, 0, 0]
    overlap = Problem(
        tuple(
            Buffer(f"t{i}", s, f, e, i)
            for i, (s, f, e) in enumerate([(100, 0, 1), (50, 2, 3), (20, 1, 2)])
        ),
        1,
    )
    assert plan(overlap, "tflm").arena_bytes == 120


def test_tflm_ties_go_to_the_highest_id_first():
    """Online buffers are written into the sort array from its tail and the
    bubble sort is stable, so among equal sizes the last-added goes first."""
    assert tflm_offsets([(16, 0, 1), (16, 0, 1), (16, 0, 1)], 16) == [32, 16, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(0, 6),
            st.integers(0, 3),
            st.one_of(st.none(), st.none(), st.integers(0, 8)),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_tflm_equals_literal_port(specs):
    al = 16
    bufs, fixed_seen = [], []
    for i, (u, f, d, fo) in enumerate(specs):
        b = Buffer(f"t{i}", u * al, f, f + d, i, None if fo is None else fo * al)
        # offline offsets must not clash among themselves (TFLM trusts them)
        if b.offset is not None and any(
            b.lives_with(o) and b.offset < o.offset + o.size and o.offset < b.offset + b.size
            for o in fixed_seen
        ):
            b = Buffer(b.name, b.size, b.first, b.last, i)
        if b.offset is not None:
            fixed_seen.append(b)
        bufs.append(b)
    p = Problem(tuple(bufs), al)
    got = plan(p, "tflm").offsets
    # MicroAllocator adds only tensors with non-zero bytes to the planner
    added = [b for b in bufs if b.size or b.offset is not None]
    want = tflm_reference([(b.size, b.first, b.last, b.offset) for b in added])
    assert [got[b.name] for b in added] == want
    assert all(got[b.name] == 0 for b in bufs if b not in added)


def test_tflm_uses_model_index_order_not_problem_order():
    """TFLM adds buffers by tensor index; the problem may list them otherwise."""
    bufs = (Buffer("x", 16, 0, 1, index=5), Buffer("y", 16, 0, 1, index=2))
    r = plan(Problem(bufs), "tflm")
    assert r.offsets == {"x": 0, "y": 16}  # the higher index is placed first


# --- scale --------------------------------------------------------------------


def test_ten_thousand_buffers_fast_and_policed():
    p = cnn_like(10_000, seed=3, overlaps=True)
    t = time.perf_counter()
    r = plan(p, "best")
    assert time.perf_counter() - t < 5  # about 0.5 s alone on this 2-core box
    assert r.arena_bytes >= r.lower_bound_bytes
    bad = dict(r.offsets)
    bad["t5000"] = bad["t5001"] = 0  # they live together (a chain)
    t = time.perf_counter()
    with pytest.raises(Failure, match="t500[01]"):
        validate(p, bad)
    assert time.perf_counter() - t < 2
