"""Each C kernel alone, in a one-operator model, against TFLite Micro.

The models are single Keras layers converted with full-int8 PTQ, so every
operator option (strides, SAME/VALID, dilation, depth multiplier, fused
RELU/RELU6, pooling windows, softmax input scales) gets its own check on
thousands of random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import codegen_models as cm
from tinykws.codegen.host import CEngine
from tinykws.codegen.bitexact import compare_outputs, random_inputs
from tinykws.verify.engines import TFLMEngine
from tinykws.codegen.graph import parse_graph

N_RANDOM = 1000


def _layers():
    import keras

    L = keras.layers
    return {
        "conv-same": (L.Conv2D(5, (3, 3), padding="same"), (9, 7, 3), "CONV_2D"),
        "conv-valid-stride-relu": (L.Conv2D(4, (3, 2), strides=(2, 3), activation="relu"), (11, 10, 2), "CONV_2D"),
        "conv-same-even-relu6": (L.Conv2D(4, (3, 3), strides=(2, 2), padding="same", activation="relu6"),
                                 (8, 8, 2), "CONV_2D"),
        "conv-dilated-valid": (L.Conv2D(3, (2, 3), dilation_rate=(2, 3)), (9, 12, 2), "CONV_2D"),
        "conv-dilated-same": (L.Conv2D(3, (3, 3), dilation_rate=(2, 2), padding="same", activation="relu"),
                              (7, 9, 2), "CONV_2D"),
        "conv-pointwise-nobias": (L.Conv2D(6, (1, 1), use_bias=False), (5, 4, 7), "CONV_2D"),
        "dw-multiplier": (L.DepthwiseConv2D((3, 3), depth_multiplier=3, padding="same"), (6, 5, 2),
                          "DEPTHWISE_CONV_2D"),
        "dw-stride-relu": (L.DepthwiseConv2D((2, 4), strides=(2, 2), padding="same", activation="relu"),
                           (9, 8, 3), "DEPTHWISE_CONV_2D"),
        "dw-dilated-relu6": (L.DepthwiseConv2D((3, 3), dilation_rate=(2, 1), activation="relu6"), (9, 6, 4),
                             "DEPTHWISE_CONV_2D"),
        "maxpool-same": (L.MaxPooling2D((3, 3), strides=(2, 2), padding="same"), (9, 8, 3), "MAX_POOL_2D"),
        "maxpool-valid": (L.MaxPooling2D((2, 3), strides=(1, 2)), (6, 9, 2), "MAX_POOL_2D"),
        "avgpool-same": (L.AveragePooling2D((3, 3), strides=(2, 2), padding="same"), (9, 8, 3), "AVERAGE_POOL_2D"),
        "avgpool-valid": (L.AveragePooling2D((2, 2)), (8, 6, 4), "AVERAGE_POOL_2D"),
        "mean": (L.GlobalAveragePooling2D(), (7, 5, 6), "MEAN"),
        "mean-keepdims": (L.GlobalAveragePooling2D(keepdims=True), (25, 5, 8), "MEAN"),
        "dense": (L.Dense(7), (13,), "FULLY_CONNECTED"),
        "dense-relu-batch": (L.Dense(5, activation="relu"), (4, 6), "FULLY_CONNECTED"),
        "softmax": (L.Softmax(), (10,), "SOFTMAX"),
        "softmax-rows": (L.Softmax(), (3, 8), "SOFTMAX"),
        "pad": (L.ZeroPadding2D(((2, 0), (1, 3))), (4, 5, 3), "PAD"),
    }


LAYER_NAMES = sorted([
    "conv-same", "conv-valid-stride-relu", "conv-same-even-relu6", "conv-dilated-valid", "conv-dilated-same",
    "conv-pointwise-nobias", "dw-multiplier", "dw-stride-relu", "dw-dilated-relu6", "maxpool-same",
    "maxpool-valid", "avgpool-same", "avgpool-valid", "mean", "mean-keepdims", "dense", "dense-relu-batch",
    "softmax", "softmax-rows", "pad"])


def _convert(name: str, rep_scale: float = 1.0, per_channel_dense: bool = True) -> bytes:
    layer, shape, _ = _layers()[name]
    return cm.to_int8_tflite(cm.single_layer(layer, shape), shape, rep_scale=rep_scale,
                             per_channel_dense=per_channel_dense)


def _assert_bit_exact(model: bytes, tmp_path, n: int = N_RANDOM) -> None:
    ours = CEngine(model, tmp_path)
    x = random_inputs(n, ours.input_size, seed=7)
    reference = TFLMEngine(model).run(x)
    report = compare_outputs(ours.run(x), reference)
    assert report.ok, report
    assert len(np.unique(reference, axis=0)) > 1


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_one_operator_bit_exact(name, tmp_path):
    model = _convert(name)
    ops = [op.opcode for op in parse_graph(model).operators]
    assert _layers()[name][2] in ops, ops
    _assert_bit_exact(model, tmp_path)


@pytest.mark.parametrize("rep_scale", [0.05, 3.0, 40.0])
def test_softmax_input_scales(rep_scale, tmp_path):
    """Small and large input scales exercise diff_min and the multiplier's left shift."""
    _assert_bit_exact(_convert("softmax", rep_scale=rep_scale), tmp_path, n=3000)


def test_dense_per_tensor(tmp_path):
    model = _convert("dense", per_channel_dense=False)
    weights = parse_graph(model).tensor(parse_graph(model).operators[0].inputs[1])
    assert len(weights.scales) == 1
    _assert_bit_exact(model, tmp_path)
