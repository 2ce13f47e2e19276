"""Patch-based inference: receptive fields against brute force, and the .tflite
rewrite proven bit-identical in TFLM (a wrong halo must be caught)."""

from __future__ import annotations

import numpy as np
import pytest

from infermem.errors import BadInput
from infermem.rewrite import NotPatchable, patch_tflite
from infermem.rewrite.receptive import (
    Region,
    SpatialOp,
    Window,
    backward,
    clip,
    needed,
    split,
    window,
)

CORPUS = "tests/corpus"


# --- brute force ---------------------------------------------------------------


def _valid(img: np.ndarray, k: np.ndarray, s: int, d: int, out: tuple[int, int]) -> np.ndarray:
    """out[i, j] = sum_ab img[i*s + a*d, j*s + b*d] * k[a, b] (cross-correlation)."""
    res = np.zeros(out, dtype=img.dtype)
    for a in range(k.shape[0]):
        for b in range(k.shape[1]):
            res += k[a, b] * img[a * d: a * d + (out[0] - 1) * s + 1: s,
                                 b * d: b * d + (out[1] - 1) * s + 1: s]
    return res


def _layer(rng, size: int):
    """A random conv layer that fits `size`: (kernel, stride, dilation, same, out size)."""
    while True:
        k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        same = bool(rng.integers(0, 2))
        span = (k - 1) * d + 1
        out = -(-size // s) if same else (size - span) // s + 1
        if out >= 1:
            return k, s, d, same, out


def _stack(rng, size: int, depth: int):
    """Layers with windows; a residual ADD joins when shapes allow (a DAG)."""
    layers, sizes, ops = [], {0: (size, size)}, []
    t = 0
    for i in range(depth):
        k, s, d, same, out = _layer(rng, sizes[t][0])
        w = window(sizes[t][0], out, k, s, d, same)
        layers.append(("conv", t, i + 1, k, s, d, w.pad_before))
        ops.append(SpatialOp((t,), i + 1, w, w))
        sizes[i + 1] = (out, out)
        t = i + 1
    if depth >= 2 and sizes[depth] == sizes[depth - 1] and rng.integers(0, 2):
        layers.append(("add", depth - 1, depth, depth + 1))
        ops.append(SpatialOp((depth - 1, depth), depth + 1))
        sizes[depth + 1] = sizes[depth]
        t = depth + 1
    return layers, sizes, ops, t


def _run(layers, sizes, x, kernels):
    vals = {0: x}
    for li, layer in enumerate(layers):
        if layer[0] == "add":
            vals[layer[3]] = vals[layer[1]] + vals[layer[2]]
            continue
        _, src, dst, k, s, d, pb = layer
        img = vals[src]
        big = np.zeros((img.shape[0] + pb + (k - 1) * d + s * sizes[dst][0],) * 2, img.dtype)
        big[pb: pb + img.shape[0], pb: pb + img.shape[1]] = img
        vals[dst] = _valid(big, kernels[li], s, d, sizes[dst])
    return vals


def _patch_run(layers, sizes, ops, out_t, region, x, kernels):
    """Compute `region` of the output from its receptive field alone: slice, pad
    with zeros where the region leaves the image, VALID conv - the rewrite's recipe."""
    regions = backward(ops, sizes, out_t, region)
    have = {0: (x, Region(0, sizes[0][0], 0, sizes[0][1]))}

    def read(t, want: Region):
        got, p = clip(want, *sizes[t])
        arr, h = have[t]
        part = arr[got.h0 - h.h0: got.h1 - h.h0, got.w0 - h.w0: got.w1 - h.w0]
        return np.pad(part, ((p.top, p.bottom), (p.left, p.right)))

    for li, (layer, op) in enumerate(zip(layers, ops, strict=True)):
        r = regions.get(op.output)
        if r is None:
            continue
        if layer[0] == "add":
            have[op.output] = (read(op.inputs[0], r) + read(op.inputs[1], r), r)
            continue
        _, src, _, k, s, d, _ = layer
        have[op.output] = (_valid(read(src, needed(op.h, op.w, r)), kernels[li], s, d,
                                  (r.height, r.width)), r)
    arr, h = have[out_t]
    return arr[region.h0 - h.h0: region.h1 - h.h0, region.w0 - h.w0: region.w1 - h.w0]


@pytest.mark.parametrize("seed", range(40))
def test_receptive_field_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(6, 20))
    layers, sizes, ops, out_t = _stack(rng, size, int(rng.integers(1, 4)))
    oh, ow = sizes[out_t]
    h0, w0 = int(rng.integers(0, oh)), int(rng.integers(0, ow))
    region = Region(h0, int(rng.integers(h0 + 1, oh + 1)), w0, int(rng.integers(w0 + 1, ow + 1)))
    got = backward(ops, sizes, out_t, region)[0]
    # which input pixels influence the region: all-ones kernels, indicator images
    ones = [np.ones((la[3], la[3]), np.int64) if la[0] == "conv" else None for la in layers]
    hit = np.zeros((size, size), bool)
    for i in range(size):
        for j in range(size):
            x = np.zeros((size, size), np.int64)
            x[i, j] = 1
            y = _run(layers, sizes, x, ones)[out_t]
            hit[i, j] = y[region.h0: region.h1, region.w0: region.w1].any()
    ii, jj = np.nonzero(hit)
    assert hit.any()
    assert got.contains(Region(ii.min(), ii.max() + 1, jj.min(), jj.max() + 1))
    if all(la[0] == "add" or la[5] == 1 for la in layers):  # no holes: the box is tight
        assert got == Region(ii.min(), ii.max() + 1, jj.min(), jj.max() + 1)
    # and the recipe recomputes the region exactly from that field
    x = rng.integers(-50, 50, (size, size))
    kernels = [rng.integers(-3, 4, (la[3], la[3])) if la[0] == "conv" else None for la in layers]
    ref = _run(layers, sizes, x, kernels)[out_t][region.h0: region.h1, region.w0: region.w1]
    assert np.array_equal(_patch_run(layers, sizes, ops, out_t, region, x, kernels), ref)


def test_same_padding_is_tflms():
    # 224 -> 112 with a 3x3 stride-2 SAME conv: TFLM pads 0 before, 1 after
    assert window(224, 112, 3, 2, 1, True).pad_before == 0
    assert window(7, 7, 3, 1, 1, True).pad_before == 1
    assert window(7, 5, 3, 1, 1, False).pad_before == 0
    w = Window(3, 2, 1, 0)
    assert needed(w, w, Region(0, 2, 55, 56)) == Region(0, 5, 110, 113)
    assert clip(Region(-1, 5, 110, 113), 8, 112)[1].top == 1
    assert split(12, 5) == [(0, 2), (2, 5), (5, 7), (7, 10), (10, 12)]


# --- the rewrite, in TFLM ------------------------------------------------------


def _verify(tmp_path, model: str, result):
    from infermem.tflm.verify import verify

    out = tmp_path / "patched.tflite"
    out.write_bytes(result.data)
    return verify(f"{CORPUS}/{model}", out, runs=3)


def test_rewritten_resnet8_is_bit_identical_in_tflm(tmp_path):
    r = patch_tflite(f"{CORPUS}/resnet8_int8.tflite", (2, 2))
    assert r.stage_ops[0] == 0 and r.extra_ops > 0
    assert r.macs_after > r.macs_before  # halos are recomputed
    v = _verify(tmp_path, "resnet8_int8.tflite", r)
    assert v.verified, v.first_difference


def test_rewritten_float_mobilenet_v2_is_bit_identical_in_tflm(tmp_path):
    # float SAME padding becomes PAD with 0.0: adding exact zeros leaves every sum unchanged
    r = patch_tflite(f"{CORPUS}/mobilenet_v2_f32.tflite", (2, 3), until=5)
    assert r.grid == (2, 3) and r.stage_ops == tuple(range(6))
    v = _verify(tmp_path, "mobilenet_v2_f32.tflite", r)
    assert v.verified, v.first_difference
    assert v.head_after < v.head_before


def test_wrong_halo_is_caught(tmp_path):
    r = patch_tflite(f"{CORPUS}/resnet8_int8.tflite", (2, 2), shrink_halo=1)
    v = _verify(tmp_path, "resnet8_int8.tflite", r)
    assert not v.verified and v.first_difference is not None


def test_fully_connected_model_is_not_patchable():
    with pytest.raises(NotPatchable, match="no patchable stage"):
        patch_tflite("tests/fixtures/patch/dense_only_int8.tflite", (2, 2))


def test_until_must_be_a_cut():
    with pytest.raises(BadInput, match="can end only after operator"):
        patch_tflite(f"{CORPUS}/mobilenet_v2_int8.tflite", (2, 2), until=7)


# --- optimize --patch ----------------------------------------------------------


def test_optimize_patch_cli_verified_head_equals_plan(tmp_path, capsys):
    import json

    from infermem.cli import main

    out = tmp_path / "mv2.tflite"
    assert main(["optimize", f"{CORPUS}/mobilenet_v2_int8.tflite", "-o", str(out), "--patch",
                 "3x3", "--patch-until", "9", "--dmo", "--runs", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["patched"] and doc["verified"] and doc["patch_grid"] == [3, 3]
    assert doc["head_after"] == doc["planned_arena_bytes"]  # measured in TFLM = planned
    assert doc["head_after"] * 2 <= doc["head_before"]
    assert doc["macs_after"] > doc["macs_before"] and doc["ops_after"] > doc["ops_before"]
    assert out.is_file()


def test_optimize_patch_leaves_dense_model_unchanged(tmp_path, capsys):
    from infermem.cli import main

    out = tmp_path / "dense.tflite"
    assert main(["optimize", "tests/fixtures/patch/dense_only_int8.tflite", "-o", str(out),
                 "--patch", "--runs", "1"]) == 0
    text = capsys.readouterr().out
    assert "patch not applied: no patchable stage" in text
    assert out.is_file()  # planned as it is: the graph is unchanged


def test_patch_options_need_patch(tmp_path):
    from infermem.cli import main

    out = tmp_path / "x.tflite"
    assert main(["optimize", f"{CORPUS}/resnet8_int8.tflite", "-o", str(out),
                 "--patch-until", "3"]) == 2
    assert main(["optimize", f"{CORPUS}/resnet8_int8.tflite", "-o", str(out),
                 "--patch", "1x1"]) == 2
    assert not out.exists()


# --- plan --patch (a what-if: nothing written) ---------------------------------


def test_plan_patch_matches_optimize_plan_and_writes_nothing(tmp_path, capsys):
    import json

    from infermem.cli import main

    model = f"{CORPUS}/mobilenet_v2_int8.tflite"
    opts = ["--patch", "3x3", "--patch-until", "9", "--dmo", "--json"]
    assert main(["plan", model, *opts]) == 0
    doc = json.loads(capsys.readouterr().out)
    p = doc["patch"]
    assert p["patched"] and p["grid"] == [3, 3] and p["stage_ops"] == [0, 9]
    assert doc["arena_bytes"] == p["arena_after"] < p["arena_before"]
    assert p["macs_after"] > p["macs_before"] and p["flash_after"] > p["flash_before"]
    plain = infermem_plan(model)
    assert p["arena_before"] == plain  # the model as it is, same options
    out = tmp_path / "mv2.tflite"
    assert main(["optimize", model, "-o", str(out), *opts, "--no-verify"]) == 0
    opt = json.loads(capsys.readouterr().out)
    assert opt["planned_arena_bytes"] == p["arena_after"]  # the plan optimize would write
    assert sorted(f.name for f in tmp_path.iterdir()) == ["mv2.tflite"]


def infermem_plan(model: str) -> int:
    import infermem

    return infermem.plan(model, dmo=True).arena_bytes


def test_plan_patch_not_patchable_and_bad_input(capsys):
    from infermem.cli import main

    assert main(["plan", "tests/fixtures/patch/dense_only_int8.tflite", "--patch"]) == 0
    assert "patch not applied: no patchable stage" in capsys.readouterr().out
    assert main(["plan", f"{CORPUS}/resnet8_int8.tflite", "--patch", "--input-shape",
                 "serving_default_keras_tensor:0=1x32x32x3"]) == 2
    assert "keeps the stored shapes" in capsys.readouterr().err
    assert main(["plan", f"{CORPUS}/resnet8_int8.tflite", "--patch-until", "3"]) == 2
    assert main(["plan", f"{CORPUS}/resnet8_int8.tflite", "--patch", "1x1"]) == 2


# --- fit's patch level and the sweep's ------------------------------------------


def test_fit_patch_level_is_the_patched_plan_and_measured(capsys):
    import json
    import re

    import infermem
    from infermem.cli import main

    model = f"{CORPUS}/resnet8_int8.tflite"
    assert main(["fit", model, "--patch", "--device", "stm32f401", "--json"]) == 0
    levels = json.loads(capsys.readouterr().out)["levels"]
    assert list(levels) == ["runtime", "infermem", "reorder", "dmo", "patch", "int8"]
    p, dmo = levels["patch"], levels["dmo"]
    assert p["arena_bytes"] < dmo["arena_bytes"] and p["flash_bytes"] > dmo["flash_bytes"]
    # the same plan `plan --patch --dmo` prints (best plan + DMO on the rewrite),
    # which ranks the candidates the same way: its choice is fit's
    grid, until = re.search(r"patch (\d+x\d+) of operators 0\.\.(\d+)", p["how"]).groups()
    again = infermem.plan_patched(model, patch=grid, patch_until=int(until), dmo=True)
    assert p["arena_bytes"] == again.after.arena_bytes
    head, planned = re.search(r"head ([\d,]+) B \(TFLM's planner re-implemented: ([\d,]+) B",
                              p["how"]).groups()
    assert head == planned  # measured in TFLM = TFLM's planner on the rewrite
    assert levels["int8"]["arena_bytes"] == p["arena_bytes"]  # already int8: patch kept
    assert main(["fit", model, "--device", "stm32f401", "--json", "--no-measure"]) == 0
    assert "patch" not in json.loads(capsys.readouterr().out)["levels"]  # only when asked


def test_sweep_patch_level_is_fits(tmp_path, capsys):
    import json

    from infermem.cli import main
    from infermem.fit import model_needs
    from infermem.frontends import load
    from infermem.rewrite.level import PatchSpec

    model = f"{CORPUS}/resnet8_int8.tflite"
    assert main(["sweep", model, "--levels", "dmo,patch", "--no-cache", "--no-measure",
                 "--devices", "stm32f401", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["models"][0]
    assert list(row["levels"]) == ["dmo", "patch"]
    needs = model_needs(load(model), patch=PatchSpec())
    assert row["levels"]["patch"]["arena_bytes"] == needs.level("patch").arena_bytes
    assert row["levels"]["patch"]["arena_bytes"] < row["levels"]["dmo"]["arena_bytes"]


# --- profile --patch: where the rewrite moves the peak --------------------------


def test_profile_patch_splits_stage_and_rest(capsys):
    import json

    import infermem
    from infermem.cli import main

    model = f"{CORPUS}/mobilenet_v2_int8.tflite"
    assert main(["profile", model, "--patch", "3x3", "--patch-until", "9", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    p, b, a = doc["patch"], doc["patch"]["stage_before"], doc["patch"]["stage_after"]
    assert p["patched"] and b["stage_ops"] == 10 and a["stage_ops"] > b["stage_ops"]
    assert a["rest_peak_bytes"] == b["rest_peak_bytes"]  # the rest is untouched
    assert a["stage_peak_bytes"] < b["stage_peak_bytes"] == p["peak_before"]
    assert p["peak_after"] == max(p["live_after"]) == max(a["stage_peak_bytes"],
                                                          a["rest_peak_bytes"])
    assert doc["peak_bytes"] == p["peak_before"]  # the profile itself is the file's
    r = infermem.profile_patched(model, patch="3x3", patch_until=9)
    assert [x.live_bytes for x in r.after.profile.operators] == p["live_after"]
    assert main(["profile", model, "--patch", "--input-shape",
                 "serving_default_keras_tensor:0=1x96x96x3"]) == 2  # a .tflite keeps its shapes
    assert main(["profile", model, "--patch", "--prune", "50%"]) == 2


def test_report_patch_section_plots_before_and_after(tmp_path):
    import infermem
    from infermem.cli import main

    model = f"{CORPUS}/resnet8_int8.tflite"
    r = infermem.report(model, measure=False, patch="2x2", patch_until=7)
    p = infermem.profile_patched(model, patch="2x2", patch_until=7)
    section = r.html.split('id="patch"', 1)[1].split("<section", 1)[0]
    assert section.count("data:image/png;base64,") == 1  # the before/after plot, inline
    for n in (p.stage_before.stage_peak, p.stage_after.stage_peak, p.stage_after.rest_peak):
        assert f"{n:,}" in section
    assert p.after.profile.peak_bytes < p.before.profile.peak_bytes
    assert 'id="patch"' not in infermem.report(model, measure=False).html  # only when asked
    out = tmp_path / "r.html"
    assert main(["report", model, "-o", str(out), "--patch-until", "7"]) == 2
    assert not out.exists()
