"""Small Keras models, converted to full-int8 .tflite, for the C engine tests.

Plain builders (no fixtures): tests cache the converted bytes per module.
Every model has random BatchNorm statistics so activations are not trivial.
"""

from __future__ import annotations

import numpy as np


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def randomize_batchnorm(model, seed: int = 0) -> None:
    """Give every BatchNormalization layer random statistics (non-trivial activations)."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, n).astype(np.float32),
                rng.normal(0.0, 0.3, n).astype(np.float32),
                rng.normal(0.0, 0.3, n).astype(np.float32),
                rng.uniform(0.5, 2.0, n).astype(np.float32),
            ])


def to_int8_tflite(model, input_shape: tuple[int, ...], seed: int = 0, n_rep: int = 32, rep_scale: float = 1.0,
                   per_channel_dense: bool = True) -> bytes:
    """Full-integer PTQ (TFLITE_BUILTINS_INT8, int8 input and output)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    rep = rng.normal(0.0, rep_scale, (n_rep, 1) + tuple(input_shape)).astype(np.float32)

    def representative():
        for x in rep:
            yield [x]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if not per_channel_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return bytes(conv.convert())


def ds_cnn_like(filters: int = 16, blocks: int = 2, first_stride=(2, 2), block_strides=None,
                n_classes: int = 12, input_shape=(49, 10, 1), seed: int = 0, softmax: bool = True,
                head: bool = True):
    """A DS-CNN: Conv 10x4 + BN + ReLU, [DW 3x3 + BN + ReLU + Conv 1x1 + BN + ReLU] x blocks,
    global average pooling, dense, softmax (``head=False``: the feature map of the last block)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    block_strides = block_strides or [(1, 1)] * blocks
    x = inp = keras.Input(input_shape)
    x = L.Conv2D(filters, (10, 4), strides=first_stride, padding="same", use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization()(x))
    for stride in block_strides:
        x = L.DepthwiseConv2D((3, 3), strides=stride, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(filters, (1, 1), use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    if head:
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(n_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=2.0))(x)
        x = L.Softmax()(x) if softmax else x
    model = keras.Model(inp, x)
    randomize_batchnorm(model, seed)
    return model


def kitchen_sink(seed: int = 1, softmax: bool = False):
    """Every kernel and option: PAD, strides, SAME and VALID, dilation, depth multiplier,
    max and average pooling, residual ADD, RELU and RELU6, flatten (RESHAPE), dense layers.
    Batch size 1 keeps the shapes static (Flatten becomes one RESHAPE)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((24, 12, 3), batch_size=1)
    x = L.ZeroPadding2D(((1, 2), (2, 1)))(x)
    x = L.Conv2D(8, (3, 3), strides=(2, 1), padding="valid")(x)
    x = L.ReLU(max_value=6.0)(L.BatchNormalization()(x))
    x = L.DepthwiseConv2D((3, 3), depth_multiplier=2, padding="same", dilation_rate=(2, 2), activation="relu")(x)
    y = L.Conv2D(16, (3, 3), padding="same", dilation_rate=(1, 2))(x)
    x = L.ReLU()(L.Add()([x, y]))
    x = L.MaxPooling2D((2, 2), strides=(2, 2), padding="same")(x)
    x = L.DepthwiseConv2D((3, 2), strides=(2, 1), padding="valid")(x)
    x = L.ReLU(max_value=6.0)(L.BatchNormalization()(x))
    x = L.AveragePooling2D((2, 2), strides=(1, 1), padding="same")(x)
    x = L.Conv2D(12, (2, 2), strides=(2, 2), padding="same", activation="relu")(x)
    x = L.MaxPooling2D((2, 1), strides=(1, 1), padding="valid")(x)
    x = L.AveragePooling2D((1, 2), strides=(1, 1), padding="valid")(x)
    x = L.Flatten()(x)
    x = L.Dense(20, activation="relu")(x)
    x = L.Dense(6)(x)
    if softmax:
        x = L.Softmax()(x)
    model = keras.Model(inp, x)
    randomize_batchnorm(model, seed)
    return model


def single_layer(layer, input_shape: tuple[int, ...], seed: int = 0):
    """One Keras layer on a fixed-batch input (one TFLite operator after conversion)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(input_shape, batch_size=1)
    return keras.Model(inp, layer(inp))


def residual(seed: int = 2):
    """Two branches of different scales added (ADD requantization), then ReLU."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((10, 8, 4), batch_size=1)
    a = L.Conv2D(6, (3, 3), padding="same")(x)
    b = L.Conv2D(6, (1, 1), padding="same", activation="relu")(x)
    y = L.ReLU()(L.Add()([a, b]))
    return keras.Model(inp, L.Add()([y, a]))


def strided_chain(seed: int = 4):
    """One long row pipeline with strides larger than windows, tall windows and a final MEAN."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((23, 9, 3), batch_size=1)
    x = L.Conv2D(6, (3, 3), padding="same", activation="relu")(x)
    x = L.Conv2D(8, (1, 1), strides=(2, 2))(x)
    x = L.DepthwiseConv2D((5, 3), strides=(3, 1), padding="same", activation="relu6")(x)
    x = L.MaxPooling2D((1, 2), strides=(2, 2), padding="valid")(x)
    x = L.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5)(x))
