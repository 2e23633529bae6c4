/* Helpers shared by the optimized kernels (tkw_conv_dsp.c, tkw_depthwise_dsp.c,
 * tkw_conv_mve.c); private to the kernel library, included only where
 * TKW_HAVE_DSP is set.
 *
 * One requantization for every optimized kernel. The generator doubles the
 * int16 filter values it pre-unpacks (and the folded biases), so an
 * accumulator holds 2 * acc, which is below 2^31 in magnitude because the
 * generator proved |acc| < 2^30 (fast_requant). Then, with m the channel's
 * multiplier, s its right shift and r = 2^(s-1) + output_offset * 2^s:
 *     TFLite's MultiplyByQuantizedMultiplier(acc, m, -s) + output_offset
 *   = (SMMULR(2 acc, m) + r - [acc < 0]) >> s
 *   = (SMMLAR(2 acc, m, r) + (2 acc >> 31)) >> s,
 * SMMULR rounding half up where TFLite rounds half away from zero, corrected
 * by the sign term (a product that rounds to 0 gets the same result either
 * way, since r - 1 and r differ below 2^s). TKW_ASM_REQUANT is that sequence
 * for the assembler loops, tkw_requant() for C. */
#ifndef TKW_DSP_UTIL_H
#define TKW_DSP_UTIL_H

#include <arm_acle.h>
#include <string.h>

#include "tkw_dsp.h"

/* Unaligned 32-bit load (the cores with the DSP extension allow them). */
static inline int32_t tkw_load32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytes 1 and 3 of x, sign-extended to two int16 (SXTB16 with ROR #8). */
static inline int32_t tkw_sxtb16_odd(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* Low halfwords of a and b: (a.lo, b.lo). */
static inline int32_t tkw_pack_low(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* High halfwords of a and b: (a.hi, b.hi). */
static inline int32_t tkw_pack_high(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

/* round + the high word of a * b, rounded (SMMLAR). */
static inline int32_t tkw_smmlar(int32_t a, int32_t b, int32_t round)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(round));
    return r;
}

/* -1 for a negative x, else 0 (ASR #31 without relying on C's signed shift). */
static inline int32_t tkw_sign(int32_t x)
{
    int32_t r;
    __asm__("asr %0, %1, #31" : "=r"(r) : "r"(x));
    return r;
}

/* The requantization constants of one output channel, as the generator lays them out. */
typedef struct {
    int32_t multiplier, round, right_shift;
} tkw_rq_t;

/* Activation bounds; `narrow` when they are tighter than the int8 range. */
typedef struct {
    int32_t lo, hi, narrow;
} tkw_act_t;

static inline tkw_act_t tkw_act_of(const tkw_conv_params_t *p)
{
    tkw_act_t a;
    a.lo = p->act_min;
    a.hi = p->act_max;
    a.narrow = p->act_min > -128 || p->act_max < 127;
    return a;
}

/* acc2 = 2 * accumulator -> the int8 output (see the header comment). */
static inline int8_t tkw_requant(int32_t acc2, const int32_t *rq, tkw_act_t a)
{
    int32_t x = tkw_smmlar(acc2, rq[0], rq[1]) + tkw_sign(acc2);
    x = __ssat(x >> rq[2], 8);
    if (a.narrow) {
        x = x < a.lo ? a.lo : x;
        x = x > a.hi ? a.hi : x;
    }
    return (int8_t)x;
}

/* The same in assembler: accumulator ACC, constants in registers M, R, S; the
 * int8-range result in DST (which may be R). Five instructions with the store. */
#define TKW_ASM_REQUANT(DST, ACC, M, R, S)                                                                        \
    "smmlar " DST ", " ACC ", " M ", " R "\n\t"                                                                \
    "add    " DST ", " DST ", " ACC ", asr #31\n\t"                                                            \
    "asr    " DST ", " DST ", " S "\n\t"                                                                       \
    "ssat   " DST ", #8, " DST "\n\t"

#endif /* TKW_DSP_UTIL_H */
