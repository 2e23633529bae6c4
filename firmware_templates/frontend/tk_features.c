/*
 * tk_features.c: MFCC front end, float32, no allocation.
 * The specification is tinykws/features.py; tk_feature_tables.{h,c} hold
 * every constant, computed in Python from the run's configuration.
 * The per-frame path calls no libm function but sqrtf (one instruction on
 * cores with an FPU): the logarithm is computed from the float's exponent
 * and a short series, and where the core has fused multiply-add (Cortex-M4F,
 * M7, M33, M55) the products are accumulated with it. Defining
 * TK_FEATURES_PORTABLE selects the previous arithmetic (logf, separate
 * multiplies and adds), kept for comparison (tinykws.bench).
 */
#include "tk_features.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define TK_FFT_POINTS (TK_FEATURES_FFT_SIZE / 2) /* complex points of the half-length FFT */

/* a * b + c: one fused multiply-add instruction where the FPU has it. */
#if defined(__ARM_FEATURE_FMA) && !defined(TK_FEATURES_PORTABLE)
#define TK_MUL_ADD(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define TK_MUL_ADD(a, b, c) ((a) * (b) + (c))
#endif

/* Window = the kept overlap followed by the new hop, times the Hann window
 * (which includes the 1/32768 PCM scale); zero padded to FFT_SIZE. Written
 * straight into bit-reversed order: sample pair (2j, 2j+1) is complex point j
 * of the half-length FFT, which goes to position tk_fft_bit_reversal[j]. */
static void window_frame(float *frame, const int16_t *overlap, const int16_t *hop)
{
    int j;
    for (j = 0; j < TK_FEATURES_OVERLAP_SAMPLES / 2; ++j) {
        float *dst = frame + 2 * tk_fft_bit_reversal[j];
        dst[0] = (float)overlap[2 * j] * tk_window[2 * j];
        dst[1] = (float)overlap[2 * j + 1] * tk_window[2 * j + 1];
    }
    for (j = TK_FEATURES_OVERLAP_SAMPLES / 2; j < TK_FEATURES_WINDOW_SAMPLES / 2; ++j) {
        float *dst = frame + 2 * tk_fft_bit_reversal[j];
        dst[0] = (float)hop[2 * j - TK_FEATURES_OVERLAP_SAMPLES] * tk_window[2 * j];
        dst[1] = (float)hop[2 * j + 1 - TK_FEATURES_OVERLAP_SAMPLES] * tk_window[2 * j + 1];
    }
    for (j = TK_FEATURES_WINDOW_SAMPLES / 2; j < TK_FEATURES_FFT_SIZE / 2; ++j) {
        float *dst = frame + 2 * tk_fft_bit_reversal[j];
        dst[0] = 0.0f;
        dst[1] = 0.0f;
    }
}

#if (TK_FEATURES_OVERLAP_SAMPLES % 2) != 0 || (TK_FEATURES_WINDOW_SAMPLES % 2) != 0
#error "window_frame pairs samples: the window and its overlap must be even"
#endif

#if !defined(TK_FEATURES_PORTABLE)
/* Natural logarithm of a positive normal float without libm: x = m 2^e with
 * m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(t), t = (m - 1) / (m + 1),
 * |t| < 0.172, by its odd series to t^9 (truncation below 2e-8); within a few
 * float ulps of logf. */
static float log_positive(float x)
{
    uint32_t bits;
    int32_t e;
    float m, t, t2;
    memcpy(&bits, &x, sizeof bits);
    e = (int32_t)((bits >> 23) & 0xFFu) - 127;
    bits = (bits & 0x007FFFFFu) | 0x3F800000u;
    memcpy(&m, &bits, sizeof m);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    t = (m - 1.0f) / (m + 1.0f);
    t2 = t * t;
    return (float)e * 0.693147181f
           + 2.0f * t * (1.0f + t2 * (1.0f / 3.0f + t2 * (1.0f / 5.0f + t2 * (1.0f / 7.0f + t2 * (1.0f / 9.0f)))));
}

#endif

/* Keep the newest OVERLAP samples of (overlap followed by hop). */
static void keep_overlap(int16_t *overlap, const int16_t *hop)
{
    int n;
    for (n = 0; n < TK_FEATURES_OVERLAP_SAMPLES; ++n) {
        const int src = n + TK_FEATURES_HOP_SAMPLES; /* index into the concatenation */
        overlap[n] = (src < TK_FEATURES_OVERLAP_SAMPLES) ? overlap[src] : hop[src - TK_FEATURES_OVERLAP_SAMPLES];
    }
}

/* Radix-2 first stage (used when log2 of the point count is odd): twiddles are 1. */
static void fft_radix2_first(float *x)
{
    int i;
    for (i = 0; i < 2 * TK_FFT_POINTS; i += 4) {
        const float re = x[i + 2];
        const float im = x[i + 3];
        x[i + 2] = x[i] - re;
        x[i + 3] = x[i + 1] - im;
        x[i] += re;
        x[i + 1] += im;
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
    const float s02r = x[0] + t2r;
    const float s02i = x[1] + t2i;
    const float d02r = x[0] - t2r;
    const float d02i = x[1] - t2i;
    const float s13r = t1r + t3r;
    const float s13i = t1i + t3i;
    const float d13r = t1r - t3r;
    const float d13i = t1i - t3i;
    x[0] = s02r + s13r;
    x[1] = s02i + s13i;
    p1[0] = d02r + d13i;
    p1[1] = d02i - d13r;
    p2[0] = s02r - s13r;
    p2[1] = s02i - s13i;
    p3[0] = d02r - d13i;
    p3[1] = d02i + d13r;
}

/* Radix-4 first stage (log2 of the point count even): twiddles are 1. */
static void fft_radix4_first(float *x)
{
    int i;
    for (i = 0; i < 2 * TK_FFT_POINTS; i += 8) {
        float *p = x + i; /* F0, F2, F1, F3 of one point each */
        const float s02r = p[0] + p[2];
        const float s02i = p[1] + p[3];
        const float d02r = p[0] - p[2];
        const float d02i = p[1] - p[3];
        const float s13r = p[4] + p[6];
        const float s13i = p[5] + p[7];
        const float d13r = p[4] - p[6];
        const float d13i = p[5] - p[7];
        p[0] = s02r + s13r;
        p[1] = s02i + s13i;
        p[2] = d02r + d13i;
        p[3] = d02i - d13r;
        p[4] = s02r - s13r;
        p[5] = s02i - s13i;
        p[6] = d02r - d13i;
        p[7] = d02i + d13r;
    }
}

/* Radix-4 stage combining blocks of h points into blocks of 4h. */
static void fft_radix4_stage(float *x, int h)
{
    const int step = TK_FEATURES_FFT_SIZE / (4 * h); /* twiddle index step of W = exp(-2 pi i / 4h) */
    int k;
    for (k = 0; k < h; ++k) {
        float w[6];
        int i;
        w[0] = tk_twiddle[2 * k * step];
        w[1] = tk_twiddle[2 * k * step + 1];
        w[2] = tk_twiddle[4 * k * step];
        w[3] = tk_twiddle[4 * k * step + 1];
        w[4] = tk_twiddle[6 * k * step];
        w[5] = tk_twiddle[6 * k * step + 1];
        for (i = 2 * k; i < 2 * TK_FFT_POINTS; i += 8 * h) {
            fft_butterfly4(x + i, h, w);
        }
    }
}

/* In-place decimation-in-time FFT of TK_FFT_POINTS interleaved complex
 * values, input in bit-reversed order: radix 4, with one radix-2 stage first
 * when the number of points is an odd power of two. */
static void fft_complex(float *x)
{
    int h;
    if ((TK_FEATURES_FFT_LOG2_POINTS & 1) != 0) {
        fft_radix2_first(x);
        h = 2;
    } else {
        fft_radix4_first(x);
        h = 4;
    }
    for (; h < TK_FFT_POINTS; h *= 4) {
        fft_radix4_stage(x, h);
    }
}

/* |X[k]| of the real FFT from Z = FFT(x[2n] + i x[2n+1]):
 * X[k] = (Z[k] + conj Z[M-k]) / 2 + W^k (Z[k] - conj Z[M-k]) / 2i. */
static float real_bin_magnitude(const float *z, int k)
{
    float zr, zi, cr, ci, er, ei, odd_r, odd_i, wr, wi, xr, xi;
    if (k == 0) {
        return fabsf(z[0] + z[1]);
    }
    if (k == TK_FFT_POINTS) {
        return fabsf(z[0] - z[1]);
    }
    zr = z[2 * k];
    zi = z[2 * k + 1];
    cr = z[2 * (TK_FFT_POINTS - k)];
    ci = -z[2 * (TK_FFT_POINTS - k) + 1];
    er = 0.5f * (zr + cr);
    ei = 0.5f * (zi + ci);
    odd_r = 0.5f * (zi - ci);
    odd_i = -0.5f * (zr - cr);
    wr = tk_twiddle[2 * k];
    wi = tk_twiddle[2 * k + 1];
    xr = er + TK_MUL_ADD(wr, odd_r, -wi * odd_i);
    xi = ei + TK_MUL_ADD(wr, odd_i, wi * odd_r);
    return sqrtf(TK_MUL_ADD(xr, xr, xi * xi));
}

static void magnitudes(const float *z, float *magnitude)
{
    int k;
    for (k = TK_FEATURES_BIN_LO; k < TK_FEATURES_BIN_HI; ++k) {
        magnitude[k] = real_bin_magnitude(z, k);
    }
}

static void log_mel(const float *magnitude, float *out)
{
    const float *weight = tk_mel_weights;
    int m;
    for (m = 0; m < TK_FEATURES_N_MELS; ++m) {
        const float *bin = magnitude + tk_mel_start[m];
        const int length = tk_mel_length[m];
        float sum = 0.0f;
        int j;
        for (j = 0; j < length; ++j) {
            sum = TK_MUL_ADD(weight[j], bin[j], sum);
        }
        weight += length;
#if defined(TK_FEATURES_PORTABLE)
        out[m] = logf(sum + TK_FEATURES_LOG_OFFSET);
#else
        out[m] = log_positive(sum + TK_FEATURES_LOG_OFFSET);
#endif
    }
}

static void dct(const float *log_mel_energy, float *mfcc)
{
    int c;
    for (c = 0; c < TK_FEATURES_N_MFCC; ++c) {
        const float *row = tk_dct + c * TK_FEATURES_N_MELS;
        float sum = 0.0f;
        int m;
        for (m = 0; m < TK_FEATURES_N_MELS; ++m) {
            sum = TK_MUL_ADD(row[m], log_mel_energy[m], sum);
        }
        mfcc[c] = sum;
    }
}

/* round half away from zero, then the zero point, clamped to int8 (NaN -> -128) */
static int8_t quantize_value(float x)
{
    const float q = roundf(x / TK_FEATURES_INPUT_SCALE) + (float)TK_FEATURES_INPUT_ZERO_POINT;
    if (!(q >= -128.0f)) {
        return (int8_t)-128;
    }
    if (q > 127.0f) {
        return (int8_t)127;
    }
    return (int8_t)q;
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
    int n;
    if (state == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    for (n = 0; n < TK_FEATURES_OVERLAP_SAMPLES; ++n) {
        state->overlap[n] = 0;
    }
    return TK_FEATURES_OK;
}

tk_features_status_t tk_features_preload(tk_features_t *state, const int16_t *pcm)
{
    int n;
    if (state == NULL || pcm == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    for (n = 0; n < TK_FEATURES_OVERLAP_SAMPLES; ++n) {
        state->overlap[n] = pcm[n];
    }
    return TK_FEATURES_OK;
}

tk_features_status_t tk_features_push(tk_features_t *state, const int16_t *hop, int8_t *features, float *mfcc)
{
    float log_mel_energy[TK_FEATURES_N_MELS];
    float coefficients[TK_FEATURES_N_MFCC];
    int c;
    if (state == NULL || hop == NULL || features == NULL) {
        return TK_FEATURES_ERROR_ARGUMENT;
    }
    window_frame(state->fft, state->overlap, hop);
    keep_overlap(state->overlap, hop);
    fft_complex(state->fft);
    magnitudes(state->fft, state->magnitude);
    log_mel(state->magnitude, log_mel_energy);
    dct(log_mel_energy, coefficients);
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
