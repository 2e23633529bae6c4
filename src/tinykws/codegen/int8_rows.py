"""Rows of int8 layers in numpy, with TensorFlow Lite's integer arithmetic.

The kernels of the incremental reference (tinykws.codegen.incremental): a
lowered layer (its fields and constant arrays, as the C engine gets them)
applied to a block of input rows, giving ``count`` output rows. Rounding is
TFLite's MultiplyByQuantizedMultiplier (SaturatingRoundingDoublingHighMul,
then RoundingDivideByPOT), written from its definition in int64 numpy, not
from the C kernels.
"""

from __future__ import annotations

import numpy as np

from tinykws.codegen.lower import Layer

INT32_MIN = -(1 << 31)


def _wrap_int32(x: np.ndarray) -> np.ndarray:
    return ((x + (1 << 31)) % (1 << 32)) - (1 << 31)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """x * multiplier * 2^(shift - 31), rounded as TFLite does; int64 arrays, broadcast."""
    x, multiplier, shift = (np.asarray(a, np.int64) for a in (x, multiplier, shift))
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    a = _wrap_int32(x << left)
    ab = a * multiplier
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    high = np.where(num >= 0, num // (1 << 31), -((-num) // (1 << 31)))  # C division truncates
    high = np.where((a == INT32_MIN) & (multiplier == INT32_MIN), (1 << 31) - 1, high)
    mask = (np.int64(1) << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def _array(layer: Layer, name: str) -> np.ndarray | None:
    symbol = f"{layer.symbol}_{name}"
    for a in layer.arrays:
        if a.symbol == symbol:
            return np.asarray(a.values, np.int64)
    return None


def _requantize(layer: Layer, acc: np.ndarray) -> np.ndarray:
    """acc [..., out_c] int64 -> int8 with the layer's bias, per-channel multipliers and activation."""
    bias = _array(layer, "bias")
    if bias is not None:
        acc = acc + bias
    out = multiply_by_quantized_multiplier(acc, _array(layer, "multiplier"), _array(layer, "shift"))
    out = out + layer.field("output_offset")
    return np.clip(out, layer.field("act_min"), layer.field("act_max")).astype(np.int8)


def _windows(layer: Layer, rows: np.ndarray, count: int) -> np.ndarray:
    """Input windows [count, out_w, filter_h, filter_w, in_c] of (value + input_offset), taps in the
    width padding contributing 0 (TFLite skips them)."""
    f = {k: layer.field(k) for k in ("in_w", "in_c", "out_w", "filter_h", "filter_w", "stride_h", "stride_w",
                                      "dilation_h", "dilation_w", "pad_left")}
    x = rows.reshape(len(rows), f["in_w"], f["in_c"]).astype(np.int64) + layer.field("input_offset")
    span = (f["out_w"] - 1) * f["stride_w"] + (f["filter_w"] - 1) * f["dilation_w"] + 1
    right = max(span - f["pad_left"] - f["in_w"], 0)
    x = np.pad(x, ((0, 0), (f["pad_left"], right), (0, 0)))  # zero after the offset: no contribution
    ys = (np.arange(count) * f["stride_h"])[:, None] + np.arange(f["filter_h"]) * f["dilation_h"]
    xs = (np.arange(f["out_w"]) * f["stride_w"])[:, None] + np.arange(f["filter_w"]) * f["dilation_w"]
    return x[ys[:, None, :, None], xs[None, :, None, :]]


def conv_rows(layer: Layer, rows: np.ndarray, count: int) -> np.ndarray:
    """CONV_2D: ``count`` output rows [count, out_w, out_c] from the input rows they need."""
    win = _windows(layer, rows, count)
    out_c = layer.field("out_c")
    w = _array(layer, "filter").reshape(out_c, layer.field("filter_h"), layer.field("filter_w"), -1)
    return _requantize(layer, np.einsum("yxhwc,ohwc->yxo", win, w))


def depthwise_rows(layer: Layer, rows: np.ndarray, count: int) -> np.ndarray:
    """DEPTHWISE_CONV_2D: output channel oc reads input channel oc // depth_multiplier."""
    win = np.repeat(_windows(layer, rows, count), layer.field("depth_multiplier"), axis=-1)
    w = _array(layer, "filter").reshape(layer.field("filter_h"), layer.field("filter_w"), layer.field("out_c"))
    return _requantize(layer, np.einsum("yxhwc,hwc->yxc", win, w))


def pad_rows(layer: Layer, rows: np.ndarray, count: int) -> np.ndarray:
    """PAD of whole rows (width and channel padding only; time padding is refused before)."""
    fields = dict(layer.fields)
    dims, before, after = (c_initializer_ints(fields[k]) for k in ("in_dims", "pad_before", "pad_after"))
    x = rows[:count].reshape(count, dims[2], dims[3])
    return np.pad(x, ((0, 0), (before[2], after[2]), (before[3], after[3])),
                  constant_values=int(fields["pad_value"]))


def c_initializer_ints(text: str) -> list[int]:
    """The integers of a C initializer such as ``{1, 49, 10, 1}``."""
    return [int(v) for v in text.strip("{}").split(",")]


def run_rows(layer: Layer, rows: np.ndarray, count: int) -> np.ndarray:
    kernels = {"tkw_conv2d": conv_rows, "tkw_depthwise_conv2d": depthwise_rows, "tkw_pad": pad_rows}
    return kernels[layer.kernel](layer, rows, count)


def mean_finish(layer: Layer, sums: np.ndarray) -> np.ndarray:
    """MEAN over height and width from the int32 sums of the window's values, per channel."""
    count = layer.field("in_h") * layer.field("in_w")
    out = multiply_by_quantized_multiplier(np.asarray(sums, np.int64) - layer.field("input_zero_point") * count,
                                           layer.field("multiplier"), layer.field("shift"))
    return np.clip(out + layer.field("output_zero_point"), -128, 127).astype(np.int8)
