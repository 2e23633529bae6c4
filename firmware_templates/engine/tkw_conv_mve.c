/* CONV_2D 1x1 (stride 1, no padding) with Helium, the M-profile vector
 * extension of the Cortex-M55 and M85: VMLADAVA.S8 dot products of 16 int8
 * lanes, five pixels per pass over a filter row, on the int8 filter as the
 * .tflite has it. Folded biases and requantization are those of the DSP
 * kernels (tkw_dsp_util.h; channel_params holds doubled biases, so the
 * accumulator starts at half of it and is doubled before requantizing). */
#include "tkw_dsp.h"

#if TKW_HAVE_MVE

#include <arm_mve.h>

#include "tkw_dsp_util.h"

/* Dot products of one filter row with five pixels (k values each, any k:
 * the last vector is tail-predicated), VMLADAVA: 16 MACs per instruction. */
/* not inlined: the loop needs twelve registers of its own */
static __attribute__((noinline)) void mve_dot5(const int8_t *w, const int8_t *const *x, int32_t k, int32_t *acc)
{
    const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4];
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4];
    int32_t i = k & ~15;
#if defined(__OPTIMIZE__)
    if (i > 0) {
        /* VMLADAVA accumulates into an even register */
        register int32_t r0 __asm__("r0") = a0;
        register int32_t r2 __asm__("r2") = a1;
        register int32_t r4 __asm__("r4") = a2;
        register int32_t r6 __asm__("r6") = a3;
        register int32_t r8 __asm__("r8") = a4;
        int32_t n = i >> 4;
        __asm__("1:\n\t"
                "vldrb.8     q0, [%[w]], #16\n\t"
                "vldrb.8     q1, [%[x0]], #16\n\t"
                "vmladava.s8 %[a0], q1, q0\n\t"
                "vldrb.8     q1, [%[x1]], #16\n\t"
                "vmladava.s8 %[a1], q1, q0\n\t"
                "vldrb.8     q1, [%[x2]], #16\n\t"
                "vmladava.s8 %[a2], q1, q0\n\t"
                "vldrb.8     q1, [%[x3]], #16\n\t"
                "vmladava.s8 %[a3], q1, q0\n\t"
                "vldrb.8     q1, [%[x4]], #16\n\t"
                "vmladava.s8 %[a4], q1, q0\n\t"
                "subs        %[n], %[n], #1\n\t"
                "bne         1b"
                : [a0] "+r"(r0), [a1] "+r"(r2), [a2] "+r"(r4), [a3] "+r"(r6), [a4] "+r"(r8), [w] "+r"(w),
                  [x0] "+r"(x0), [x1] "+r"(x1), [x2] "+r"(x2), [x3] "+r"(x3), [x4] "+r"(x4), [n] "+r"(n)
                :
                : "d0", "d1", "d2", "d3", "cc", "memory");
        a0 = r0;
        a1 = r2;
        a2 = r4;
        a3 = r6;
        a4 = r8;
        w -= i;
        x0 -= i;
        x1 -= i;
        x2 -= i;
        x3 -= i;
        x4 -= i;
    }
#else
    {
        int32_t j;
        for (j = 0; j < i; j += 16) {
            const int8x16_t wv = vldrbq_s8(w + j);
            a0 = vmladavaq_s8(a0, vldrbq_s8(x0 + j), wv);
            a1 = vmladavaq_s8(a1, vldrbq_s8(x1 + j), wv);
            a2 = vmladavaq_s8(a2, vldrbq_s8(x2 + j), wv);
            a3 = vmladavaq_s8(a3, vldrbq_s8(x3 + j), wv);
            a4 = vmladavaq_s8(a4, vldrbq_s8(x4 + j), wv);
        }
    }
#endif
    if (i < k) {
        const mve_pred16_t lanes = vctp8q((uint32_t)(k - i));
        const int8x16_t wv = vldrbq_z_s8(w + i, lanes);
        a0 = vmladavaq_p_s8(a0, vldrbq_z_s8(x0 + i, lanes), wv, lanes);
        a1 = vmladavaq_p_s8(a1, vldrbq_z_s8(x1 + i, lanes), wv, lanes);
        a2 = vmladavaq_p_s8(a2, vldrbq_z_s8(x2 + i, lanes), wv, lanes);
        a3 = vmladavaq_p_s8(a3, vldrbq_z_s8(x3 + i, lanes), wv, lanes);
        a4 = vmladavaq_p_s8(a4, vldrbq_z_s8(x4 + i, lanes), wv, lanes);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = a4;
}

/* Five pixels of a row per pass over the filter (a shorter last block
 * repeats its last pixel and stores only its own). */
int tkw_mve_pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->in_c;
    const tkw_act_t a = tkw_act_of(p);
    int32_t y, x, j, oc;
    for (y = y0; y < y1; ++y) {
        const int8_t *in_row = tkw_conv_input_row(p, input, y);
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += 5) {
            const int32_t n = p->out_w - x < 5 ? p->out_w - x : 5;
            const int8_t *pixels[5];
            for (j = 0; j < 5; ++j) {
                pixels[j] = in_row + (x + (j < n ? j : n - 1)) * k;
            }
            for (oc = 0; oc < p->out_c; ++oc) {
                /* the channel's stream: 2 * bias five times, filter pairs, rq */
                const int32_t *cp = p->filter_pairs + oc * (8 + 2 * ((k + 3) >> 2));
                int32_t acc[5];
                int8_t *out = out_row + x * p->out_c + oc;
                acc[0] = acc[1] = acc[2] = acc[3] = acc[4] = cp[0] / 2;
                mve_dot5(p->filter + oc * k, pixels, k, acc);
                for (j = 0; j < n; ++j) {
                    out[j * p->out_c] = tkw_requant((int32_t)((uint32_t)acc[j] << 1), cp + 5 + 2 * ((k + 3) >> 2), a);
                }
            }
        }
    }
    return 1;
}

#else

typedef int tkw_conv_mve_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_MVE */
