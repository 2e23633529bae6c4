"""Requantization constants exactly as TensorFlow Lite (Micro) prepares them.

Each function mirrors one of TFLite's prepare-time helpers (QuantizeMultiplier,
CalculateActivationRangeQuantized, ComputePadding, PreprocessSoftmaxScaling,
...), so the generated C only has to do the integer half of each kernel.
Scales arrive as float32 values (as stored in the .tflite) widened to float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinykws.errors import ModelError

INT8_MIN, INT8_MAX = -128, 127

# TFLite fused activation codes (ActivationFunctionType)
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6 = 0, 1, 2, 3
ACTIVATION_NAMES = {ACT_NONE: "NONE", ACT_RELU: "RELU", ACT_RELU_N1_TO_1: "RELU_N1_TO_1", ACT_RELU6: "RELU6"}


def round_half_away(x: float) -> float:
    """std::round: halfway cases away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


MAX_SHIFT = 30  # the C kernels shift a 32-bit accumulator left by at most this much


class QuantizationRangeError(ModelError):
    """A requantization constant the int32 kernels cannot represent (the lowering names the layer)."""


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    if not (math.isfinite(real) and real > 0.0):
        raise QuantizationRangeError(f"requantization multiplier {real!r} (from the scales) is not finite "
                                     "and positive")
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > MAX_SHIFT:
        raise QuantizationRangeError(f"requantization multiplier {real:g} (from the scales) needs a left "
                                     f"shift of {shift}, more than {MAX_SHIFT}")
    return q_fixed, shift


def per_channel_multipliers(input_scale: float, filter_scales: tuple[float, ...], output_scale: float,
                            channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel."""
    scales = filter_scales if len(filter_scales) > 1 else filter_scales * channels
    pairs = [quantize_multiplier(input_scale * s / output_scale) for s in scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def per_tensor_multiplier(input_scale: float, filter_scale: float, output_scale: float) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / output_scale)


def _quantize_f32(value: float, scale: float, zero_point: int) -> int:
    with np.errstate(over="ignore"):
        tmp = float(np.float32(value) / np.float32(scale))
    # a tiny scale puts the bound far outside int8 (inf in float32): the int8 clamp decides anyway
    return int(round_half_away(min(max(tmp, -2.0 ** 31), 2.0 ** 31))) + zero_point


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    lo, hi = INT8_MIN, INT8_MAX
    if activation == ACT_RELU:
        return max(lo, _quantize_f32(0.0, scale, zero_point)), hi
    if activation == ACT_RELU6:
        return max(lo, _quantize_f32(0.0, scale, zero_point)), min(hi, _quantize_f32(6.0, scale, zero_point))
    if activation == ACT_RELU_N1_TO_1:
        return max(lo, _quantize_f32(-1.0, scale, zero_point)), min(hi, _quantize_f32(1.0, scale, zero_point))
    return lo, hi


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """ComputePadding: the leading (top/left) padding of SAME; 0 for VALID shapes."""
    effective = (filter_size - 1) * dilation + 1
    padding = ((out_size - 1) * stride + effective - in_size) // 2
    return max(padding, 0)


def out_size(padding_same: bool, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """ComputeOutSize."""
    effective = (filter_size - 1) * dilation + 1
    if padding_same:
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


@dataclass(frozen=True)
class SoftmaxConstants:
    input_multiplier: int
    input_left_shift: int
    diff_min: int


def softmax_constants(beta: float, input_scale: float) -> SoftmaxConstants:
    """PreprocessSoftmaxScaling and CalculateInputRadius with 5 integer bits (int8 input)."""
    integer_bits = 5
    real = min(beta * input_scale * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    if shift < 0:
        raise QuantizationRangeError(f"SOFTMAX input scale {input_scale:g} with beta {beta:g} is too small "
                                     "(negative input left shift)")
    radius = math.floor(1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << shift))
    return SoftmaxConstants(multiplier, shift, -radius)


@dataclass(frozen=True)
class AddConstants:
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


def add_constants(scale1: float, scale2: float, output_scale: float) -> AddConstants:
    """The int8 ADD prepare step (left shift 20, QuantizeMultiplierSmallerThanOneExp)."""
    left_shift = 20
    twice_max = 2.0 * max(scale1, scale2)
    m1 = quantize_multiplier(scale1 / twice_max)
    m2 = quantize_multiplier(scale2 / twice_max)
    mo = quantize_multiplier(twice_max / ((1 << left_shift) * output_scale))
    return AddConstants(left_shift, m1[0], m1[1], m2[0], m2[1], mo[0], mo[1])


def mean_constants(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """Mean prepare (QuantizeMultiplier of in/out scale) folded with 1/count as
    QuantizedMeanOrSum does at run time."""
    multiplier, shift = quantize_multiplier(input_scale / output_scale)
    extra = min((count.bit_length() - 1), 32, 31 + shift)
    multiplier = (multiplier << extra) // count
    return multiplier, shift - extra

