/* Integer fixed-point helpers with the exact rounding of TensorFlow Lite
 * (gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT,
 * TFLite's MultiplyByQuantizedMultiplier in its default double-rounding form).
 * Private to the kernel library. Wrap-around of the int32 products that
 * TFLite tolerates is done in unsigned arithmetic, so nothing is undefined. */
#ifndef TKW_FIXEDPOINT_H
#define TKW_FIXEDPOINT_H

#include <stdint.h>

/* High 32 bits of 2*a*b, rounded to nearest; saturates the one overflow case. */
static inline int32_t tkw_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (0 <= exponent <= 31). */
static inline int32_t tkw_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^shift with int32 wrap-around, as TFLite computes x * (1 << shift). */
static inline int32_t tkw_shift_left_wrap(int32_t x, int32_t shift)
{
    return (int32_t)((uint32_t)x << shift);
}

/* TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^shift, rounded. */
static inline int32_t tkw_mbqm(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t left_shift = shift > 0 ? shift : 0;
    const int32_t right_shift = shift > 0 ? 0 : -shift;
    return tkw_rounding_divide_by_pot(tkw_srdhm(tkw_shift_left_wrap(x, left_shift), multiplier),
                                      right_shift);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent. */
static inline int32_t tkw_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return x * (int32_t)((int32_t)1 << exponent);
}

static inline int32_t tkw_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* TKW_FIXEDPOINT_H */
