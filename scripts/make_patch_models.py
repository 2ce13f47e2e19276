"""Build the MobileNet v2 variants benchmarks/patch.py measures (not committed).

Run with the generation venv (TensorFlow is not an infermem dependency):

    /work/venv-tf/bin/python scripts/make_patch_models.py [--only NAME,...]

Writes keras.applications.MobileNetV2 at alpha 1.0 / 0.35 and 224 / 96 pixels
(1000 classes, logits; weights random, BatchNorm statistics calibrated so the
outputs vary with the input), each converted by TFLiteConverter's defaults in
float32 and full-integer int8 exactly as tests/corpus is (make_corpus.py's
helpers), into benchmarks/.models/ (gitignored: 1.0 @ 224 is 14 MB in float).
The 0.35 @ 96 variant with 10 classes is tests/corpus/mobilenet_v2_*.tflite.

Also writes the small committed fixtures in tests/fixtures/patch/:
dense_only_int8.tflite, a fully-connected-only model, which patching must leave
unchanged; and pool_stem_{int8,f32}.tflite, a stem with SAME max pools (stride 2
with asymmetric padding, stride 1 padding both sides), a SAME average pool that
pads nothing and one that pads (where the patchable stage ends).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import keras  # noqa: E402
from corpus_check import check_tflite  # noqa: E402
from corpus_keras import KerasSpec  # noqa: E402
from fixture_archs import calibrate_batchnorm  # noqa: E402
from keras.utils import set_random_seed  # noqa: E402
from make_corpus import ROOT, keras_tflite  # noqa: E402
from make_fixtures import seed_of, write_if_changed  # noqa: E402

CACHE = ROOT / "benchmarks" / ".models"
VARIANTS = {  # name: (alpha, pixels)
    "mobilenet_v2_1.0_224": (1.0, 224),
    "mobilenet_v2_0.35_224": (0.35, 224),
    "mobilenet_v2_1.0_96": (1.0, 96),
}


def mobilenet_v2(alpha: float, size: int):
    return lambda: keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, weights=None, classes=1000,
        classifier_activation=None)


def dense_only():
    inp = keras.Input((64,))
    x = keras.layers.Dense(32, activation="relu")(inp)
    return keras.Model(inp, keras.layers.Dense(10)(x), name="dense_only")


def pool_stem():
    """Pools with SAME padding in the head (the ResNet-style stem's max pool, here
    after a linear conv so that pooled values are negative and the padding
    value matters)."""
    from fixture_archs import _conv_bn_relu

    inp = keras.Input((48, 48, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(inp)  # 24x24x16, no ReLU
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)  # 12x12, pads 0 / 1
    x = _conv_bn_relu(x, 24, 3)
    x = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)  # pads 1 / 1
    x = keras.layers.AveragePooling2D(2, padding="same")(x)  # 6x6, pads nothing
    x = keras.layers.AveragePooling2D(3, strides=1, padding="same")(x)  # pads: ends the stage
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(10)(x), name="pool_stem")


def build(spec: KerasSpec, folder: Path, dtypes=("f32", "int8")) -> None:
    print(spec.name, flush=True)
    keras.backend.clear_session()
    set_random_seed(seed_of(spec.name))
    model = spec.build()
    calibrate_batchnorm(model, model.input_shape[1:], seed_of(spec.name) + 2, spec.input_range)
    for dtype in dtypes:
        data = keras_tflite(model, spec, dtype == "int8")
        check_tflite(data, spec.input_range)  # loads, runs, outputs vary with the input
        write_if_changed(folder / f"{spec.name}_{dtype}.tflite", data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated names (" + ", ".join(VARIANTS) +
                    ", dense_only, pool_stem)")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only is None or "dense_only" in only:
        (ROOT / "tests" / "fixtures" / "patch").mkdir(exist_ok=True)
        build(KerasSpec("dense_only", dense_only, (-1.0, 1.0), "", ""),
              ROOT / "tests" / "fixtures" / "patch", ("int8",))
    if only is None or "pool_stem" in only:
        build(KerasSpec("pool_stem", pool_stem, (-1.0, 1.0), "", ""),
              ROOT / "tests" / "fixtures" / "patch")
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, (alpha, size) in VARIANTS.items():
        if only is None or name in only:
            build(KerasSpec(name, mobilenet_v2(alpha, size), (-1.0, 1.0), "", ""), CACHE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
