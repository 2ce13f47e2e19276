"""The live-set peak of a straight CNN is what TFLM's planner reaches: the
16-byte-aligned peak that `profile` computes equals the arena head the real
TFLM interpreter reports for the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from infermem.frontends import load
from infermem.profile import profile
from infermem.tflm import measure

FIXTURES = Path(__file__).parent / "fixtures"

# Models on which TFLM's greedy planner reaches the bound.  On MobileNet v1 at
# 96x96 it does not (it leaves a 25% gap, which infermem's planners close: see
# the planner tests), so it is not in this list.
AT_BOUND = ["mobilenet_v2_int8.tflite", "resnet_f32.tflite", "ds_cnn_int8.tflite",
            "mobilenet_v3_small_int8.tflite"]


@pytest.mark.parametrize("name", AT_BOUND)
def test_live_set_peak_equals_tflm_head(name):
    path = FIXTURES / name
    arena = measure(path, bisect=False)
    assert profile(load(path), alignment=16).peak_bytes == arena.head_bytes


def test_tflm_head_is_never_below_the_live_set_peak():
    path = FIXTURES / "mobilenet_v1_int8.tflite"
    assert measure(path, bisect=False).head_bytes >= profile(load(path)).peak_bytes
