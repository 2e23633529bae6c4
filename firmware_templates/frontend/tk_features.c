/*
 * tk_features.c: MFCC front end, float32, no allocation.
 * The specification is tinykws/audio/mfcc.py; tk_feature_tables.{h,c} hold
 * every constant, computed in Python from the run's configuration.
 *
 * One frame: the window's int16 samples, windowed as they are read, go
 * through the first FFT stage (radix 4) straight into the digit-reversed
 * order the FFT wants; radix-8 stages (or radix-4 ones, for sizes that are not
 * 4 * 8^a points) finish the half-length complex FFT; one pass over the mel
 * bins splits it into the real spectrum, takes each magnitude and adds it to
 * its two mel filters (kept in registers); log; a DCT on the folded log-mel
 * vector (half the multiplies); normalisation and int8 quantization.
 * The per-frame path calls no libm function but sqrtf (none on Arm FPUs):
 * the logarithm is computed from the float's exponent and a short series, and
 * where the core has fused multiply-add (Cortex-M4F, M7, M33, M55) the
 * products are accumulated with it. Defining TK_FEATURES_PORTABLE selects
 * the C code throughout with logf and separate multiplies and adds, kept for
 * comparison (tinykws.bench).
 */
#include "tk_features.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define TK_FFT_POINTS (TK_FEATURES_FFT_SIZE / 2) /* complex points of the half-length FFT */

/* The FFT's stages, the windowed first stage, the mel pass and the PCM copies
 * in Arm FPU assembly (single precision, FMA, Thumb-2, little-endian: the
 * first stage takes a sample pair low half first; Cortex-M4F, M7, M33, M55);
 * elsewhere, and with TK_FEATURES_PORTABLE, in C. */
#if !defined(TK_FEATURES_PORTABLE) && defined(__thumb2__) && defined(__ARM_FP) && ((__ARM_FP & 4) != 0) && \
    defined(__ARM_FEATURE_FMA) && !defined(__ARM_BIG_ENDIAN)
#define TK_FEATURES_ARM_ASM 1
#endif

/* a * b + c: one fused multiply-add instruction where the FPU has it. */
#if defined(__ARM_FEATURE_FMA) && !defined(TK_FEATURES_PORTABLE)
#define TK_MUL_ADD(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define TK_MUL_ADD(a, b, c) ((a) * (b) + (c))
#endif

#if (TK_FEATURES_OVERLAP_SAMPLES % 2) != 0 || (TK_FEATURES_WINDOW_SAMPLES % 2) != 0
#error "the window is read in sample pairs: the window and its overlap must be even"
#endif

/* The state's size is the one tinykws.audio.frontend.state_bytes reports. */
typedef char tk_features_state_bytes_check[(sizeof(tk_features_t) == TK_FEATURES_STATE_BYTES) ? 1 : -1];

#if !defined(TK_FEATURES_PORTABLE)
/* Natural logarithm of a positive normal float without libm: x = m 2^e with
 * m in [sqrt(1/2), sqrt(2)) (from the bits, no branch: the bias moves the
 * exponent boundary to sqrt(1/2)), ln m = 2 atanh(t), t = (m - 1) / (m + 1),
 * |t| < 0.172, by its odd series to t^9 (truncation below 2e-8); within a few
 * float ulps of logf. */
static float log_positive(float x)
{
    const uint32_t sqrt_half_bits = 0x3F3504F3u; /* sqrt(1/2) */
    uint32_t bits;
    float m, e, t, t2, two_t, series;
    memcpy(&bits, &x, sizeof bits);
    bits += 0x40000000u - sqrt_half_bits; /* exponent field 128 + e, mantissa bits - sqrt(1/2) */
    e = (float)((int32_t)(bits >> 23) - 128);
    bits = (bits & 0x007FFFFFu) + sqrt_half_bits;
    memcpy(&m, &bits, sizeof m);
    t = (m - 1.0f) / (m + 1.0f);
    t2 = t * t;
    two_t = t + t;
    series = TK_MUL_ADD(TK_MUL_ADD(TK_MUL_ADD(t2, 1.0f / 9.0f, 1.0f / 7.0f), t2, 1.0f / 5.0f), t2, 1.0f / 3.0f);
    return TK_MUL_ADD(e, 0.693147181f, TK_MUL_ADD(two_t * t2, series, two_t));
}
#endif

/* sqrt(x) for x >= 0: the FPU instruction (no errno path) where it is known to be there. */
static inline float root(float x)
{
#if defined(TK_FEATURES_ARM_ASM)
    float r;
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
    return r;
#else
    return sqrtf(x);
#endif
}

/* The first FFT stage reads the frame's samples through the window, whose
 * values tk_window holds in the order the groups read them: PCM(q) is sample
 * q from a group's first point as float, WINDOWED(q, i) the same times the
 * group's window value i, so that a sum u w + v becomes one fused multiply-add. */
#define TK_PCM(q) ((float)pcm[q])
#define TK_WINDOWED(q, i) (TK_PCM(q) * window[i])

#if !TK_FEATURES_FFT_RADIX8
/* First stage, radix 2 (log2 of the point count odd): group g reads points
 * m and m + M/2 (m = tk_fft_first[g]) and writes their sum and difference to
 * positions 2g and 2g + 1, which is bit-reversed order. */
static void fft_window_radix2(float *x, const int16_t *samples)
{
    enum { HALF = TK_FEATURES_FFT_SIZE / 2 }; /* samples from point m to point m + M/2 */
    const uint16_t *first = tk_fft_first;
    const float *window = tk_window;
    float *end = x + 2 * TK_FFT_POINTS;
    for (; x < end; x += 4, window += 4) {
        const int16_t *pcm = samples + 2 * *first++;
        const float br = TK_WINDOWED(HALF, 2);
        const float bi = TK_WINDOWED(HALF + 1, 3);
        x[0] = TK_MUL_ADD(TK_PCM(0), window[0], br);
        x[1] = TK_MUL_ADD(TK_PCM(1), window[1], bi);
        x[2] = TK_MUL_ADD(TK_PCM(0), window[0], -br);
        x[3] = TK_MUL_ADD(TK_PCM(1), window[1], -bi);
    }
}
#endif

/* The four outputs of a radix-4 butterfly, X0..X3 into y0..y3, from
 * s02 = F0 + t2, d02 = F0 - t2, s13 = t1 + t3, d13 = t1 - t3 (complex, re and im). */
static inline void butterfly4_outputs(const float *s02, const float *d02, const float *s13, const float *d13,
                                      float *y0, float *y1, float *y2, float *y3)
{
    y0[0] = s02[0] + s13[0];
    y0[1] = s02[1] + s13[1];
    y1[0] = d02[0] + d13[1];
    y1[1] = d02[1] - d13[0];
    y2[0] = s02[0] - s13[0];
    y2[1] = s02[1] - s13[1];
    y3[0] = d02[0] - d13[1];
    y3[1] = d02[1] + d13[0];
}

/* A block of a stage in C: `butterfly` for k = 0 .. h-1, with the block's
 * twiddles from w (radix - 1 complex values per k, from k = 1; those of k = 0
 * are 1). */
static inline void fft_block_portable(float *x, int h, const float *w, int radix,
                                      void (*butterfly)(float *, int, const float *))
{
    static const float unit[14] = {1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f};
    int k;
    butterfly(x, h, unit);
    for (k = 1; k < h; ++k) {
        butterfly(x + 2 * k, h, w + 2 * (radix - 1) * (k - 1));
    }
}

/* The stages after the first: blocks of h points combined `radix` at a
 * time into blocks of radix * h until one block; the twiddles of all of them
 * follow each other in tk_fft_twiddle. */
static void fft_stages(float *x, int h, int radix, void (*block)(float *, int, const float *))
{
    const float *w = tk_fft_twiddle;
    int start;
    for (; h < TK_FFT_POINTS; h *= radix) {
        for (start = 0; start < TK_FFT_POINTS; start += radix * h) {
            block(x + 2 * start, h, w);
        }
        w += 2 * (radix - 1) * (h - 1);
    }
}

/* One radix-4 butterfly on x[0], x[2h], x[4h], x[6h] (floats; points 0, h, 2h, 3h).
 * In bit-reversed order these hold the sub-transforms F0, F2, F1, F3, so
 * X[k + qh] = t0 + (-i)^q t1 + (-1)^q t2 + i^q t3 with t1 = W^k F1,
 * t2 = W^2k F2, t3 = W^3k F3; w holds W^k, W^2k, W^3k interleaved. */
static inline void fft_butterfly4(float *x, int h, const float *w)
{
    float *p1 = x + 2 * h;
    float *p2 = p1 + 2 * h;
    float *p3 = p2 + 2 * h;
    const float t1r = TK_MUL_ADD(w[0], p2[0], -w[1] * p2[1]);
    const float t1i = TK_MUL_ADD(w[0], p2[1], w[1] * p2[0]);
    const float t2r = TK_MUL_ADD(w[2], p1[0], -w[3] * p1[1]);
    const float t2i = TK_MUL_ADD(w[2], p1[1], w[3] * p1[0]);
    const float t3r = TK_MUL_ADD(w[4], p3[0], -w[5] * p3[1]);
    const float t3i = TK_MUL_ADD(w[4], p3[1], w[5] * p3[0]);
    const float s02[2] = {x[0] + t2r, x[1] + t2i};
    const float d02[2] = {x[0] - t2r, x[1] - t2i};
    const float s13[2] = {t1r + t3r, t1i + t3i};
    const float d13[2] = {t1r - t3r, t1i - t3i};
    butterfly4_outputs(s02, d02, s13, d13, x, p1, p2, p3);
}

#if defined(TK_FEATURES_ARM_ASM)
/* The adds of a radix-4 butterfly in Arm FPU assembly, shared by the first
 * stage and the radix-4 stages: F0, t1, t2, t3 in s0-s1, s2-s3, s4-s5, s6-s7
 * (t = the twiddled sub-transforms, F1 F2 F3 in the first stage) ->
 * X0 .. X3 in s8-s15 (d4-d7), through s16-s23. */
#define TK_ASM_RADIX4_SUMS                                                    \
    "vadd.f32 s16, s0, s4\n\t"  /* s02 = F0 + t2 */                           \
    "vadd.f32 s17, s1, s5\n\t"                                                \
    "vsub.f32 s18, s0, s4\n\t"  /* d02 = F0 - t2 */                           \
    "vsub.f32 s19, s1, s5\n\t"                                                \
    "vadd.f32 s20, s2, s6\n\t"  /* s13 = t1 + t3 */                           \
    "vadd.f32 s21, s3, s7\n\t"                                                \
    "vsub.f32 s22, s2, s6\n\t"  /* d13 = t1 - t3 */                           \
    "vsub.f32 s23, s3, s7\n\t"                                                \
    "vadd.f32 s8, s16, s20\n\t" /* X0 = s02 + s13 */                          \
    "vadd.f32 s9, s17, s21\n\t"                                               \
    "vadd.f32 s10, s18, s23\n\t" /* X1 = d02 - i d13 */                       \
    "vsub.f32 s11, s19, s22\n\t"                                              \
    "vsub.f32 s12, s16, s20\n\t" /* X2 = s02 - s13 */                         \
    "vsub.f32 s13, s17, s21\n\t"                                              \
    "vsub.f32 s14, s18, s23\n\t" /* X3 = d02 + i d13 */                       \
    "vadd.f32 s15, s19, s22\n\t"
#define TK_ASM_RADIX4_CLOBBERS                                                                              \
    "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", \
        "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23"
#endif

#if defined(TK_FEATURES_ARM_ASM) && TK_FEATURES_FFT_SIZE <= 2048
/* One complex point's samples (a word at pcm + offset) -> two FPU registers, low half first. */
#define TK_ASM_PCM_PAIR(offset, registers)           \
    "ldr %[pair], [%[pcm]" offset "]\n\t"           \
    "asr %[m], %[pair], #16\n\t"                    \
    "vmov " registers ", %[pair], %[m]\n\t"

/* fft_window_radix4 in Arm FPU assembly (the sample offsets fit ldr up to
 * FFT_SIZE 2048): one word load per sample pair, split with asr and moved by
 * one vmov, converted in place (vcvt .s16 reads the low half); one vldmia
 * for the group's eight window values; its eight outputs with one vstmia. */
static void fft_window_radix4(float *x, const int16_t *samples)
{
    const uint16_t *first = tk_fft_first;
    int n = TK_FFT_POINTS / 4;
    const float *window = tk_window;
    uint32_t m, pcm, pair;
    __asm__ volatile(
        "1:\n\t"
        "ldrh %[m], [%[first]], #2\n\t"
        "add %[pcm], %[samples], %[m], lsl #2\n\t"       /* &samples[2m] */
        "vldmia %[window]!, {s8-s15}\n\t"                 /* the group's window values */
        TK_ASM_PCM_PAIR("", "s0, s1")                      /* F0 */
        TK_ASM_PCM_PAIR(", %[sq]", "s2, s3")               /* F1 */
        TK_ASM_PCM_PAIR(", %[sq2]", "s4, s5")              /* F2 */
        TK_ASM_PCM_PAIR(", %[sq3]", "s6, s7")              /* F3 */
        "vcvt.f32.s16 s0, s0, #0\n\t"
        "vcvt.f32.s32 s1, s1\n\t"
        "vcvt.f32.s16 s2, s2, #0\n\t"
        "vcvt.f32.s32 s3, s3\n\t"
        "vcvt.f32.s16 s4, s4, #0\n\t"
        "vcvt.f32.s32 s5, s5\n\t"
        "vcvt.f32.s16 s6, s6, #0\n\t"
        "vcvt.f32.s32 s7, s7\n\t"
        "vmul.f32 s0, s0, s8\n\t"
        "vmul.f32 s1, s1, s9\n\t"
        "vmul.f32 s2, s2, s10\n\t"
        "vmul.f32 s3, s3, s11\n\t"
        "vmul.f32 s4, s4, s12\n\t"
        "vmul.f32 s5, s5, s13\n\t"
        "vmul.f32 s6, s6, s14\n\t"
        "vmul.f32 s7, s7, s15\n\t"
        TK_ASM_RADIX4_SUMS
        "vstmia %[x]!, {s8-s15}\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [x] "+r"(x), [first] "+r"(first), [n] "+r"(n), [window] "+r"(window), [m] "=&r"(m), [pcm] "=&r"(pcm),
          [pair] "=&r"(pair)
        : [samples] "r"(samples), [sq] "n"(TK_FEATURES_FFT_SIZE / 2), [sq2] "n"(TK_FEATURES_FFT_SIZE),
          [sq3] "n"(3 * TK_FEATURES_FFT_SIZE / 2)
        : TK_ASM_RADIX4_CLOBBERS);
}
#else
/* First stage, radix 4 (log2 of the point count even): group g reads the
 * points F_q = m + q M/4 (m = tk_fft_first[g]) and writes their 4-point DFT
 * to positions 4g .. 4g + 3, which is bit-reversed order. */
static void fft_window_radix4(float *x, const int16_t *samples)
{
    enum { QUARTER = TK_FEATURES_FFT_SIZE / 4 }; /* samples from point m to point m + M/4 */
    const uint16_t *first;
    const float *window = tk_window;
    for (first = tk_fft_first; first < tk_fft_first + TK_FFT_POINTS / 4; ++first, x += 8, window += 8) {
        const int16_t *pcm = samples + 2 * *first;
        const float f2r = TK_WINDOWED(2 * QUARTER, 4);
        const float f2i = TK_WINDOWED(2 * QUARTER + 1, 5);
        const float f3r = TK_WINDOWED(3 * QUARTER, 6);
        const float f3i = TK_WINDOWED(3 * QUARTER + 1, 7);
        const float s02[2] = {TK_MUL_ADD(TK_PCM(0), window[0], f2r), TK_MUL_ADD(TK_PCM(1), window[1], f2i)};
        const float d02[2] = {TK_MUL_ADD(TK_PCM(0), window[0], -f2r), TK_MUL_ADD(TK_PCM(1), window[1], -f2i)};
        const float s13[2] = {TK_MUL_ADD(TK_PCM(QUARTER), window[2], f3r),
                              TK_MUL_ADD(TK_PCM(QUARTER + 1), window[3], f3i)};
        const float d13[2] = {TK_MUL_ADD(TK_PCM(QUARTER), window[2], -f3r),
                              TK_MUL_ADD(TK_PCM(QUARTER + 1), window[3], -f3i)};
        butterfly4_outputs(s02, d02, s13, d13, x, x + 2, x + 4, x + 6);
    }
}
#endif

#if !TK_FEATURES_FFT_RADIX8
#if defined(TK_FEATURES_ARM_ASM)
/* fft_butterfly4 for k = 0 .. h-1 of one block, in Arm FPU assembly: each
 * complex value moves with one 64-bit load or store (vldr / vstmia of a
 * d register) and the three twiddles of a k with one vldmia; k = 0 without
 * products; the same operations as fft_butterfly4 (products by FMA:
 * t = w_r f_r, then t -= w_i f_i). */
static void fft_radix4_block(float *x, int h, const float *w)
{
    float *p1 = x + 2 * h;
    float *p2 = p1 + 2 * h;
    float *p3 = p2 + 2 * h;
    int n = h - 1;
    __asm__ volatile(
        "vldr d0, [%[p0]]\n\t"                /* k = 0: F0, F2, F1, F3 are t0 .. t3 */
        "vldr d2, [%[p1]]\n\t"
        "vldr d1, [%[p2]]\n\t"
        "vldr d3, [%[p3]]\n\t"
        TK_ASM_RADIX4_SUMS
        "vstmia %[p0]!, {d4}\n\t"
        "vstmia %[p1]!, {d5}\n\t"
        "vstmia %[p2]!, {d6}\n\t"
        "vstmia %[p3]!, {d7}\n\t"
        "1:\n\t"
        "vldr d0, [%[p0]]\n\t"                /* F0 -> s0, s1 */
        "vldr d4, [%[p1]]\n\t"                /* F2 -> s8, s9 */
        "vldr d5, [%[p2]]\n\t"                /* F1 -> s10, s11 */
        "vldr d6, [%[p3]]\n\t"                /* F3 -> s12, s13 */
        "vldmia %[w]!, {s16-s21}\n\t"         /* W^k, W^2k, W^3k */
        "vmul.f32 s2, s16, s10\n\t"           /* t1 = W^k F1 -> s2, s3 */
        "vmul.f32 s3, s16, s11\n\t"
        "vfms.f32 s2, s17, s11\n\t"
        "vfma.f32 s3, s17, s10\n\t"
        "vmul.f32 s4, s18, s8\n\t"            /* t2 = W^2k F2 -> s4, s5 */
        "vmul.f32 s5, s18, s9\n\t"
        "vfms.f32 s4, s19, s9\n\t"
        "vfma.f32 s5, s19, s8\n\t"
        "vmul.f32 s6, s20, s12\n\t"           /* t3 = W^3k F3 -> s6, s7 */
        "vmul.f32 s7, s20, s13\n\t"
        "vfms.f32 s6, s21, s13\n\t"
        "vfma.f32 s7, s21, s12\n\t"
        TK_ASM_RADIX4_SUMS
        "vstmia %[p0]!, {d4}\n\t"
        "vstmia %[p1]!, {d5}\n\t"
        "vstmia %[p2]!, {d6}\n\t"
        "vstmia %[p3]!, {d7}\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b"
        : [p0] "+r"(x), [p1] "+r"(p1), [p2] "+r"(p2), [p3] "+r"(p3), [w] "+r"(w), [n] "+r"(n)
        :
        : TK_ASM_RADIX4_CLOBBERS);
}
#else
/* fft_butterfly4 for k = 0 .. h-1 of one block (points k, h + k, 2h + k, 3h + k). */
static void fft_radix4_block(float *x, int h, const float *w)
{
    fft_block_portable(x, h, w, 4, fft_butterfly4);
}
#endif
#endif

#if TK_FEATURES_FFT_RADIX8
/* 8-point DFT of t[0..15] (8 interleaved complex values) into y, y[2s] at s:
 * u_j = t_j + t_j+4 and v_j = (t_j - t_j+4) W8^j, then a 4-point DFT of each
 * (X[2r] from u, X[2r+1] from v). */
static inline void dft8(const float *t, float *y)
{
    const float c = 0.707106781f; /* 1 / sqrt(2) */
    float u[8], v[8];
    int j;
    _Pragma("GCC unroll 4")
    for (j = 0; j < 4; ++j) {
        u[2 * j] = t[2 * j] + t[2 * j + 8];
        u[2 * j + 1] = t[2 * j + 1] + t[2 * j + 9];
        v[2 * j] = t[2 * j] - t[2 * j + 8];
        v[2 * j + 1] = t[2 * j + 1] - t[2 * j + 9];
    }
    {
        const float v1r = (v[2] + v[3]) * c; /* v1 W8 = ((r + i) + i (i - r)) / sqrt 2 */
        const float v1i = (v[3] - v[2]) * c;
        const float v3r = (v[7] - v[6]) * c; /* v3 W8^3 = ((i - r) - i (r + i)) / sqrt 2 */
        const float v3i = -((v[6] + v[7]) * c);
        const float s0[2] = {u[0] + u[4], u[1] + u[5]};
        const float d0[2] = {u[0] - u[4], u[1] - u[5]};
        const float s1[2] = {u[2] + u[6], u[3] + u[7]};
        const float d1[2] = {u[2] - u[6], u[3] - u[7]};
        const float g0[2] = {v[0] + v[5], v[1] - v[4]}; /* v0 + v2 W8^2, W8^2 = -i */
        const float g1[2] = {v[0] - v[5], v[1] + v[4]};
        const float h0[2] = {v1r + v3r, v1i + v3i};
        const float h1[2] = {v1r - v3r, v1i - v3i};
        butterfly4_outputs(s0, d0, s1, d1, y, y + 4, y + 8, y + 12);
        butterfly4_outputs(g0, g1, h0, h1, y + 2, y + 6, y + 10, y + 14);
    }
}

/* One radix-8 butterfly on the points 0, h, .., 7h from x: F_q of the
 * sub-transforms in natural order, t_q = W^qk F_q (w: W^k .. W^7k), then dft8;
 * X[k + s h] = y_s. */
static inline void fft_butterfly8(float *x, int h, const float *w)
{
    float t[16], y[16];
    int q;
    t[0] = x[0];
    t[1] = x[1];
    _Pragma("GCC unroll 8")
    for (q = 1; q < 8; ++q) {
        const float *f = x + 2 * h * q;
        const float *wq = w + 2 * (q - 1);
        t[2 * q] = TK_MUL_ADD(wq[0], f[0], -wq[1] * f[1]);
        t[2 * q + 1] = TK_MUL_ADD(wq[0], f[1], wq[1] * f[0]);
    }
    dft8(t, y);
    _Pragma("GCC unroll 8")
    for (q = 0; q < 8; ++q) {
        x[2 * h * q] = y[2 * q];
        x[2 * h * q + 1] = y[2 * q + 1];
    }
}

#if defined(TK_FEATURES_ARM_ASM) && TK_FFT_POINTS <= 256
/* Y0 .. Y3 of a 4-point DFT from s02, d02, s13, d13 in s0-s1 .. s6-s7:
 * Y0 = s02 + s13, Y1 = d02 - i d13, Y2 = s02 - s13, Y3 = d02 + i d13. */
#define TK_ASM_DFT4_OUTPUTS(y0r, y0i, y1r, y1i, y2r, y2i, y3r, y3i) \
    "vadd.f32 " y0r ", s0, s4\n\t"                                  \
    "vadd.f32 " y0i ", s1, s5\n\t"                                  \
    "vadd.f32 " y1r ", s2, s7\n\t"                                  \
    "vsub.f32 " y1i ", s3, s6\n\t"                                  \
    "vsub.f32 " y2r ", s0, s4\n\t"                                  \
    "vsub.f32 " y2i ", s1, s5\n\t"                                  \
    "vsub.f32 " y3r ", s2, s7\n\t"                                  \
    "vadd.f32 " y3i ", s3, s6\n\t"

/* dft8 in Arm FPU assembly on t_q in s(2q), s(2q+1) -> X_s in d(8 + s), with
 * s0-s7 and s16-s31 as scratch; the same operations as dft8 (`c` = 1/sqrt 2). */
#define TK_ASM_DFT8                                                                             \
    "vadd.f32 s16, s0, s8\n\t"   /* u_j = t_j + t_j+4 -> s16..s23, v_j = t_j - t_j+4 -> s8..s15 */ \
    "vadd.f32 s17, s1, s9\n\t"                                                                  \
    "vsub.f32 s8, s0, s8\n\t"                                                                   \
    "vsub.f32 s9, s1, s9\n\t"                                                                   \
    "vadd.f32 s18, s2, s10\n\t"                                                                 \
    "vadd.f32 s19, s3, s11\n\t"                                                                 \
    "vsub.f32 s10, s2, s10\n\t"                                                                 \
    "vsub.f32 s11, s3, s11\n\t"                                                                 \
    "vadd.f32 s20, s4, s12\n\t"                                                                 \
    "vadd.f32 s21, s5, s13\n\t"                                                                 \
    "vsub.f32 s12, s4, s12\n\t"                                                                 \
    "vsub.f32 s13, s5, s13\n\t"                                                                 \
    "vadd.f32 s22, s6, s14\n\t"                                                                 \
    "vadd.f32 s23, s7, s15\n\t"                                                                 \
    "vsub.f32 s14, s6, s14\n\t"                                                                 \
    "vsub.f32 s15, s7, s15\n\t"                                                                 \
    "vldr s2, [%[c]]\n\t"                                                                       \
    "vadd.f32 s0, s10, s11\n\t"  /* v1 W8 */                                                    \
    "vsub.f32 s1, s11, s10\n\t"                                                                 \
    "vmul.f32 s10, s0, s2\n\t"                                                                  \
    "vmul.f32 s11, s1, s2\n\t"                                                                  \
    "vsub.f32 s0, s15, s14\n\t"  /* v3 W8^3 */                                                  \
    "vadd.f32 s1, s14, s15\n\t"                                                                 \
    "vmul.f32 s14, s0, s2\n\t"                                                                  \
    "vnmul.f32 s15, s1, s2\n\t"                                                                 \
    "vadd.f32 s0, s16, s20\n\t"  /* u: s02 = u0 + u2, d02, s13 = u1 + u3, d13 -> s0..s7 */      \
    "vadd.f32 s1, s17, s21\n\t"                                                                 \
    "vsub.f32 s2, s16, s20\n\t"                                                                 \
    "vsub.f32 s3, s17, s21\n\t"                                                                 \
    "vadd.f32 s4, s18, s22\n\t"                                                                 \
    "vadd.f32 s5, s19, s23\n\t"                                                                 \
    "vsub.f32 s6, s18, s22\n\t"                                                                 \
    "vsub.f32 s7, s19, s23\n\t"                                                                 \
    TK_ASM_DFT4_OUTPUTS("s16", "s17", "s20", "s21", "s24", "s25", "s28", "s29") /* X0 X2 X4 X6 */       \
    "vadd.f32 s0, s8, s13\n\t"   /* v: g0 = v0 - i v2, g1 = v0 + i v2, h0, h1 -> s0..s7 */      \
    "vsub.f32 s1, s9, s12\n\t"                                                                  \
    "vsub.f32 s2, s8, s13\n\t"                                                                  \
    "vadd.f32 s3, s9, s12\n\t"                                                                  \
    "vadd.f32 s4, s10, s14\n\t"                                                                 \
    "vadd.f32 s5, s11, s15\n\t"                                                                 \
    "vsub.f32 s6, s10, s14\n\t"                                                                 \
    "vsub.f32 s7, s11, s15\n\t"                                                                 \
    TK_ASM_DFT4_OUTPUTS("s18", "s19", "s22", "s23", "s26", "s27", "s30", "s31") /* X1 X3 X5 X7 */

/* t_q = W^qk F_q: F_q (64-bit load to s30, s31) times the twiddle in `wr`, `wi` into `t`. */
#define TK_ASM_TWIDDLE(point, t_re, t_im, wr, wi) \
    "vldr d15, [" point "]\n\t"                   \
    "vmul.f32 " t_re ", s30, " wr "\n\t"          \
    "vmul.f32 " t_im ", s31, " wr "\n\t"          \
    "vfms.f32 " t_re ", s31, " wi "\n\t"          \
    "vfma.f32 " t_im ", s30, " wi "\n\t"

/* One block of a radix-8 stage whose point stride is S bytes (S2 = 2S, S3 =
 * 3S, literals): points 0..3 from %[p0], 4..7 from %[p4] = %[p0] + 4S. k = 0
 * without products, then per k one vldmia for the seven twiddles and one
 * 64-bit load and store per point. */
#define TK_ASM_RADIX8_BLOCK(S, S2, S3)                                                                      \
    __asm__ volatile(                                                                                      \
        "vldr d0, [%[p0]]\n\t"                                                                             \
        "vldr d1, [%[p0], #" S "]\n\t"                                                                     \
        "vldr d2, [%[p0], #" S2 "]\n\t"                                                                    \
        "vldr d3, [%[p0], #" S3 "]\n\t"                                                                    \
        "vldr d4, [%[p4]]\n\t"                                                                             \
        "vldr d5, [%[p4], #" S "]\n\t"                                                                     \
        "vldr d6, [%[p4], #" S2 "]\n\t"                                                                    \
        "vldr d7, [%[p4], #" S3 "]\n\t"                                                                    \
        "b 2f\n\t"                                                                                         \
        "1:\n\t"                                                                                           \
        "vldmia %[w]!, {s16-s29}\n\t"                                                                      \
        "vldr d0, [%[p0]]\n\t"                                                                             \
        TK_ASM_TWIDDLE("%[p0], #" S, "s2", "s3", "s16", "s17")                                             \
        TK_ASM_TWIDDLE("%[p0], #" S2, "s4", "s5", "s18", "s19")                                            \
        TK_ASM_TWIDDLE("%[p0], #" S3, "s6", "s7", "s20", "s21")                                            \
        TK_ASM_TWIDDLE("%[p4]", "s8", "s9", "s22", "s23")                                                  \
        TK_ASM_TWIDDLE("%[p4], #" S, "s10", "s11", "s24", "s25")                                           \
        TK_ASM_TWIDDLE("%[p4], #" S2, "s12", "s13", "s26", "s27")                                          \
        TK_ASM_TWIDDLE("%[p4], #" S3, "s14", "s15", "s28", "s29")                                          \
        "2:\n\t"                                                                                           \
        TK_ASM_DFT8                                                                                        \
        "vstr d8, [%[p0]]\n\t"                                                                             \
        "vstr d9, [%[p0], #" S "]\n\t"                                                                     \
        "vstr d10, [%[p0], #" S2 "]\n\t"                                                                   \
        "vstr d11, [%[p0], #" S3 "]\n\t"                                                                   \
        "vstr d12, [%[p4]]\n\t"                                                                            \
        "vstr d13, [%[p4], #" S "]\n\t"                                                                    \
        "vstr d14, [%[p4], #" S2 "]\n\t"                                                                   \
        "vstr d15, [%[p4], #" S3 "]\n\t"                                                                   \
        "add %[p0], %[p0], #8\n\t"                                                                         \
        "add %[p4], %[p4], #8\n\t"                                                                         \
        "subs %[n], %[n], #1\n\t"                                                                          \
        "bne 1b"                                                                                           \
        : [p0] "+r"(x), [p4] "+r"(p4), [w] "+r"(w), [n] "+r"(n)                                            \
        : [c] "r"(&c)                                                                                      \
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",   \
          "s13", "s14", "s15", "s16", "s17", "s18", "s19", "s20", "s21", "s22", "s23", "s24", "s25", "s26", \
          "s27", "s28", "s29", "s30", "s31")

/* fft_butterfly8 for k = 0 .. h-1 of one block in Arm FPU assembly; the
 * strides are literals: h = 4 (the first radix-8 stage) or 32 (the second
 * of a 256-point FFT). */
static void fft_radix8_block(float *x, int h, const float *w)
{
    static const float c = 0.707106781f;
    float *p4 = x + 8 * h;
    int n = h; /* k = 0 enters the loop at its DFT */
    if (h == 4) {
        TK_ASM_RADIX8_BLOCK("32", "64", "96");
    } else {
        TK_ASM_RADIX8_BLOCK("256", "512", "768");
    }
}
#else
/* fft_butterfly8 for k = 0 .. h-1 of one block. */
static void fft_radix8_block(float *x, int h, const float *w)
{
    fft_block_portable(x, h, w, 8, fft_butterfly8);
}
#endif
#endif

/* Decimation-in-time FFT of the windowed frame into TK_FFT_POINTS interleaved
 * complex values: a windowed first stage (radix 4, or 2 when the number of
 * points is an odd power of two in the radix-4 plan), then radix-8 stages
 * (TK_FEATURES_FFT_RADIX8) or radix-4 stages. Z[0] is repeated at Z[M] so
 * that the split reads Z[k] and Z[M - k] for every k in [0, M]. */
static void fft_frame(float *x, const int16_t *samples)
{
#if TK_FEATURES_FFT_RADIX8
    fft_window_radix4(x, samples);
    fft_stages(x, 4, 8, fft_radix8_block);
#else
    if ((TK_FEATURES_FFT_LOG2_POINTS & 1) != 0) {
        fft_window_radix2(x, samples);
        fft_stages(x, 2, 4, fft_radix4_block);
    } else {
        fft_window_radix4(x, samples);
        fft_stages(x, 4, 4, fft_radix4_block);
    }
#endif
    x[2 * TK_FFT_POINTS] = x[0];
    x[2 * TK_FFT_POINTS + 1] = x[1];
}
/* |X[k]| of the real FFT from Z = FFT(x[2n] + i x[2n+1]): with C = conj Z[M-k],
 * X[k] = C + A[k] (Z[k] - C), A[k] = (1 - i W^k) / 2 (a[0], a[1] of tk_mel_bins). */
static inline float split_magnitude(const float *z, const float *z_mirror, const float *a)
{
    const float dr = z[0] - z_mirror[0];
    const float di = z[1] + z_mirror[1];
    const float xr = TK_MUL_ADD(-a[1], di, TK_MUL_ADD(a[0], dr, z_mirror[0]));
    const float xi = TK_MUL_ADD(a[1], dr, TK_MUL_ADD(a[0], di, -z_mirror[1]));
    return root(TK_MUL_ADD(xr, xr, xi * xi));
}

/* The mel energies: one pass over bins [BIN_LO, BIN_HI) in bands; the bins of
 * band j add to filter j - 1 (`lower`) and filter j (`upper`); when band j
 * ends filter j - 1 is complete and goes to energies[j] (energies[0], the
 * "filter -1" of band 0, is not one; the mel energies start at energies + 1). */
#if defined(TK_FEATURES_ARM_ASM)
/* In Arm FPU assembly: per bin one vldmia each for Z[k], Z[M-k] (walking
 * down) and the bin's four table values, then split_magnitude's operations in
 * its order; the two open sums in s8 and s9. */
static void mel_energies(const float *z, float *energies)
{
    const float *zk = z + 2 * TK_FEATURES_BIN_LO;
    const float *z_mirror_end = z + 2 * (TK_FFT_POINTS - TK_FEATURES_BIN_LO) + 2;
    const float *bin = tk_mel_bins;
    const uint16_t *length = tk_mel_band_length;
    int bands = TK_FEATURES_N_MELS + 1;
    int n;
    __asm__ volatile(
        "vmov s8, %[zero]\n\t"             /* lower */
        "4:\n\t"
        "vmov s9, %[zero]\n\t"             /* upper */
        "ldrh %[n], [%[length]], #2\n\t"
        "cmp %[n], #0\n\t"
        "beq 3f\n\t"
        "1:\n\t"
        "vldmia %[zk]!, {s0-s1}\n\t"       /* Z[k] */
        "vldmdb %[zm]!, {s2-s3}\n\t"       /* Z[M-k] */
        "vldmia %[bin]!, {s4-s7}\n\t"      /* A[k] (re, im), weights in filters j - 1 and j */
        "vsub.f32 s0, s0, s2\n\t"          /* D = Z[k] - conj Z[M-k] */
        "vadd.f32 s1, s1, s3\n\t"
        "vfma.f32 s2, s4, s0\n\t"          /* Xr = Cr + Ar Dr - Ai Di */
        "vfms.f32 s2, s5, s1\n\t"
        "vfnms.f32 s3, s4, s1\n\t"         /* Xi = Ci + Ar Di + Ai Dr, Ci = -Z[M-k]i */
        "vfma.f32 s3, s5, s0\n\t"
        "vmul.f32 s2, s2, s2\n\t"          /* |X| */
        "vfma.f32 s2, s3, s3\n\t"
        "vsqrt.f32 s2, s2\n\t"
        "vfma.f32 s8, s6, s2\n\t"
        "vfma.f32 s9, s7, s2\n\t"
        "subs %[n], %[n], #1\n\t"
        "bne 1b\n\t"
        "3:\n\t"
        "vstmia %[out]!, {s8}\n\t"         /* filter j - 1 is complete */
        "vmov.f32 s8, s9\n\t"
        "subs %[bands], %[bands], #1\n\t"
        "bne 4b"
        : [zk] "+r"(zk), [zm] "+r"(z_mirror_end), [bin] "+r"(bin), [length] "+r"(length), [out] "+r"(energies),
          [bands] "+r"(bands), [n] "=&r"(n)
        : [zero] "r"(0)
        : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9");
}
#else
static void mel_energies(const float *z, float *energies)
{
    const float *zk = z + 2 * TK_FEATURES_BIN_LO;
    const float *z_mirror = z + 2 * (TK_FFT_POINTS - TK_FEATURES_BIN_LO);
    const float *bin = tk_mel_bins;
    float lower = 0.0f;
    int band, j;
    for (band = 0; band <= TK_FEATURES_N_MELS; ++band) {
        float upper = 0.0f;
        for (j = 0; j < tk_mel_band_length[band]; ++j) {
            const float magnitude = split_magnitude(zk, z_mirror, bin);
            lower = TK_MUL_ADD(bin[2], magnitude, lower);
            upper = TK_MUL_ADD(bin[3], magnitude, upper);
            zk += 2;
            z_mirror -= 2;
            bin += 4;
        }
        energies[band] = lower;
        lower = upper;
    }
}
#endif

static void log_mel(float *mel)
{
    int m;
    for (m = 0; m < TK_FEATURES_N_MELS; ++m) {
#if defined(TK_FEATURES_PORTABLE)
        mel[m] = logf(mel[m] + TK_FEATURES_LOG_OFFSET);
#else
        mel[m] = log_positive(mel[m] + TK_FEATURES_LOG_OFFSET);
#endif
    }
}

/* One term n of the folded DCT for every coefficient: acc[c] += D[c, n] * (c
 * even ? even : odd), D[., n] = tk_dct + n * N_MFCC. Unrolled, so that the
 * sums stay in registers. */
static inline void dct_term(float *acc, const float *column, float even, float odd)
{
    int c;
    _Pragma("GCC unroll 32")
    for (c = 0; c < TK_FEATURES_N_MFCC; ++c) {
        acc[c] = TK_MUL_ADD(column[c], ((c & 1) != 0) ? odd : even, acc[c]);
    }
}

/* DCT-II on the folded vector: term n acts on L[n] + L[N-1-n] (even
 * coefficients) and L[n] - L[N-1-n] (odd ones); an odd N's middle alone. */
static void dct(const float *log_mel_energy, float *mfcc)
{
    float acc[TK_FEATURES_N_MFCC] = {0.0f};
    int n;
    for (n = 0; n < TK_FEATURES_N_MELS / 2; ++n) {
        const float head = log_mel_energy[n];
        const float tail = log_mel_energy[TK_FEATURES_N_MELS - 1 - n];
        dct_term(acc, tk_dct + n * TK_FEATURES_N_MFCC, head + tail, head - tail);
    }
    if ((TK_FEATURES_N_MELS & 1) != 0) {
        const float middle = log_mel_energy[TK_FEATURES_DCT_HALF - 1];
        dct_term(acc, tk_dct + (TK_FEATURES_DCT_HALF - 1) * TK_FEATURES_N_MFCC, middle, middle);
    }
    memcpy(mfcc, acc, sizeof acc);
}

/* round half away from zero, then the zero point, clamped to int8 (NaN -> -128);
 * beyond +-256 the clamp decides, within it the rounding is done on the
 * integer part and the (exact) fraction, without a call to roundf */
static int8_t quantize_value(float x)
{
    const float v = x / TK_FEATURES_INPUT_SCALE;
    int32_t q;
    float fraction;
    if (!(v > -256.0f)) {
        return (int8_t)-128;
    }
    if (v > 256.0f) {
        return (int8_t)127;
    }
    q = (int32_t)v; /* toward zero */
    fraction = v - (float)q;
    if (fraction >= 0.5f) {
        q += 1;
    } else if (fraction <= -0.5f) {
        q -= 1;
    }
    q += TK_FEATURES_INPUT_ZERO_POINT;
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

void tk_features_quantize(const float *mfcc, int8_t *features)
{
    int c;
    for (c = 0; c < TK_FEATURES_N_MFCC; ++c) {
        features[c] = quantize_value((mfcc[c] - tk_norm_mean[c]) / tk_norm_std[c]);
    }
}

tk_features_status_t tk_features_reset(tk_features_t *state)
{
    if (state == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    memset(state->samples, 0, sizeof state->samples);
    return TK_FEATURES_OK;
}

tk_features_status_t tk_features_preload(tk_features_t *state, const int16_t *pcm)
{
    if (state == NULL || pcm == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    memset(state->samples, 0, sizeof state->samples);
    memcpy(state->samples, pcm, TK_FEATURES_OVERLAP_SAMPLES * sizeof pcm[0]);
    return TK_FEATURES_OK;
}

/* memcpy of `count` samples between buffers that do not overlap; on Arm FPUs,
 * when both are word-aligned and the bytes a multiple of 64, 64 bytes per
 * vldmia / vstmia pair. */
static void copy_pcm(int16_t *dst, const int16_t *src, uint32_t count)
{
#if defined(TK_FEATURES_ARM_ASM)
    uint32_t blocks = count / 32u;
    if (count % 32u == 0u && blocks > 0u && (((uintptr_t)dst | (uintptr_t)src) & 3u) == 0u) {
        __asm__ volatile(
            "1:\n\t"
            "vldmia %[src]!, {s0-s15}\n\t"
            "vstmia %[dst]!, {s0-s15}\n\t"
            "subs %[n], %[n], #1\n\t"
            "bne 1b"
            : [src] "+r"(src), [dst] "+r"(dst), [n] "+r"(blocks)
            :
            : "cc", "memory", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12",
              "s13", "s14", "s15");
        return;
    }
#endif
    memcpy(dst, src, count * sizeof src[0]);
}

/* Keep the newest OVERLAP samples of the window at its start. */
static void keep_overlap(int16_t *samples)
{
#if TK_FEATURES_HOP_SAMPLES >= TK_FEATURES_OVERLAP_SAMPLES
    copy_pcm(samples, samples + TK_FEATURES_HOP_SAMPLES, TK_FEATURES_OVERLAP_SAMPLES);
#else
    int n;
    for (n = 0; n < TK_FEATURES_OVERLAP_SAMPLES; ++n) {
        samples[n] = samples[n + TK_FEATURES_HOP_SAMPLES]; /* forward: the source is ahead */
    }
#endif
}

tk_features_status_t tk_features_push(tk_features_t *state, const int16_t *hop, int8_t *features, float *mfcc)
{
    float energies[TK_FEATURES_N_MELS + 1]; /* energies + 1: the mel energies, then their logs */
    float coefficients[TK_FEATURES_N_MFCC];
    int c;
    if (state == NULL || hop == NULL || features == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    copy_pcm(state->samples + TK_FEATURES_OVERLAP_SAMPLES, hop, TK_FEATURES_HOP_SAMPLES);
    fft_frame(state->fft, state->samples);
    keep_overlap(state->samples);
    mel_energies(state->fft, energies);
    log_mel(energies + 1);
    dct(energies + 1, coefficients);
    tk_features_quantize(coefficients, features);
    if (mfcc != NULL) {
        for (c = 0; c < TK_FEATURES_N_MFCC; ++c) {
            mfcc[c] = coefficients[c];
        }
    }
    return TK_FEATURES_OK;
}

tk_features_status_t tk_features_clip(tk_features_t *state, const int16_t *pcm, int8_t *features, float *mfcc)
{
    int f;
    if (state == NULL || pcm == NULL || features == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    (void)tk_features_preload(state, pcm);
    for (f = 0; f < TK_FEATURES_N_FRAMES; ++f) {
        const int16_t *hop = pcm + TK_FEATURES_OVERLAP_SAMPLES + f * TK_FEATURES_HOP_SAMPLES;
        float *frame_mfcc = (mfcc != NULL) ? mfcc + f * TK_FEATURES_N_MFCC : NULL;
        (void)tk_features_push(state, hop, features + f * TK_FEATURES_N_MFCC, frame_mfcc);
    }
    return TK_FEATURES_OK;
}
