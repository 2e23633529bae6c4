"""DS-CNN builder from presets (Hello Edge / ML-KWS-for-MCU sizes).

One standard convolution, then depthwise separable blocks (depthwise 3x3 ->
BN -> ReLU -> pointwise 1x1 -> BN -> ReLU), global average pooling, one
dense layer and a softmax. Padding is SAME everywhere, except in the
streaming presets (``time_padding="valid"``): there every layer is VALID in
time and SAME in frequency (an explicit zero PAD in frequency before each
VALID conv), so an output row depends only on the input rows under the
kernel and a stream can compute each row once (tinykws.codegen.incremental).
"""

from __future__ import annotations

import dataclasses

from tinykws.config import ConvSpec, FeatureConfig, ModelConfig, StreamConfig
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
    # ds-cnn-s for always-on streaming: VALID in time (see the module docstring); one second gives
    # 20 rows after the first conv and 12 after the last depthwise, 1.66 M MACs per full window
    "ds-cnn-s-stream": ModelConfig(
        name="ds-cnn-s-stream",
        first=ConvSpec(64, (10, 4), (2, 2)),
        ds_filters=(64,) * 4,
        ds_strides=((1, 1),) * 4,
        time_padding="valid",
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
    check_model_config(model_cfg, feature_cfg)
    inputs = keras.Input(shape=(feature_cfg.n_frames, feature_cfg.n_mfcc, 1), name="mfcc")
    x, padding = _freq_pad(inputs, model_cfg, model_cfg.first.kernel, model_cfg.first.stride, "conv")
    x = layers.Conv2D(model_cfg.first.filters, model_cfg.first.kernel, strides=model_cfg.first.stride,
                      padding=padding, use_bias=False, kernel_regularizer=reg, name="conv")(x)
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


TIME_PADDINGS = ("same", "valid")


def check_model_config(model_cfg: ModelConfig, feature_cfg: FeatureConfig) -> None:
    """Refuse, with the reason, a configuration the builder cannot make."""
    if model_cfg.time_padding not in TIME_PADDINGS:
        raise InputError(f"model.time_padding must be one of {', '.join(TIME_PADDINGS)}, "
                         f"got {model_cfg.time_padding!r}")
    if model_cfg.time_padding == "valid":
        if model_cfg.kind != "ds-cnn":
            raise InputError(f"time_padding 'valid' is built for ds-cnn models only, not {model_cfg.kind!r}")
        rows = time_rows(model_cfg, feature_cfg.n_frames)
        if rows[-1] < 1:
            raise InputError(f"{model_cfg.name}: VALID time padding leaves no output row of "
                             f"{feature_cfg.n_frames} frames (rows per layer {rows})")


def out_rows(n: int, kernel: int, stride: int, time_padding: str) -> int:
    """Output rows in time of one layer over ``n`` input rows: SAME ceil(n / stride), VALID
    (n - kernel) // stride + 1 (the profile counts layers with it too)."""
    return -(-n // stride) if time_padding == "same" else (n - kernel) // stride + 1


def time_rows(model_cfg: ModelConfig, n_frames: int) -> list[int]:
    """Output rows (time) of the first conv and of every depthwise layer for ``n_frames`` input frames."""
    pad = model_cfg.time_padding
    rows = [out_rows(n_frames, model_cfg.first.kernel[0], model_cfg.first.stride[0], pad)]
    for stride in model_cfg.ds_strides:
        rows.append(out_rows(rows[-1], model_cfg.ds_kernel[0], stride[0], pad))
    return rows


def time_stride(model_cfg: ModelConfig) -> int:
    """Frames between two consecutive output rows of the last layer."""
    total = model_cfg.first.stride[0]
    for stride in model_cfg.ds_strides:
        total *= stride[0]
    return total


def stream_config_for(model_cfg: ModelConfig, stream: StreamConfig) -> StreamConfig:
    """The stream config of a new run: a VALID-time model infers every N hops with N a multiple of
    its time stride (so every inference's rows line up with the rows already computed; the
    incremental engine needs that), the largest such N up to today's 5 (DS-CNN-S: 4 hops, 80 ms)."""
    if model_cfg.time_padding != "valid":
        return stream
    stride = time_stride(model_cfg)
    every = max(stride, stream.infer_every_hops // stride * stride)
    return dataclasses.replace(stream, infer_every_hops=every)


def _freq_pad(x, model_cfg: ModelConfig, kernel, stride, name):
    """(tensor, Keras padding): unchanged and "same", or zero-padded in frequency as SAME would and "valid"."""
    from keras import layers

    if model_cfg.time_padding == "same":
        return x, "same"
    width = x.shape[2]
    out = out_rows(width, kernel[1], stride[1], "same")
    total = max((out - 1) * stride[1] + kernel[1] - width, 0)
    if total == 0:
        return x, "valid"
    return layers.ZeroPadding2D(((0, 0), (total // 2, total - total // 2)), name=f"{name}_pad")(x), "valid"


def _conv_bn(x, filters, kernel, stride, reg, name, relu_max=None, activation=True):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg,
                      name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(relu_max, name=f"{name}_relu")(x) if activation else x


def _depthwise_bn(x, model_cfg: ModelConfig, stride, reg, name, relu_max=None):
    from keras import layers

    x, padding = _freq_pad(x, model_cfg, model_cfg.ds_kernel, stride, name)
    x = layers.DepthwiseConv2D(model_cfg.ds_kernel, strides=stride, padding=padding, use_bias=False,
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
