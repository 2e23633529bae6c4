/* FULLY_CONNECTED, int8; rounding as TFLite Micro's
 * reference_integer_ops::FullyConnected (per-tensor or per-channel). */
#include "tkw_dsp.h"
#include "tkw_fixedpoint.h"

#if TKW_HAVE_DSP
#include <arm_acle.h>
#include <string.h>

/* Bytes 1 and 3 of x added to the 16-bit lanes of `lanes` (SXTAB16, ROR #8). */
static inline int32_t sxtab16_odd(int32_t lanes, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(lanes), "r"(x));
    return r;
}

/* sum (w + filter_offset) * (x + input_offset) over n values, four at a time
 * with the offsets added in 16-bit lanes (|value + offset| <= 255) and SMLAD. */
static int32_t dot_with_offsets(const int8_t *w, const int8_t *x, int32_t n, int32_t filter_offset,
                                int32_t input_offset)
{
    const int32_t wo = (int32_t)(((uint32_t)(uint16_t)filter_offset) * 0x00010001u);
    const int32_t xo = (int32_t)(((uint32_t)(uint16_t)input_offset) * 0x00010001u);
    int32_t acc = 0, d;
    for (d = 0; d + 4 <= n; d += 4) {
        int32_t wv, xv;
        memcpy(&wv, w + d, sizeof wv);
        memcpy(&xv, x + d, sizeof xv);
        acc = __smlad(__sxtab16(wo, wv), __sxtab16(xo, xv), acc);
        acc = __smlad(sxtab16_odd(wo, wv), sxtab16_odd(xo, xv), acc);
    }
    for (; d < n; ++d) {
        acc += ((int32_t)w[d] + filter_offset) * ((int32_t)x[d] + input_offset);
    }
    return acc;
}
#endif

void tkw_fully_connected(const tkw_fc_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_row = input + b * p->accum_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = p->filter + o * p->accum_depth;
            int32_t acc = 0;
#if TKW_HAVE_DSP
            acc = dot_with_offsets(w, in_row, p->accum_depth, p->filter_offset, p->input_offset);
            (void)d;
#else
            for (d = 0; d < p->accum_depth; ++d) {
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)in_row[d] + p->input_offset);
            }
#endif
            if (p->bias != NULL) {
                acc += p->bias[o];
            }
            acc = tkw_mbqm(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            output[b * p->out_depth + o] = (int8_t)tkw_clamp(acc, p->act_min, p->act_max);
        }
    }
}
