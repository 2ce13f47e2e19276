"""Keras models of the real-world corpus: Keras applications and MCU reference nets.

Imported by make_corpus.py (runs in the generation venv, never at infermem
runtime). Each is built the way a user builds it - `keras.applications.*`
with `weights=None`, or the published reference architecture - only smaller
(width multiplier, resolution, classes) so every file stays small. Classifiers
end in logits: int8 models with random weights can make TFLM's Softmax fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from fixture_archs import autoencoder, ds_cnn, mobilenet_v2
from keras import layers


@dataclass(frozen=True)
class KerasSpec:
    """One Keras corpus model: how to build it, what it takes, what it is."""

    name: str
    build: Callable[[], keras.Model]
    input_range: tuple[float, float]  # the pixel range the model's first layer expects
    description: str
    real_world: str


def mobilenet_v1() -> keras.Model:
    return keras.applications.MobileNet(
        input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=2,
        classifier_activation=None,
    )


def mobilenet_v3_small() -> keras.Model:
    """MobileNetV3-Small with its own preprocessing and the stock Keras top.

    Hard-swish and squeeze-excite as in the paper; alpha 0.35 keeps the stock
    top's 1024-channel last-point conv (fixed by Keras) under 1.4 MB in float.
    """
    return keras.applications.MobileNetV3Small(
        input_shape=(96, 96, 3), alpha=0.35, minimalistic=False, weights=None, classes=10,
        classifier_activation=None, include_preprocessing=True, dropout_rate=0.0,
    )


def efficientnet_small() -> keras.Model:
    """Keras' own EfficientNet builder at a reduced width/depth (B0 is 5.3 M params).

    Everything B0 has is here: Rescaling + Normalization preprocessing, MBConv
    blocks with swish and squeeze-excite, stochastic depth (inactive at
    inference), the Keras top.
    """
    from keras.src.applications.efficientnet import EfficientNet

    return EfficientNet(
        width_coefficient=0.25, depth_coefficient=0.5, default_size=96, dropout_rate=0.0,
        name="efficientnet_small", weights=None, input_shape=(96, 96, 3), classes=10,
        classifier_activation=None,
    )


def _resnet_block(x, filters: int, strides: int):
    y = layers.Conv2D(filters, 3, strides=strides, padding="same",
                      kernel_regularizer=keras.regularizers.l2(1e-4))(x)
    y = layers.Activation("relu")(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same")(y))
    if strides != 1:
        x = layers.Conv2D(filters, 1, strides=strides, padding="same")(x)
    return layers.Activation("relu")(layers.add([x, y]))


def resnet8() -> keras.Model:
    """MLPerf Tiny image classification ResNet-8 (CIFAR-10, 32x32): 16/32/64 filters."""
    inp = keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same")(inp)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        x = _resnet_block(x, filters, strides)
    x = layers.AveragePooling2D(pool_size=x.shape[1])(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(10)(x), name="resnet8")


KERAS_MODELS: tuple[KerasSpec, ...] = (
    KerasSpec("mobilenet_v1_vww", mobilenet_v1, (-1.0, 1.0),
              "keras.applications.MobileNet alpha=0.25, 96x96, 2 classes, logits",
              "the MLPerf Tiny visual-wake-words model (MobileNetV1 0.25, 96x96, person / "
              "no person) as a Keras user builds it; TFLiteConverter.from_keras_model "
              "defaults leave batch -1 in the shape signature"),
    KerasSpec("mobilenet_v2", mobilenet_v2, (-1.0, 1.0),
              "keras.applications.MobileNetV2 alpha=0.35, 96x96, 10 classes, logits",
              "Keras application as users fine-tune it for MCUs; default conversion "
              "(batch -1 in the shape signature)"),
    KerasSpec("mobilenet_v3_small", mobilenet_v3_small, (0.0, 255.0),
              "keras.applications.MobileNetV3Small alpha=0.35 (hard-swish, squeeze-excite), "
              "96x96, built-in Rescaling preprocessing, stock top, 10 classes, logits",
              "Keras application with its preprocessing layer in the graph (takes 0..255 "
              "pixels); default conversion"),
    KerasSpec("efficientnet_small", efficientnet_small, (0.0, 255.0),
              "keras EfficientNet builder width 0.25 depth 0.5 (B0's blocks: MBConv, swish, "
              "squeeze-excite), Rescaling + Normalization preprocessing, 96x96, 10 classes",
              "EfficientNet exactly as keras.applications builds B0, scaled down; "
              "LOGISTIC/MUL swish, MEAN squeeze-excite, default conversion"),
    KerasSpec("resnet8", resnet8, (0.0, 1.0),
              "MLPerf Tiny image-classification ResNet-8, 32x32 CIFAR-10, 10 classes, logits",
              "the MLPerf Tiny IC reference architecture (3 residual stacks, 16/32/64 "
              "filters); default conversion"),
    KerasSpec("ds_cnn_kws", ds_cnn, (-1.0, 1.0),
              "DS-CNN-S keyword spotter (Hello Edge): 49x10 MFCC, conv 10x4/2 + 4 "
              "depthwise-separable blocks, avgpool, 12 keywords, logits",
              "the MLPerf Tiny keyword-spotting reference model as its training script "
              "converts it (from_keras_model, batch -1)"),
    KerasSpec("autoencoder_ad", autoencoder, (-1.0, 1.0),
              "MLPerf Tiny anomaly-detection (ToyADMOS) dense autoencoder 640-128x4-8-128x4-640",
              "the MLPerf Tiny anomaly-detection reference model: all FULLY_CONNECTED with a "
              "-1 batch, as from_keras_model writes it"),
)
