"""DS-CNN builder from presets (Hello Edge / ML-KWS-for-MCU sizes).

One standard convolution, then depthwise separable blocks (depthwise 3x3 ->
BN -> ReLU -> pointwise 1x1 -> BN -> ReLU), global average pooling, one
dense layer and a softmax. Padding is SAME everywhere.
"""

from __future__ import annotations

import dataclasses

from tinykws.config import ConvSpec, FeatureConfig, ModelConfig
from tinykws.errors import InputError

# Batch-norm moving averages that settle within a few epochs of a small data set
# (Keras' default 0.99 needs ~500 steps: validation looks like chance until then).
BN_MOMENTUM = 0.9

PRESETS: dict[str, ModelConfig] = {
    "ds-cnn-s": ModelConfig(
        name="ds-cnn-s",
        first=ConvSpec(64, (10, 4), (2, 2)),
        ds_filters=(64,) * 4,
        ds_strides=((1, 1),) * 4,
    ),
    "ds-cnn-m": ModelConfig(
        name="ds-cnn-m",
        first=ConvSpec(172, (10, 4), (2, 1)),
        ds_filters=(172,) * 4,
        ds_strides=((2, 2),) + ((1, 1),) * 3,
    ),
    "ds-cnn-l": ModelConfig(
        name="ds-cnn-l",
        first=ConvSpec(276, (10, 4), (2, 1)),
        ds_filters=(276,) * 5,
        ds_strides=((2, 2),) + ((1, 1),) * 4,
    ),
    # MobileNetV2-style inverted residuals at DS-CNN-S's MAC budget
    "mobilenetv2-s": ModelConfig(
        name="mobilenetv2-s",
        first=ConvSpec(26, (10, 4), (2, 2)),
        ds_filters=(26,) * 4,
        ds_strides=((1, 1),) * 4,
        kind="mobilenetv2",
        expansion=3,
    ),
}


def preset(name: str, width: float = 1.0, depth: int | None = None) -> ModelConfig:
    """A preset, optionally scaled in width (channels) and depth (number of DS blocks)."""
    try:
        cfg = PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None
    if width != 1.0:
        cfg = dataclasses.replace(
            cfg,
            first=dataclasses.replace(cfg.first, filters=max(1, round(cfg.first.filters * width))),
            ds_filters=tuple(max(1, round(f * width)) for f in cfg.ds_filters),
        )
    if depth is not None:
        if depth < 1:
            raise InputError(f"depth must be at least 1, got {depth}")
        filters = (cfg.ds_filters + (cfg.ds_filters[-1],) * depth)[:depth]
        strides = (cfg.ds_strides + ((1, 1),) * depth)[:depth]
        cfg = dataclasses.replace(cfg, ds_filters=filters, ds_strides=strides)
    return cfg


def build_model(model_cfg: ModelConfig, feature_cfg: FeatureConfig, n_classes: int):
    """The Keras float model; input (frames, mfcc, 1) normalised features, output softmax."""
    import keras
    from keras import layers

    reg = keras.regularizers.L2(model_cfg.l2) if model_cfg.l2 else None
    relu_max = 6.0 if model_cfg.kind == "mobilenetv2" else None
    inputs = keras.Input(shape=(feature_cfg.n_frames, feature_cfg.n_mfcc, 1), name="mfcc")
    x = layers.Conv2D(model_cfg.first.filters, model_cfg.first.kernel, strides=model_cfg.first.stride,
                      padding="same", use_bias=False, kernel_regularizer=reg, name="conv")(inputs)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name="conv_bn")(x)
    x = layers.ReLU(relu_max, name="conv_relu")(x)
    if model_cfg.dropout_first:
        x = layers.Dropout(model_cfg.dropout_first, name="conv_dropout")(x)
    block = _inverted_residual if model_cfg.kind == "mobilenetv2" else _separable
    for i, (filters, stride) in enumerate(zip(model_cfg.ds_filters, model_cfg.ds_strides), start=1):
        x = block(x, model_cfg, filters, stride, reg, f"ds{i}")
    if model_cfg.dropout_last:
        x = layers.Dropout(model_cfg.dropout_last, name="dropout")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(n_classes, kernel_regularizer=reg, name="logits")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name=model_cfg.name.replace("-", "_"))


def _conv_bn(x, filters, kernel, stride, reg, name, relu_max=None, activation=True):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg,
                      name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(relu_max, name=f"{name}_relu")(x) if activation else x


def _depthwise_bn(x, model_cfg: ModelConfig, stride, reg, name, relu_max=None):
    from keras import layers

    x = layers.DepthwiseConv2D(model_cfg.ds_kernel, strides=stride, padding="same", use_bias=False,
                               depthwise_regularizer=reg, name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(relu_max, name=f"{name}_relu")(x)


def _separable(x, model_cfg: ModelConfig, filters, stride, reg, name):
    """Depthwise 3x3 -> BN -> ReLU -> pointwise 1x1 -> BN -> ReLU."""
    x = _depthwise_bn(x, model_cfg, stride, reg, f"{name}_dw")
    return _conv_bn(x, filters, (1, 1), (1, 1), reg, f"{name}_pw")


def _inverted_residual(x, model_cfg: ModelConfig, filters, stride, reg, name):
    """1x1 expansion -> ReLU6 -> depthwise 3x3 -> ReLU6 -> linear 1x1 projection (+ shortcut)."""
    from keras import layers

    cin = x.shape[-1]
    y = _conv_bn(x, cin * model_cfg.expansion, (1, 1), (1, 1), reg, f"{name}_expand", relu_max=6.0)
    y = _depthwise_bn(y, model_cfg, stride, reg, f"{name}_dw", relu_max=6.0)
    y = _conv_bn(y, filters, (1, 1), (1, 1), reg, f"{name}_project", activation=False)
    if tuple(stride) == (1, 1) and cin == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y
