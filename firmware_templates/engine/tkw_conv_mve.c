/* CONV_2D with Helium, the M-profile vector extension of the Cortex-M55 and
 * M85: VMLADAVA.S8 dot products of 16 int8 lanes, five pixels per pass over a
 * filter row, on the int8 filter as the .tflite has it; 1x1 convolutions
 * read the input pixels in place, others the im2col windows that
 * tkw_conv_dsp.c stages. Folded biases and requantization are those of the DSP
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

#if defined(__OPTIMIZE__)
/* The state of the assembler channel loop (field offsets are used there: keep them). */
typedef struct {
    const int8_t *x[5];     /* 0: the five windows */
    const int8_t *w;        /* 20: the channel's filter row */
    const int32_t *cp;      /* 24: the channel's stream */
    int8_t *out;            /* 28: the channel's output at pixel 0 */
    int32_t channels;       /* 32: channels left (>= 1) */
    int32_t k;              /* 36: filter row bytes */
    int32_t full;           /* 40: k / 16 */
    int32_t tail;           /* 44: k % 16 */
    int32_t stream_bytes;   /* 48 */
    int32_t store[4];       /* 52: bytes from pixel 0's output to pixels 1-4's (a short block repeats its last) */
} channels5_t;

/* One pixel's share of a tail vector (predicate set by VCTP): ACC += X . q0. */
#define TAIL_PIXEL(ACC, X)                                                                                        \
    "vpst\n\t"                                                                                                   \
    "vldrbt.8    q1, [" X "]\n\t"                                                                               \
    "vmladava.s8 " ACC ", q1, q0\n\t"

/* Requantize ACC (the accumulator) with m, rounding, shift in r1, r3, r5 into r9. */
#define REQUANT_PIXEL(ACC)                                                                                        \
    "lsl         r7, " ACC ", #1\n\t" TKW_ASM_REQUANT("r9", "r7", "r1", "r3", "r5")

/* Every channel of a block of five pixels: the dot products (VMLADAVA, 16
 * MACs each; a tail-predicated last vector), requantization and stores. */
static __attribute__((noinline)) void mve_channels5(channels5_t *state)
{
    register channels5_t *s __asm__("r12") = state;
    __asm__ __volatile__("1:\n\t"
                         "ldm         r12, {r1, r3, r5, r7, r9, r10}\n\t"
                         "ldr         lr, [r12, #24]\n\t"
                         "ldm         lr, {r0, r2, r4, r6, r8}\n\t"
                         "asrs        r0, r0, #1\n\t" /* the stream holds 2 * bias */
                         "asrs        r2, r2, #1\n\t"
                         "asrs        r4, r4, #1\n\t"
                         "asrs        r6, r6, #1\n\t"
                         "asrs        r8, r8, #1\n\t"
                         "ldr         r11, [r12, #40]\n\t"
                         "cmp         r11, #0\n\t"
                         "beq         3f\n\t"
                         "2:\n\t"
                         "vldrb.8     q0, [r10], #16\n\t"
                         "vldrb.8     q1, [r1], #16\n\t"
                         "vmladava.s8 r0, q1, q0\n\t"
                         "vldrb.8     q1, [r3], #16\n\t"
                         "vmladava.s8 r2, q1, q0\n\t"
                         "vldrb.8     q1, [r5], #16\n\t"
                         "vmladava.s8 r4, q1, q0\n\t"
                         "vldrb.8     q1, [r7], #16\n\t"
                         "vmladava.s8 r6, q1, q0\n\t"
                         "vldrb.8     q1, [r9], #16\n\t"
                         "vmladava.s8 r8, q1, q0\n\t"
                         "subs        r11, r11, #1\n\t"
                         "bne         2b\n\t"
                         "3:\n\t"
                         "ldr         r11, [r12, #44]\n\t"
                         "cmp         r11, #0\n\t"
                         "beq         4f\n\t"
                         "vctp.8      r11\n\t"
                         "vpst\n\t"
                         "vldrbt.8    q0, [r10]\n\t"
                         TAIL_PIXEL("r0", "r1") TAIL_PIXEL("r2", "r3") TAIL_PIXEL("r4", "r5")
                         TAIL_PIXEL("r6", "r7") TAIL_PIXEL("r8", "r9")
                         "4:\n\t" /* next channel's filter and stream; this one's requantization */
                         "ldrd        r10, r11, [r12, #20]\n\t"
                         "ldr         r1, [r12, #36]\n\t"
                         "add         r10, r10, r1\n\t"
                         "ldr         r1, [r12, #48]\n\t"
                         "add         r11, r11, r1\n\t"
                         "strd        r10, r11, [r12, #20]\n\t"
                         "sub         r11, r11, #12\n\t"
                         "ldm         r11, {r1, r3, r5}\n\t"
                         "ldr         r10, [r12, #28]\n\t"
                         REQUANT_PIXEL("r0")
                         "strb        r9, [r10]\n\t"
                         "ldrd        r0, r11, [r12, #52]\n\t"
                         REQUANT_PIXEL("r2")
                         "strb        r9, [r10, r0]\n\t"
                         REQUANT_PIXEL("r4")
                         "strb        r9, [r10, r11]\n\t"
                         "ldrd        r0, r11, [r12, #60]\n\t"
                         REQUANT_PIXEL("r6")
                         "strb        r9, [r10, r0]\n\t"
                         REQUANT_PIXEL("r8")
                         "strb        r9, [r10, r11]\n\t"
                         "adds        r10, r10, #1\n\t"
                         "str         r10, [r12, #28]\n\t"
                         "ldr         r11, [r12, #32]\n\t"
                         "subs        r11, r11, #1\n\t"
                         "str         r11, [r12, #32]\n\t"
                         "bne         1b"
                         : "+r"(s)
                         :
                         : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "lr", "d0", "d1",
                           "d2", "d3", "cc", "memory");
}
#endif

/* Every output channel of n <= 5 pixels whose k-value windows are at
 * pixels[0..n) (filter order; a shorter block repeats its last pixel and
 * stores only its own), outputs from out on, out_c apart. */
void tkw_mve_conv_block(const tkw_conv_params_t *p, const int8_t *const *pixels, int32_t n, int8_t *out)
{
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int32_t stream = 8 + 2 * ((k + 3) >> 2);
    const tkw_act_t a = tkw_act_of(p);
    const int8_t *x[5];
    int32_t j, oc;
    for (j = 0; j < 5; ++j) {
        x[j] = pixels[j < n ? j : n - 1];
    }
#if defined(__OPTIMIZE__)
    if (!a.narrow && p->out_c > 0) {
        channels5_t s;
        for (j = 0; j < 5; ++j) {
            s.x[j] = x[j];
        }
        for (j = 1; j < 5; ++j) {
            s.store[j - 1] = (j < n ? j : n - 1) * p->out_c;
        }
        s.w = p->filter;
        s.cp = p->filter_pairs;
        s.out = out;
        s.channels = p->out_c;
        s.k = k;
        s.full = k >> 4;
        s.tail = k & 15;
        s.stream_bytes = 4 * stream;
        mve_channels5(&s);
        return;
    }
#endif
    for (oc = 0; oc < p->out_c; ++oc, ++out) {
        /* the channel's stream: 2 * bias five times, filter pairs, rq */
        const int32_t *cp = p->filter_pairs + oc * stream;
        int32_t acc[5];
        acc[0] = acc[1] = acc[2] = acc[3] = acc[4] = cp[0] / 2;
        mve_dot5(p->filter + oc * k, x, k, acc);
        for (j = 0; j < n; ++j) {
            out[j * p->out_c] = tkw_requant((int32_t)((uint32_t)acc[j] << 1), cp + stream - 3, a);
        }
    }
}

/* Five pixels of a row per pass over the filter. */
int tkw_mve_pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->in_c;
    int32_t y, x, j;
    for (y = y0; y < y1; ++y) {
        const int8_t *in_row = tkw_conv_input_row(p, input, y);
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += 5) {
            const int32_t n = p->out_w - x < 5 ? p->out_w - x : 5;
            const int8_t *pixels[5];
            for (j = 0; j < n; ++j) {
                pixels[j] = in_row + (x + j) * k;
            }
            tkw_mve_conv_block(p, pixels, n, out_row + x * p->out_c);
        }
    }
    return 1;
}

#else

typedef int tkw_conv_mve_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_MVE */
