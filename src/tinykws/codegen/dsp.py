"""Constants of the optimized kernels (firmware_templates/engine/tkw_conv_dsp.c,
tkw_depthwise_dsp.c, tkw_conv_mve.c), computed here so that the C only loads
and multiplies:

- ``fast_requant``: whether SMMLAR requantization gives TFLite's results for
  every possible input (a bound from the weights);
- CONV_2D ``filter_pairs``: per output channel one stream: the doubled
  folded bias (five copies), the filter pre-unpacked into int16 pairs of
  doubled values in the order the kernel's columns are packed, then
  multiplier, rounding term (with the output offset) and right shift;
- DEPTHWISE_CONV_2D ``channel_blocks``: per group of four channels the
  doubled folded biases, the requantization constants and the filter columns;
- the work buffer each kernel needs (``work_words``, checked by the kernel).

The doubling lets the kernels feed SMMLAR the accumulator directly (it wants
2 * acc, exact because |acc| < 2^30 is proven); the folded bias
``bias + input_offset * sum(taps)`` lets them multiply raw int8 inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

MAX_FAST_DEPTHWISE_TAPS = 16  # the optimized depthwise kernel keeps one input pointer per tap
FAST_CONV_COLUMNS = 5         # pixels per block of the optimized convolution (COLUMNS in tkw_conv_dsp.c)


@dataclass(frozen=True)
class FastConv:
    """Fields of tkw_conv_params_t for the optimized kernels, their arrays, and the work they need."""

    fields: tuple[tuple[str, str], ...]
    arrays: tuple[object, ...]
    work_bytes: int


def requant_is_fast(w: np.ndarray, bias: np.ndarray, zero_point: int, shifts: np.ndarray,
                    output_zero_point: int) -> bool:
    """SMMLAR requantization gives TFLite's results when every shift is a right
    shift and |accumulator| < 2^30 for every input (bound from the weights);
    the output offset may be added before the rounding shift (as offset * 2^shift)
    when that sum cannot overflow either."""
    x_max = max(abs(-128 - zero_point), abs(127 - zero_point))
    bound = np.abs(bias) + np.abs(w).sum(axis=1) * x_max
    right = -np.minimum(shifts, 0)
    rounding = bound + 2.0 ** (right - 1) + abs(output_zero_point) * 2.0 ** right
    return bool(np.all(shifts <= -1) and np.all(bound < 2 ** 30) and np.all(rounding < 2 ** 31))


def _int32(values: np.ndarray) -> np.ndarray:
    """int64 values as the int32 the C reads (two's complement wrap of the bit pattern)."""
    return ((np.asarray(values, np.int64) + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int64)


def pair_words(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """int16 pairs (low halfword, high halfword) as int32 words, as SXTB16 and SMLAD see them."""
    word = (np.asarray(low, np.int64) & 0xFFFF) | ((np.asarray(high, np.int64) & 0xFFFF) << 16)
    return _int32(word)


def rq_constants(multipliers, shifts, output_zero_point: int) -> np.ndarray:
    """Per channel (multiplier, rounding term with the output offset, right shift)."""
    right = -np.asarray(shifts, np.int64)
    rounding = (np.int64(1) << (right - 1)) + (np.int64(output_zero_point) << right)
    return np.stack([np.asarray(multipliers, np.int64), rounding, right], axis=-1)


def conv_filter_pairs(taps: np.ndarray) -> np.ndarray:
    """[out_c][k] int8 taps -> [out_c][ceil(k/4)][2] words: per group of four the doubled
    pairs (t0, t2) and (t1, t3), zero-padded (tkw_conv_dsp.c's column order)."""
    out_c, k = taps.shape
    groups = -(-k // 4)
    padded = np.zeros((out_c, 4 * groups), np.int64)
    padded[:, :k] = 2 * taps.astype(np.int64)
    g = padded.reshape(out_c, groups, 4)
    return np.stack([pair_words(g[..., 0], g[..., 2]), pair_words(g[..., 1], g[..., 3])], axis=-1).reshape(-1)


def conv_channel_streams(taps: np.ndarray, folded_bias: np.ndarray, multipliers, shifts,
                         output_zero_point: int) -> np.ndarray:
    """Per output channel, in the order the kernel walks them with one pointer: 2 * folded bias once
    per column (one load starts all five accumulators), the filter pairs, multiplier, rounding term,
    right shift."""
    out_c = taps.shape[0]
    rq = rq_constants(multipliers, shifts, output_zero_point)
    bias = np.repeat(2 * np.asarray(folded_bias, np.int64)[:, None], FAST_CONV_COLUMNS, axis=1)
    pairs = conv_filter_pairs(taps).reshape(out_c, -1)
    return _int32(np.concatenate([bias, pairs, rq], axis=1).reshape(-1))


def depthwise_filter_columns(filt: np.ndarray) -> np.ndarray:
    """[filter_h][filter_w][channels] taps -> per group of four channels the filter_w columns
    of doubled int16 pairs down the window rows (tkw_depthwise_dsp.c's column layout)."""
    k_h, k_w, channels = filt.shape
    f = 2 * filt.astype(np.int64).reshape(k_h, k_w, channels // 4, 4)
    columns = []
    for i in range(k_h // 2):
        columns.append(pair_words(f[2 * i], f[2 * i + 1]))                       # [k_w][groups][4]
    if k_h % 2:
        last = f[k_h - 1]
        columns.append(np.stack([pair_words(last[..., 0], last[..., 2]),
                                 pair_words(last[..., 1], last[..., 3])], axis=-1))  # [k_w][groups][2]
    per_column = np.concatenate(columns, axis=-1)                                # [k_w][groups][words]
    return per_column.transpose(1, 0, 2).reshape(channels // 4, -1)             # [groups][k_w * words]


def depthwise_blocks(folded_bias: np.ndarray, multipliers, shifts, output_zero_point: int,
                     filt: np.ndarray) -> np.ndarray:
    """Per group of four channels: doubled folded biases [4], the filter columns, then
    (multiplier, rounding, right shift) [4] (the order the 3x3 loop reads them in)."""
    rq = rq_constants(multipliers, shifts, output_zero_point).reshape(-1, 12)
    biases = 2 * np.asarray(folded_bias, np.int64).reshape(-1, 4)
    return _int32(np.concatenate([biases, depthwise_filter_columns(filt), rq], axis=1).reshape(-1))


MAX_PADDED_ROWS_BYTES = 4096  # above this a convolution stages one im2col window per pixel instead


@dataclass(frozen=True)
class ConvGeometry:
    """What the work buffer of a CONV_2D depends on (tkw_conv_dsp.c: work_words_needed, use_padded_rows)."""

    filter_h: int
    filter_w: int
    in_c: int
    in_w: int
    out_w: int
    stride_w: int
    dilation_w: int
    im2col: bool

    @property
    def k(self) -> int:
        return self.filter_h * self.filter_w * self.in_c

    @property
    def span_is_one_word(self) -> bool:
        """A filter row is one word of input (the usual 10x4 first layer on one channel): no staging."""
        return self.filter_w * self.in_c == 4 and (self.dilation_w == 1 or self.filter_w == 1) \
            and self.in_w * self.in_c >= 4

    @property
    def padded_rows_bytes(self) -> int:
        """The filter_h input rows of an output row with their padding, when a filter row is whole groups."""
        if (self.filter_w * self.in_c) % 4 or (self.dilation_w != 1 and self.filter_w != 1):
            return 0
        width = (self.out_w - 1) * self.stride_w + (self.filter_w - 1) * self.dilation_w + 1
        return self.filter_h * width * self.in_c


def conv_work_words(g: ConvGeometry) -> int:
    """FAST_CONV_COLUMNS columns of ceil(k/4) groups (two words each); for im2col also the padded
    input rows of an output row (when small enough) or one k-byte window."""
    groups = -(-g.k // 4)
    columns = 2 * FAST_CONV_COLUMNS * groups
    if not g.im2col or g.span_is_one_word:
        return columns
    padded = g.padded_rows_bytes
    return columns + ((padded + 3) // 4 if 0 < padded <= MAX_PADDED_ROWS_BYTES else groups)


def depthwise_work_words(channels: int, in_w: int, columns: int, k_h: int) -> int:
    """A whole input row of zero points, then the unpacked input columns of one output row and group."""
    return in_w * channels // 4 + columns * (4 * (k_h // 2) + 2 * (k_h % 2))


def _fields(**kwargs) -> tuple[tuple[str, str], ...]:
    return tuple((k, v if isinstance(v, str) else str(int(v))) for k, v in kwargs.items())


NOT_FAST = _fields(fast_requant=0, filter_pairs="NULL", channel_blocks="NULL", work="NULL", work_words=0)


def fast_conv(array: Callable[[str, str, np.ndarray], object], w: np.ndarray, bias: np.ndarray | None,
              zero_point: int, multipliers, shifts, output_zero_point: int, depthwise: bool,
              depth_multiplier: int, geometry: ConvGeometry, depthwise_columns: int) -> FastConv:
    """The optimized kernels' fields for a CONV_2D or DEPTHWISE_CONV_2D with filter ``w`` (as in the
    .tflite), or NOT_FAST when they would not be used. ``array(name, ctype, values)`` makes a constant."""
    out_c = w.shape[3] if depthwise else w.shape[0]
    taps = w.astype(np.int64).reshape(-1, out_c).T if depthwise else w.astype(np.int64).reshape(out_c, -1)
    b = np.asarray(bias, np.int64) if bias is not None else np.zeros(out_c, np.int64)
    eligible = requant_is_fast(taps, b, zero_point, np.asarray(shifts, np.int64), output_zero_point)
    if depthwise:
        eligible = eligible and depth_multiplier == 1 and out_c % 4 == 0 and taps.shape[1] <= MAX_FAST_DEPTHWISE_TAPS
    if not eligible:
        return FastConv(NOT_FAST, (), 0)
    folded = b - zero_point * taps.sum(axis=1)
    if depthwise:
        blocks = array("channel_blocks", "int32_t",
                       depthwise_blocks(folded, multipliers, shifts, output_zero_point, w[0]))
        words = depthwise_work_words(out_c, geometry.in_w, depthwise_columns, w.shape[1])
        fields = _fields(fast_requant=1, filter_pairs="NULL", channel_blocks=blocks.symbol, work="NULL",
                         work_words=0)
        return FastConv(fields, (blocks,), 4 * words)
    streams = array("filter_pairs", "int32_t",
                    conv_channel_streams(taps, folded, multipliers, shifts, output_zero_point))
    fields = _fields(fast_requant=1, filter_pairs=streams.symbol, channel_blocks="NULL", work="NULL", work_words=0)
    return FastConv(fields, (streams,), 4 * conv_work_words(geometry))
