"""Patch-based inference through pools with SAME padding and channel concats:
a SAME max pool's border tiles are padded with the dtype's lowest value
(bit-identical in TFLM; padding with zero is caught), a SAME average pool that
pads ends the stage, and an Inception block's branches run per patch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from infermem.errors import BadInput
from infermem.rewrite import load_tree, patch_stage, patch_tflite
from infermem.rewrite.stage import find_stage, op_name, patchable_prefix

POOL_STEM = "tests/fixtures/patch/pool_stem_{}.tflite"  # conv, SAME max pools, SAME avg pools


def _verify(tmp_path, model: str, data: bytes):
    from infermem.tflm.verify import verify

    out = tmp_path / "patched.tflite"
    out.write_bytes(data)
    return verify(model, out, runs=2)


def _padv2_values(data: bytes) -> list:
    """The constant each PADV2 of a model writes, as its dtype."""
    _, tree = load_tree(data)
    sg, got = tree.subgraphs[0], []
    for op in sg.operators:
        if op_name(tree, op) == "PADV2":
            t = sg.tensors[int(op.inputs[2])]
            raw = np.asarray(tree.buffers[t.buffer].data, np.uint8)
            got.append(raw.view("i1" if len(raw) == 1 else "<f4")[0])
    return got


@pytest.mark.parametrize("dtype", ["int8", "f32"])
def test_same_max_pool_is_patched_bit_identical_in_tflm(tmp_path, dtype):
    model = POOL_STEM.format(dtype)
    # operators 0..4: conv, max pool 3x3/2 SAME (pads 0 before, 1 after), conv,
    # max pool 3x3/1 SAME (1 and 1), average pool 2x2/2 SAME that pads nothing
    r = patch_tflite(model, (2, 2), until=4)
    assert r.stage_ops == (0, 1, 2, 3, 4)
    lowest = _padv2_values(r.data)
    assert lowest and set(lowest) == {-128 if dtype == "int8" else -np.inf}
    v = _verify(tmp_path, model, r.data)
    assert v.verified, v.first_difference


def test_zero_padding_before_a_max_pool_is_caught(tmp_path):
    # the first max pool reads a linear conv's output (negative values): a
    # border tile padded with the zero point instead of -128 pools differently
    model = POOL_STEM.format("int8")
    raw, tree = load_tree(model)
    stage = find_stage(tree, 1)
    assert any(s.pad_lowest for s in stage.ops)
    wrong = dataclasses.replace(
        stage, ops=tuple(dataclasses.replace(s, pad_lowest=False) for s in stage.ops))
    data = patch_stage(raw, tree, wrong, (2, 2)).data
    assert _padv2_values(data) == []  # PAD: the zero point
    v = _verify(tmp_path, model, data)
    assert not v.verified and v.first_difference is not None


def test_same_average_pool_that_pads_ends_the_stage():
    _, tree = load_tree(POOL_STEM.format("int8"))
    prefix, why = patchable_prefix(tree)
    assert [s.index for s in prefix] == [0, 1, 2, 3, 4]  # the one that pads nothing is in
    assert why.startswith("operator 5 (AVERAGE_POOL_2D): SAME padding that pads")
    with pytest.raises(BadInput, match="can end only after operator 0, 1, 2, 3, 4"):
        patch_tflite(POOL_STEM.format("int8"), (2, 2), until=5)


def test_inception_branches_run_per_patch(tmp_path):
    # four branches (one a 3x3 SAME max pool) joined by CONCATENATION on channels
    model = "tests/fixtures/inception_block_int8.tflite"
    r = patch_tflite(model, (2, 2), until=9)
    assert r.stage_ops == tuple(range(10))
    v = _verify(tmp_path, model, r.data)
    assert v.verified, v.first_difference
