"""Requantization constants: TFLite's QuantizeMultiplier and friends, by hand-checked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinykws.codegen import quant


@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (1610612736, 0)),
    (3.0, (1610612736, 2)),
    ((2 ** 31 - 0.5) / 2 ** 31, (1 << 30, 1)),    # rounds up to 2^31: halved, shift + 1
    (2.0 ** -40, (0, 0)),                          # shift below -31 flushes to zero
    (2.0 ** -31, (1 << 30, -30)),
])
def test_quantize_multiplier_known_values(real, expected):
    assert quant.quantize_multiplier(real) == expected


def test_quantize_multiplier_is_accurate():
    rng = np.random.default_rng(0)
    for real in rng.uniform(1e-6, 10.0, 2000):
        m, shift = quant.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (shift - 31) - real) <= 2.0 ** (shift - 32)


def test_round_half_away_from_zero():
    assert [quant.round_half_away(v) for v in (0.5, 1.5, -0.5, -2.5, 2.4)] == [1, 2, -1, -3, 2]


def test_activation_ranges():
    scale, zp = 6.0 / 255.0, -128
    assert quant.activation_range(quant.ACT_NONE, scale, zp) == (-128, 127)
    assert quant.activation_range(quant.ACT_RELU, 0.05, -20) == (-20, 127)
    assert quant.activation_range(quant.ACT_RELU6, scale, zp) == (-128, 127)
    assert quant.activation_range(quant.ACT_RELU6, 0.1, -128) == (-128, -68)
    assert quant.activation_range(quant.ACT_RELU, 0.05, -128) == (-128, 127)


def test_padding_and_output_sizes():
    assert quant.out_size(True, 49, 10, 2, 1) == 25
    assert quant.compute_padding(2, 1, 49, 10, 25) == 4   # total 9: 4 before, 5 after
    assert quant.compute_padding(1, 1, 10, 4, 10) == 1    # total 3: 1 before, 2 after
    assert quant.compute_padding(1, 2, 9, 3, 9) == 2      # dilation widens the window to 5
    assert quant.out_size(False, 12, 3, 2, 3) == 3
    assert quant.compute_padding(2, 3, 12, 3, 3) == 0


def test_softmax_constants():
    k = quant.softmax_constants(1.0, 1.0 / 16)
    assert (k.input_multiplier, k.input_left_shift) == (1 << 30, 23)
    assert k.diff_min == -math.floor(31 * 2 ** 26 / 2 ** 23)


def test_mean_constants_fold_the_count():
    for in_scale, out_scale, count in ((0.05, 0.02, 125), (0.1, 0.1, 65), (0.03, 0.07, 1)):
        m, shift = quant.mean_constants(in_scale, out_scale, count)
        assert m * 2.0 ** (shift - 31) == pytest.approx(in_scale / out_scale / count, rel=1e-6)


def test_add_constants():
    k = quant.add_constants(0.1, 0.05, 0.2)
    assert k.left_shift == 20
    assert k.input1_multiplier * 2.0 ** (k.input1_shift - 31) == pytest.approx(0.5)
    assert k.input2_multiplier * 2.0 ** (k.input2_shift - 31) == pytest.approx(0.25)
    assert k.output_multiplier * 2.0 ** (k.output_shift - 31) == pytest.approx(0.2 / (2 ** 20 * 0.2))
