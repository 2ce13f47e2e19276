"""Small real-architecture Keras models for infermem's fixture zoo.

Imported by make_fixtures.py (runs in /work/tfvenv, never at infermem runtime).
Every classifier ends in logits, not softmax: int8 models with random weights
can make TFLM's Softmax kernel fail, and the memory plan does not care.
Sizes are chosen so each .tflite stays well under 2 MB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers


@dataclass(frozen=True)
class Arch:
    """One fixture architecture: how to build it and what it is."""

    name: str
    input_shape: tuple[int, ...]  # without the batch dimension
    build: Callable[[], keras.Model]
    description: str
    branches: bool


def calibrate_batchnorm(model: keras.Model, input_shape: tuple[int, ...], seed: int,
                        value_range: tuple[float, float] = (-1.0, 1.0)) -> None:
    """Give random-weight models trained-like activation statistics.

    Fresh Keras BatchNormalization is the identity (mean 0, variance 1), so deep
    random nets shrink their activations to ~0 and int8 outputs collapse to a
    constant, which would make output comparisons blind to memory-plan errors.
    Each BN gets a random affine part and moving statistics equal to the batch
    statistics of its input on a seeded batch (uniform over value_range, the
    input range the model expects), as a trained net would have.
    """
    rng = np.random.default_rng(seed)
    bns = [lay for lay in model._flatten_layers() if isinstance(lay, layers.BatchNormalization)]
    for bn in bns:
        n = bn.gamma.shape[0]
        bn.gamma.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
        bn.beta.assign(rng.uniform(-0.5, 0.5, n).astype(np.float32))
        bn.momentum = 0.0
    batch = rng.uniform(*value_range, (32, *input_shape)).astype(np.float32)
    model(batch, training=True)  # momentum 0: moving stats := this batch's stats
    for bn in bns:
        bn.momentum = 0.99


def mobilenet_v1() -> keras.Model:
    return keras.applications.MobileNet(
        input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=10,
        classifier_activation=None,
    )


def mobilenet_v2() -> keras.Model:
    return keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10,
        classifier_activation=None,
    )


def mobilenet_v3_small() -> keras.Model:
    """MobileNetV3-Small backbone (hard-swish, squeeze-excite) with the Keras top.

    The stock top's 1024-channel last-point conv alone would push the float file
    past 2 MB, so the same head (GAP, 1x1 conv, hard-swish, 1x1 conv, flatten) is
    rebuilt here with 256 channels.
    """
    base = keras.applications.MobileNetV3Small(
        input_shape=(96, 96, 3), alpha=0.5, minimalistic=False, weights=None,
        include_top=False, include_preprocessing=False,
    )
    x = layers.GlobalAveragePooling2D(keepdims=True)(base.output)
    x = layers.Conv2D(256, 1, padding="same")(x)
    x = layers.Activation("hard_swish")(x)
    x = layers.Conv2D(10, 1, padding="same")(x)
    x = layers.Flatten()(x)
    return keras.Model(base.input, x, name="mobilenet_v3_small")


def _conv_bn_relu(x, filters: int, kernel, strides=1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def _residual_block(x, filters: int, strides: int):
    """Basic ResNet block; projection shortcut when the shape changes."""
    y = _conv_bn_relu(x, filters, 3, strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if strides != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
    return layers.ReLU()(layers.Add()([x, y]))


def resnet() -> keras.Model:
    """A ResNet-10-ish: stem, four basic blocks (16, 32, 32, 64), GAP, dense."""
    inp = keras.Input((64, 64, 3))
    x = _conv_bn_relu(inp, 16, 3, 2)
    for filters, strides in ((16, 1), (32, 2), (32, 1), (64, 2)):
        x = _residual_block(x, filters, strides)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10)(x), name="resnet")


def ds_cnn() -> keras.Model:
    """DS-CNN-S keyword spotter (Zhang et al., "Hello Edge", 2017): 12 classes."""
    inp = keras.Input((49, 10, 1))
    x = _conv_bn_relu(inp, 64, (10, 4), 2)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = _conv_bn_relu(x, 64, 1)
    x = layers.AveragePooling2D(pool_size=(25, 5))(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(12)(x), name="ds_cnn")


def _dense_bn_relu(x, units: int):
    return layers.ReLU()(layers.BatchNormalization()(layers.Dense(units)(x)))


def autoencoder() -> keras.Model:
    """MLPerf Tiny anomaly-detection (ToyADMOS) dense autoencoder, 640 -> 8 -> 640."""
    inp = keras.Input((640,))
    x = inp
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = _dense_bn_relu(x, units)
    return keras.Model(inp, layers.Dense(640)(x), name="autoencoder")


def _inception(x, c1: int, c3: tuple[int, int], c5: tuple[int, int], cp: int):
    """GoogLeNet-style block: four parallel branches, concatenated on channels."""
    b1 = _conv_bn_relu(x, c1, 1)
    b3 = _conv_bn_relu(_conv_bn_relu(x, c3[0], 1), c3[1], 3)
    b5 = _conv_bn_relu(_conv_bn_relu(x, c5[0], 1), c5[1], 5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = _conv_bn_relu(bp, cp, 1)
    return layers.Concatenate()([b1, b3, b5, bp])


def inception_block() -> keras.Model:
    inp = keras.Input((64, 64, 3))
    x = _conv_bn_relu(inp, 16, 3, 2)
    x = layers.MaxPooling2D(2)(x)
    x = _inception(x, 16, (16, 24), (4, 8), 8)
    x = _inception(x, 24, (24, 32), (8, 16), 16)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(10)(x), name="inception_block")


def tiny_unet() -> keras.Model:
    """Two-level U-Net: long-lived skip tensors, upsampling, concat, 2-class mask.

    Keras' UpSampling2D lowers to TILE, which TFLM lacks; so one level upsamples
    with a 2x2 transposed conv (as the original U-Net) and the other with a
    nearest-neighbour resize (RESIZE_NEAREST_NEIGHBOR), both TFLM builtins.
    """
    inp = keras.Input((32, 32, 3))
    e1 = _conv_bn_relu(inp, 8, 3)
    e2 = _conv_bn_relu(layers.MaxPooling2D(2)(e1), 16, 3)
    mid = _conv_bn_relu(layers.MaxPooling2D(2)(e2), 32, 3)
    up2 = layers.Conv2DTranspose(16, 2, strides=2, padding="same")(mid)
    d2 = _conv_bn_relu(layers.Concatenate()([up2, e2]), 16, 3)
    up1 = layers.Resizing(32, 32, interpolation="nearest")(d2)
    d1 = layers.Concatenate()([up1, e1])
    d1 = _conv_bn_relu(d1, 8, 3)
    return keras.Model(inp, layers.Conv2D(2, 1)(d1), name="tiny_unet")


ARCHS: tuple[Arch, ...] = (
    Arch("mobilenet_v1", (96, 96, 3), mobilenet_v1,
         "keras.applications.MobileNet alpha=0.25, 10 classes, logits", False),
    Arch("mobilenet_v2", (96, 96, 3), mobilenet_v2,
         "keras.applications.MobileNetV2 alpha=0.35, 10 classes, logits", True),
    Arch("mobilenet_v3_small", (96, 96, 3), mobilenet_v3_small,
         "keras.applications.MobileNetV3Small alpha=0.5 (squeeze-excite, hard-swish), "
         "Keras-style head with 256 last-point channels, 10 classes, logits", True),
    Arch("resnet", (64, 64, 3), resnet,
         "hand-built ResNet: stem + 4 basic residual blocks with Add, 10 classes", True),
    Arch("ds_cnn", (49, 10, 1), ds_cnn,
         "DS-CNN-S keyword spotter (Hello Edge): conv 10x4/2 + 4 depthwise-separable "
         "blocks, avgpool, dense 12", False),
    Arch("autoencoder", (640,), autoencoder,
         "MLPerf Tiny anomaly-detection dense autoencoder 640-128x4-8-128x4-640, "
         "batchnorm+relu", False),
    Arch("inception_block", (64, 64, 3), inception_block,
         "two Inception blocks (1x1 / 3x3 / 5x5 / pool branches concatenated)", True),
    Arch("tiny_unet", (32, 32, 3), tiny_unet,
         "two-level U-Net: maxpool, transposed-conv and nearest-resize upsampling, "
         "skip concats, 1x1 head", True),
)
