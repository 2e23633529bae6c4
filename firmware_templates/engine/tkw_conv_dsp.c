/* CONV_2D and DEPTHWISE_CONV_2D for Cortex-M cores with the DSP extension
 * (SXTB16 unpacks two int8 to two int16, SMLAD does two 16-bit MACs). The
 * results are those of the portable kernels in tkw_conv.c, which are
 * bit-exact with TensorFlow Lite Micro:
 *  - the input offset is folded into a per-channel bias the generator
 *    computes (folded_bias = bias + input_offset * sum of the channel's
 *    taps), so the inner loops multiply raw int8 values; a window tap in the
 *    padding reads the input zero point, whose term w * (zp + offset) is 0,
 *    exactly as TFLite skipping the tap;
 *  - requantization uses SMMULR, the same value as TFLite's
 *    MultiplyByQuantizedMultiplier when every shift is a right shift and the
 *    accumulator stays below 2^30 in magnitude, which the generator proved
 *    from the weights (fast_requant); other layers go to the portable kernel.
 * Int32 sums wrap (SMLAD, MLA), so partial sums in another order give the
 * same final accumulator.
 * Contents: helpers; CONV_2D as a matrix product over five packed pixel
 * columns (assembler MAC and channel loops); 1x1 convolutions with Helium
 * (VMLADAVA) where the core has MVE; im2col; DEPTHWISE_CONV_2D with window
 * columns unpacked once per row (assembler 3x3 row loop). The assembler is
 * GNU inline assembly (gcc, clang); builds without optimization use C forms. */
#include "tkw_dsp.h"

#if TKW_HAVE_DSP

#include <arm_acle.h>
#include <stddef.h>
#include <string.h>
#if TKW_HAVE_MVE
#include <arm_mve.h>
#endif

#include "tkw_fixedpoint.h"

#define MAX_DEPTHWISE_TAPS 16
/* words of an unpacked depthwise filter: at most 2 * taps + 2 * filter_w */
#define MAX_FILTER_WORDS (4 * MAX_DEPTHWISE_TAPS)

static inline int32_t smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Bytes 1 and 3 of x, sign-extended to two int16 (SXTB16 with ROR #8). */
static inline int32_t sxtb16_odd(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* Low halfwords of a and b: (a.lo, b.lo). */
static inline int32_t pack_low(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* High halfwords of a and b: (a.hi, b.hi). */
static inline int32_t pack_high(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(b), "r"(a));
    return r;
}

static inline int32_t load32(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The requantization constants of one output channel. */
typedef struct {
    int32_t multiplier, right_shift, round;
} channel_t;

static inline channel_t channel(const tkw_conv_params_t *p, int32_t oc)
{
    channel_t c;
    c.multiplier = p->multiplier[oc];
    c.right_shift = -p->shift[oc];
    c.round = (int32_t)1 << (c.right_shift - 1);
    return c;
}

/* --- CONV_2D as a matrix product: [out_c][k] filter times k-value columns --- */

/* Columns are packed for up to COLUMNS pixels: group g of four values v0..v3
 * of column j at words 2 * (COLUMNS * g + j) (v0, v2) and +1 (v1, v3), the
 * order in which SXTB16 unpacks a filter word; the k % 4 tail values of
 * column j as int32 at 2 * COLUMNS * (k / 4) + COLUMNS * t + j. */
#define COLUMNS 5 /* the assembler loops below step through 2 * COLUMNS words per group */

static void pack_column(const int8_t *src, int32_t k, int32_t *work, int32_t j)
{
    const int32_t groups = k >> 2;
    int32_t *dst = work + 2 * j;
    int32_t t;
#if defined(__OPTIMIZE__)
    if (groups > 0) {
        int32_t n = groups, v, e;
        const int8_t *from = src;
        __asm__ __volatile__("1:\n\t"
                             "ldr    %[v], [%[from]], #4\n\t"
                             "sxtb16 %[e], %[v]\n\t"
                             "sxtb16 %[v], %[v], ror #8\n\t"
                             "strd   %[e], %[v], [%[dst]], %[step]\n\t"
                             "subs   %[n], %[n], #1\n\t"
                             "bne    1b"
                             : [v] "=&r"(v), [e] "=&r"(e), [from] "+r"(from), [dst] "+r"(dst), [n] "+r"(n)
                             : [step] "i"(8 * COLUMNS)
                             : "cc", "memory");
    }
#else
    int32_t g;
    for (g = 0; g < groups; ++g, dst += 2 * COLUMNS) {
        const int32_t v = load32(src + 4 * g);
        dst[0] = __sxtb16(v);
        dst[1] = sxtb16_odd(v);
    }
#endif
    for (t = 0; t < (k & 3); ++t) {
        work[2 * COLUMNS * groups + COLUMNS * t + j] = src[4 * groups + t];
    }
}

/* Activation bounds; `narrow` when they are tighter than the int8 range. */
typedef struct {
    int32_t lo, hi, narrow;
} output_t;

static inline output_t output_of(const tkw_conv_params_t *p)
{
    output_t o;
    o.lo = p->act_min;
    o.hi = p->act_max;
    o.narrow = p->act_min > -128 || p->act_max < 127;
    return o;
}

/* The requantization constants of one output channel with the output offset
 * folded into the rounding term (offset * 2^shift, so the sum is unchanged;
 * the generator checked it cannot overflow). */
static inline channel_t channel_with_offset(const tkw_conv_params_t *p, int32_t oc)
{
    channel_t c = channel(p, oc);
    c.round += (int32_t)((uint32_t)p->output_offset << c.right_shift);
    return c;
}

static inline int8_t requantize_out(const channel_t *c, output_t o, int32_t acc)
{
    int32_t x = smmulr((int32_t)((uint32_t)acc << 1), c->multiplier);
    x = __ssat((x + c->round - (int32_t)((uint32_t)x >> 31)) >> c->right_shift, 8);
    if (o.narrow) {
        x = x < o.lo ? o.lo : x;
        x = x > o.hi ? o.hi : x;
    }
    return (int8_t)x;
}

/* The five-column inner loop: per group of four k values, one filter word
 * is unpacked once and multiplied into five columns (20 MACs in 16 or 17
 * instructions). Built with optimization, the loop keeps 14 registers busy
 * (two LDMs of four column words); otherwise it is plain C. */
#define FIVE_COLUMNS_GROUP_LDM                                                                                    \
    "ldr    %[we], [%[w]], #4\n\t"                                                                              \
    "ldmia  %[x]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                                                             \
    "sxtb16 %[wo], %[we], ror #8\n\t"                                                                           \
    "sxtb16 %[we], %[we]\n\t"                                                                                   \
    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"                                                                     \
    "smlad  %[a0], %[wo], %[x1], %[a0]\n\t"                                                                     \
    "smlad  %[a1], %[we], %[x2], %[a1]\n\t"                                                                     \
    "smlad  %[a1], %[wo], %[x3], %[a1]\n\t"                                                                     \
    "ldmia  %[x]!, {%[x0], %[x1], %[x2], %[x3]}\n\t"                                                             \
    "smlad  %[a2], %[we], %[x0], %[a2]\n\t"                                                                     \
    "smlad  %[a2], %[wo], %[x1], %[a2]\n\t"                                                                     \
    "smlad  %[a3], %[we], %[x2], %[a3]\n\t"                                                                     \
    "smlad  %[a3], %[wo], %[x3], %[a3]\n\t"                                                                     \
    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"                                                                       \
    "smlad  %[a4], %[we], %[x0], %[a4]\n\t"                                                                     \
    "smlad  %[a4], %[wo], %[x1], %[a4]\n\t"

/* n groups (n >= 1), two per iteration: "lsrs" leaves an odd group in C. */
#define TWO_GROUPS_LOOP(GROUP)                                                                                    \
    "lsrs   %[n], %[n], #1\n\t"                                                                                 \
    "bcc    2f\n\t" GROUP "2:\n\t"                                                                              \
    "beq    3f\n\t"                                                                                             \
    "1:\n\t" GROUP GROUP "subs   %[n], %[n], #1\n\t"                                                            \
    "bne    1b\n\t"                                                                                             \
    "3:"

static __attribute__((noinline)) void five_columns_mac(const int8_t **w_io, const int32_t **x_io, int32_t groups, int32_t *a0_io,
                                    int32_t *a1_io, int32_t *a2_io, int32_t *a3_io, int32_t *a4_io)
{
#if defined(__OPTIMIZE__)
    register int32_t a0 __asm__("r0") = *a0_io;
    register int32_t a1 __asm__("r1") = *a1_io;
    register int32_t a2 __asm__("r2") = *a2_io;
    register int32_t a3 __asm__("r3") = *a3_io;
    register int32_t a4 __asm__("r4") = *a4_io;
    register const int8_t *w __asm__("r5") = *w_io;
    register const int32_t *x __asm__("r6") = *x_io;
    register int32_t n __asm__("r7") = groups;
    register int32_t x0 __asm__("r8");
    register int32_t x1 __asm__("r9");
    register int32_t x2 __asm__("r10");
    register int32_t x3 __asm__("r11");
    register int32_t we __asm__("r12");
    register int32_t wo __asm__("lr");
    __asm__(TWO_GROUPS_LOOP(FIVE_COLUMNS_GROUP_LDM)
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), [w] "+r"(w), [x] "+r"(x),
              [n] "+r"(n), [x0] "=&r"(x0), [x1] "=&r"(x1), [x2] "=&r"(x2), [x3] "=&r"(x3), [we] "=&r"(we),
              [wo] "=&r"(wo)
            :
            : "cc", "memory");
#else
    /* unoptimized builds keep r7 as frame pointer: plain C */
    int32_t a0 = *a0_io, a1 = *a1_io, a2 = *a2_io, a3 = *a3_io, a4 = *a4_io;
    const int8_t *w = *w_io;
    const int32_t *x = *x_io;
    int32_t g;
    for (g = 0; g < groups; ++g, w += 4, x += 2 * COLUMNS) {
        const int32_t wa = load32(w);
        const int32_t we = __sxtb16(wa), wo = sxtb16_odd(wa);
        a0 = __smlad(wo, x[1], __smlad(we, x[0], a0));
        a1 = __smlad(wo, x[3], __smlad(we, x[2], a1));
        a2 = __smlad(wo, x[5], __smlad(we, x[4], a2));
        a3 = __smlad(wo, x[7], __smlad(we, x[6], a3));
        a4 = __smlad(wo, x[9], __smlad(we, x[8], a4));
    }
#endif
    *w_io = w;
    *x_io = x;
    *a0_io = a0;
    *a1_io = a1;
    *a2_io = a2;
    *a3_io = a3;
    *a4_io = a4;
}

/* Every output channel of five columns; outputs of column j at out + j * step. */
#if defined(__OPTIMIZE__)
/* The state of the five-column channel loop, read and advanced by the
 * assembler through one pointer (it loads the first four fields with one
 * LDM and out, step with one LDRD: keep that order). */
typedef struct {
    const int8_t *filter;  /* next channel's filter row */
    const int32_t *bias;   /* next channel's folded bias */
    const int32_t *multiplier;
    const int32_t *shift;
    int8_t *out;           /* next channel's output in column 0 */
    int32_t step;          /* bytes between the outputs of neighbouring columns */
    int32_t offset_term;   /* 2 * output offset + 1: rounding = offset_term << (right shift - 1) */
    int32_t groups;        /* k / 4 */
    const int32_t *work;   /* the packed columns */
    int32_t channels;      /* channels left */
} five_loop_t;

#define FIELD(name) [name] "i"(offsetof(five_loop_t, name))

/* One output of the channel loop: accumulator A requantized, stored at [ADDR]. */
#define REQUANT_TO(A, ADDR)                                                                                       \
    "lsl    " A ", " A ", #1\n\t"                                                                              \
    "smmulr " A ", " A ", r9\n\t"                                                                             \
    "add    r11, r7, " A "\n\t"                                                                                \
    "sub    r11, r11, " A ", lsr #31\n\t"                                                                      \
    "asr    r11, r11, r6\n\t"                                                                                  \
    "ssat   r11, #8, r11\n\t"                                                                                  \
    "strb   r11, " ADDR "\n\t"

#define GROUP_LDM_FIXED                                                                                           \
    "ldr    r12, [r5], #4\n\t"                                                                                 \
    "ldmia  r6!, {r8, r9, r10, r11}\n\t"                                                                       \
    "sxtb16 lr, r12, ror #8\n\t"                                                                               \
    "sxtb16 r12, r12\n\t"                                                                                      \
    "smlad  r0, r12, r8, r0\n\t"                                                                               \
    "smlad  r0, lr, r9, r0\n\t"                                                                                \
    "smlad  r1, r12, r10, r1\n\t"                                                                              \
    "smlad  r1, lr, r11, r1\n\t"                                                                               \
    "ldmia  r6!, {r8, r9, r10, r11}\n\t"                                                                       \
    "smlad  r2, r12, r8, r2\n\t"                                                                               \
    "smlad  r2, lr, r9, r2\n\t"                                                                                \
    "smlad  r3, r12, r10, r3\n\t"                                                                              \
    "smlad  r3, lr, r11, r3\n\t"                                                                               \
    "ldrd   r8, r9, [r6], #8\n\t"                                                                              \
    "smlad  r4, r12, r8, r4\n\t"                                                                               \
    "smlad  r4, lr, r9, r4\n\t"

/* Every output channel of five columns (k a multiple of 4, int8-range
 * activation): per channel the 14-register MAC loop, then requantization
 * and the five stores, all in registers. The loop state lives in *s (its
 * pointer in lr, pushed while the MAC loop needs lr). */
static __attribute__((noinline)) void five_columns_channel_loop(five_loop_t *s)
{
    register five_loop_t *state __asm__("lr") = s;
    __asm__ __volatile__(
        "4:\n\t"
        "ldmia  lr, {r5, r6, r7, r8}\n\t" /* filter, bias, multiplier and shift pointers */
        "ldr    r0, [r6], #4\n\t"
        "ldr    r9, [r7], #4\n\t"
        "ldr    r10, [r8], #4\n\t"
        "stmia  lr, {r5, r6, r7, r8}\n\t"
        "mov    r1, r0\n\t"
        "mov    r2, r0\n\t"
        "mov    r3, r0\n\t"
        "mov    r4, r0\n\t"
        "ldr    r6, [lr, %[work]]\n\t"
        "ldr    r7, [lr, %[groups]]\n\t"
        "push   {r9, r10, lr}\n\t"
        "lsrs   r7, r7, #1\n\t"
        "bcc    2f\n\t" GROUP_LDM_FIXED
        "2:\n\t"
        "beq    3f\n\t"
        "1:\n\t" GROUP_LDM_FIXED GROUP_LDM_FIXED
        "subs   r7, r7, #1\n\t"
        "bne    1b\n\t"
        "3:\n\t"
        "pop    {r9, r10, lr}\n\t"
        "str    r5, [lr, %[filter]]\n\t"
        /* r9 = multiplier, r6 = right shift, r7 = rounding with the output offset */
        "rsb    r6, r10, #0\n\t"
        "sub    r10, r6, #1\n\t"
        "ldr    r7, [lr, %[offset_term]]\n\t"
        "lsl    r7, r7, r10\n\t"
        "ldrd   r12, r10, [lr, %[out]]\n\t" /* out, step */
        REQUANT_TO("r0", "[r12]")
        REQUANT_TO("r1", "[r12, r10]")
        "add    r8, r12, r10, lsl #1\n\t"
        REQUANT_TO("r2", "[r8]")
        "add    r8, r8, r10\n\t"
        REQUANT_TO("r3", "[r8]")
        "add    r8, r8, r10\n\t"
        REQUANT_TO("r4", "[r8]")
        "add    r12, r12, #1\n\t"
        "ldr    r5, [lr, %[channels]]\n\t"
        "str    r12, [lr, %[out]]\n\t"
        "subs   r5, r5, #1\n\t"
        "str    r5, [lr, %[channels]]\n\t"
        "bne    4b"
        : "+r"(state)
        : FIELD(filter), FIELD(bias), FIELD(multiplier), FIELD(shift), FIELD(out), FIELD(step), FIELD(offset_term),
          FIELD(groups), FIELD(work), FIELD(channels)
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
}
#endif

static void gemm_five(const tkw_conv_params_t *p, const int32_t *work, int32_t k, int8_t *out, int32_t step)
{
    const int32_t groups = k >> 2, tail = k & 3;
    const output_t o = output_of(p);
    const int8_t *w = p->filter;
    int32_t oc, t;
#if defined(__OPTIMIZE__)
    if (tail == 0 && groups > 0 && !o.narrow) {
        five_loop_t s;
        s.filter = p->filter;
        s.bias = p->folded_bias;
        s.multiplier = p->multiplier;
        s.shift = p->shift;
        s.out = out;
        s.step = step;
        s.offset_term = 2 * p->output_offset + 1;
        s.groups = groups;
        s.work = work;
        s.channels = p->out_c;
        five_columns_channel_loop(&s);
        return;
    }
#endif
    for (oc = 0; oc < p->out_c; ++oc, ++out) {
        int8_t *q = out;
        const int32_t *x = work;
        const channel_t c = channel_with_offset(p, oc);
        int32_t a0 = p->folded_bias[oc], a1 = a0, a2 = a0, a3 = a0, a4 = a0;
        if (groups > 0) {
            five_columns_mac(&w, &x, groups, &a0, &a1, &a2, &a3, &a4);
        }
        for (t = 0; t < tail; ++t, x += COLUMNS) {
            const int32_t wt = *w++;
            a0 += wt * x[0];
            a1 += wt * x[1];
            a2 += wt * x[2];
            a3 += wt * x[3];
            a4 += wt * x[4];
        }
        q[0] = requantize_out(&c, o, a0);
        q += step;
        q[0] = requantize_out(&c, o, a1);
        q += step;
        q[0] = requantize_out(&c, o, a2);
        q += step;
        q[0] = requantize_out(&c, o, a3);
        q += step;
        q[0] = requantize_out(&c, o, a4);
    }
}

/* Every output channel of four columns; outputs of column j at out + j * step. */
static void gemm_four(const tkw_conv_params_t *p, const int32_t *work, int32_t k, int8_t *out, int32_t step)
{
    const int32_t groups = k >> 2, tail = k & 3;
    const output_t o = output_of(p);
    const int8_t *w = p->filter;
    int32_t oc, t;
    for (oc = 0; oc < p->out_c; ++oc, ++out) {
        int8_t *q = out;
        const int32_t *x = work;
        const channel_t c = channel_with_offset(p, oc);
        int32_t a0 = p->folded_bias[oc], a1 = a0, a2 = a0, a3 = a0;
        if (groups > 0) {
            int32_t n = groups, wa, we, x0, x1;
            /* per group: one filter word unpacked once for four columns */
            __asm__("lsrs   %[n], %[n], #1\n\t" /* n = pairs of groups; C = an odd group */
                    "bcc    2f\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a2], %[we], %[x0], %[a2]\n\t"
                    "smlad  %[a2], %[wa], %[x1], %[a2]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a3], %[we], %[x0], %[a3]\n\t"
                    "smlad  %[a3], %[wa], %[x1], %[a3]\n\t"
                    "add    %[x], %[x], #8\n\t"
                    "2:\n\t"
                    "beq    3f\n\t"
                    "1:\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a2], %[we], %[x0], %[a2]\n\t"
                    "smlad  %[a2], %[wa], %[x1], %[a2]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a3], %[we], %[x0], %[a3]\n\t"
                    "smlad  %[a3], %[wa], %[x1], %[a3]\n\t"
                    "add    %[x], %[x], #8\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a2], %[we], %[x0], %[a2]\n\t"
                    "smlad  %[a2], %[wa], %[x1], %[a2]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "smlad  %[a3], %[we], %[x0], %[a3]\n\t"
                    "smlad  %[a3], %[wa], %[x1], %[a3]\n\t"
                    "add    %[x], %[x], #8\n\t"
                    "subs   %[n], %[n], #1\n\t"
                    "bne    1b\n\t"
                    "3:"
                    : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),
                      [n] "+r"(n), [wa] "=&r"(wa), [we] "=&r"(we), [x0] "=&r"(x0), [x1] "=&r"(x1)
                    :
                    : "cc", "memory");
        }
        for (t = 0; t < tail; ++t, x += COLUMNS) {
            const int32_t wt = *w++;
            a0 += wt * x[0];
            a1 += wt * x[1];
            a2 += wt * x[2];
            a3 += wt * x[3];
        }
        q[0] = requantize_out(&c, o, a0);
        q += step;
        q[0] = requantize_out(&c, o, a1);
        q += step;
        q[0] = requantize_out(&c, o, a2);
        q += step;
        q[0] = requantize_out(&c, o, a3);
    }
}

/* Every output channel of columns 0 and 1. */
static void gemm_two(const tkw_conv_params_t *p, const int32_t *work, int32_t k, int8_t *out, int32_t step)
{
    const int32_t groups = k >> 2, tail = k & 3;
    const output_t o = output_of(p);
    const int8_t *w = p->filter;
    int32_t oc, t;
    for (oc = 0; oc < p->out_c; ++oc, ++out) {
        int8_t *q = out;
        const int32_t *x = work;
        const channel_t c = channel_with_offset(p, oc);
        int32_t a0 = p->folded_bias[oc], a1 = a0;
        if (groups > 0) {
            int32_t n = groups, wa, we, x0, x1;
            __asm__("lsrs   %[n], %[n], #1\n\t" /* n = pairs of groups; C = an odd group */
                    "bcc    2f\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #32\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "2:\n\t"
                    "beq    3f\n\t"
                    "1:\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #32\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "ldr    %[wa], [%[w]], #4\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
                    "sxtb16 %[we], %[wa]\n\t"
                    "sxtb16 %[wa], %[wa], ror #8\n\t"
                    "smlad  %[a0], %[we], %[x0], %[a0]\n\t"
                    "smlad  %[a0], %[wa], %[x1], %[a0]\n\t"
                    "ldrd   %[x0], %[x1], [%[x]], #32\n\t"
                    "smlad  %[a1], %[we], %[x0], %[a1]\n\t"
                    "smlad  %[a1], %[wa], %[x1], %[a1]\n\t"
                    "subs   %[n], %[n], #1\n\t"
                    "bne    1b\n\t"
                    "3:"
                    : [a0] "+r"(a0), [a1] "+r"(a1), [w] "+r"(w), [x] "+r"(x), [n] "+r"(n), [wa] "=&r"(wa),
                      [we] "=&r"(we), [x0] "=&r"(x0), [x1] "=&r"(x1)
                    :
                    : "cc", "memory");
        }
        for (t = 0; t < tail; ++t, x += COLUMNS) {
            const int32_t wt = *w++;
            a0 += wt * x[0];
            a1 += wt * x[1];
        }
        q[0] = requantize_out(&c, o, a0);
        q += step;
        q[0] = requantize_out(&c, o, a1);
    }
}

/* Every output channel of column j. */
static void gemm_one(const tkw_conv_params_t *p, const int32_t *work, int32_t k, int32_t j, int8_t *out)
{
    const int32_t groups = k >> 2, tail = k & 3;
    const output_t o = output_of(p);
    const int8_t *w = p->filter;
    int32_t oc, g, t;
    for (oc = 0; oc < p->out_c; ++oc) {
        const int32_t *x = work + 2 * j;
        const channel_t c = channel_with_offset(p, oc);
        int32_t a0 = p->folded_bias[oc];
        for (g = 0; g < groups; ++g, x += 2 * COLUMNS) {
            const int32_t wa = load32(w);
            w += 4;
            a0 = __smlad(__sxtb16(wa), x[0], a0);
            a0 = __smlad(sxtb16_odd(wa), x[1], a0);
        }
        for (t = 0, x = work + 2 * COLUMNS * groups + j; t < tail; ++t, x += COLUMNS) {
            a0 += *w++ * x[0];
        }
        out[oc] = requantize_out(&c, o, a0);
    }
}

/* Output pixels x0 .. x0 + n - 1 (n <= COLUMNS) of one row, packed as columns 0 .. n - 1. */
static void gemm_columns(const tkw_conv_params_t *p, int32_t k, int32_t n, int8_t *out)
{
    if (n == 5) {
        gemm_five(p, p->work, k, out, p->out_c);
    } else if (n == 4) {
        gemm_four(p, p->work, k, out, p->out_c);
    } else if (n >= 2) {
        gemm_two(p, p->work, k, out, p->out_c);
        if (n == 3) {
            gemm_one(p, p->work, k, 2, out + 2 * p->out_c);
        }
    } else {
        gemm_one(p, p->work, k, 0, out);
    }
}

/* 1x1, stride 1, no padding: the input pixels are the columns. */
static void pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->in_c;
    int32_t y, x, j, n;
    for (y = y0; y < y1; ++y) {
        const int8_t *in_row = tkw_conv_input_row(p, input, y);
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += n) {
            n = p->out_w - x < COLUMNS ? p->out_w - x : COLUMNS;
            for (j = 0; j < n; ++j) {
                pack_column(in_row + (x + j) * k, k, p->work, j);
            }
            gemm_columns(p, k, n, out_row + x * p->out_c);
        }
    }
}
static void fill(int8_t *dst, int32_t n, int8_t value)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        dst[i] = value;
    }
}

/* n words of four bytes `value`. */
static void fill_words(int32_t *dst, int32_t n, int8_t value)
{
    const int32_t word = (int32_t)((uint32_t)(uint8_t)value * 0x01010101u);
    int32_t i;
    for (i = 0; i < n; ++i) {
        dst[i] = word;
    }
}

/* n bytes, four at a time (unaligned words are fine on these cores). */
static void copy(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        const int32_t v = load32(src + i);
        memcpy(dst + i, &v, sizeof v);
    }
    for (; i < n; ++i) {
        dst[i] = src[i];
    }
}

/* One filter row of the window: filter_w taps from input row `row` starting at
 * column x_start; columns outside the input read the zero point. */
static void im2col_span(const tkw_conv_params_t *p, const int8_t *row, int32_t x_start, int8_t *col)
{
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t fx;
    if (p->dilation_w == 1) {
        int32_t lo = x_start < 0 ? -x_start : 0;
        int32_t hi = p->in_w - x_start < p->filter_w ? p->in_w - x_start : p->filter_w;
        hi = hi < lo ? lo : hi;
        fill(col, lo * p->in_c, zero_point);
        copy(col + lo * p->in_c, row + (x_start + lo) * p->in_c, (hi - lo) * p->in_c);
        fill(col + hi * p->in_c, (p->filter_w - hi) * p->in_c, zero_point);
        return;
    }
    for (fx = 0; fx < p->filter_w; ++fx, col += p->in_c) {
        const int32_t x = x_start + fx * p->dilation_w;
        if (x < 0 || x >= p->in_w) {
            fill(col, p->in_c, zero_point);
        } else {
            copy(col, row + x * p->in_c, p->in_c);
        }
    }
}

/* The window of output pixel (oy, ox) as k = filter_h * filter_w * in_c
 * values in filter order; taps in the padding read the input zero point. */
static void im2col(const tkw_conv_params_t *p, const int8_t *input, int32_t oy, int32_t ox, int8_t *col)
{
    const int32_t y_start = oy * p->stride_h - p->pad_top, x_start = ox * p->stride_w - p->pad_left;
    const int32_t span = p->filter_w * p->in_c;
    int32_t fy;
    for (fy = 0; fy < p->filter_h; ++fy, col += span) {
        const int32_t y = y_start + fy * p->dilation_h;
        if (y < 0 || y >= p->in_h) {
            fill(col, span, (int8_t)(-p->input_offset));
        } else {
            im2col_span(p, tkw_conv_input_row(p, input, y), x_start, col);
        }
    }
}

/* Column j for output pixel (oy, ox) when a filter row spans whole groups of
 * four values (filter_w * in_c % 4 == 0, no dilation across the row): each
 * filter row inside the input is packed straight from the input row, the
 * others through the im2col staging bytes. */
static void pack_window_rows(const tkw_conv_params_t *p, const int8_t *input, int32_t oy, int32_t ox, int8_t *col,
                             int32_t j)
{
    const int32_t y_start = oy * p->stride_h - p->pad_top, x_start = ox * p->stride_w - p->pad_left;
    const int32_t span = p->filter_w * p->in_c, groups = span >> 2;
    const int inside_x = x_start >= 0 && x_start + p->filter_w <= p->in_w;
    int32_t *dst = p->work + 2 * j;
    int32_t fy, g;
    for (fy = 0; fy < p->filter_h; ++fy) {
        const int32_t y = y_start + fy * p->dilation_h;
        const int8_t *src = col;
        if (y < 0 || y >= p->in_h) {
            fill(col, span, (int8_t)(-p->input_offset));
        } else if (inside_x) {
            src = tkw_conv_input_row(p, input, y) + x_start * p->in_c;
        } else {
            im2col_span(p, tkw_conv_input_row(p, input, y), x_start, col);
        }
        for (g = 0; g < groups; ++g, dst += 2 * COLUMNS) {
            const int32_t v = load32(src + 4 * g);
            dst[0] = __sxtb16(v);
            dst[1] = sxtb16_odd(v);
        }
    }
}

static void im2col_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int rows_of_groups = (p->filter_w * p->in_c) % 4 == 0 && (p->dilation_w == 1 || p->filter_w == 1);
    int8_t *col = (int8_t *)(p->work + COLUMNS * ((k >> 2) * 2 + (k & 3)));
    int32_t y, x, j, n;
    for (y = y0; y < y1; ++y) {
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += n) {
            n = p->out_w - x < COLUMNS ? p->out_w - x : COLUMNS;
            for (j = 0; j < n; ++j) {
                if (rows_of_groups) {
                    pack_window_rows(p, input, y, x + j, col, j);
                } else {
                    im2col(p, input, y, x + j, col);
                    pack_column(col, k, p->work, j);
                }
            }
            gemm_columns(p, k, n, out_row + x * p->out_c);
        }
    }
}

#if TKW_HAVE_MVE
/* --- Helium (MVE): 1x1 convolution as dot products of 16 int8 lanes ----------- */

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

/* 1x1, stride 1, no padding: five pixels of a row per pass over the filter
 * (a shorter last block repeats its last pixel and stores only its own). */
static void mve_pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0,
                               int32_t y1)
{
    const int32_t k = p->in_c;
    const output_t o = output_of(p);
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
                const channel_t c = channel_with_offset(p, oc);
                int32_t acc[5];
                int8_t *out = out_row + x * p->out_c + oc;
                acc[0] = acc[1] = acc[2] = acc[3] = acc[4] = p->folded_bias[oc];
                mve_dot5(p->filter + oc * k, pixels, k, acc);
                for (j = 0; j < n; ++j) {
                    out[j * p->out_c] = requantize_out(&c, o, acc[j]);
                }
            }
        }
    }
}
#endif

int tkw_dsp_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    if (!p->fast_requant || p->folded_bias == NULL || p->work == NULL) {
        return 0;
    }
    if (p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0
        && p->pad_left == 0 && p->in_w == p->out_w && p->in_h == p->out_h) {
#if TKW_HAVE_MVE
        mve_pointwise_rows(p, input, output, y0, y1);
        return 1;
#endif
        pointwise_rows(p, input, output, y0, y1);
    } else {
        im2col_rows(p, input, output, y0, y1);
    }
    return 1;
}

/* --- DEPTHWISE_CONV_2D, four channels at a time ----------------------------- */

/* Taps are paired down the columns of the window: for channels [c, c+4),
 * one input column (or one filter column) is unpacked into
 * column_words(p) words: pair i (rows 2i, 2i+1) of channel c + j at word
 * 4i + j, as two int16; an odd last row as (c, c+2) and (c+1, c+3) at words
 * 4 * pairs and +1. Per output row and group of four channels, the filter
 * is unpacked once and every input
 * column under the row's windows is unpacked once and read by each output
 * pixel whose window covers it. */
static int32_t column_words(const tkw_conv_params_t *p)
{
    return 4 * (p->filter_h >> 1) + 2 * (p->filter_h & 1);
}

/* src[fy] points at the four channels of tap row fy of one column. */
static void unpack_column(const int8_t *const *src, int32_t filter_h, int32_t *col)
{
    int32_t fy;
    for (fy = 0; fy + 1 < filter_h; fy += 2, col += 4) {
        const int32_t a = load32(src[fy]), b = load32(src[fy + 1]);
        const int32_t lo = pack_low(a, b), hi = pack_high(a, b);
        col[0] = __sxtb16(lo);
        col[1] = sxtb16_odd(lo);
        col[2] = __sxtb16(hi);
        col[3] = sxtb16_odd(hi);
    }
    if (fy < filter_h) {
        const int32_t a = load32(src[fy]);
        col[0] = __sxtb16(a);
        col[1] = sxtb16_odd(a);
    }
}

/* Input columns x_first .. x_first + n - 1 of output row oy for channels [c, c+4);
 * rows (NULL) and columns outside the input read the zero point row. */
#if defined(__OPTIMIZE__)
/* n >= 1 columns of a three-row window whose rows are all inside the input:
 * r0, r1, r2 point at the first column's four channels, `stride` bytes
 * between columns. 15 instructions a column. */
static void unpack_three_rows(const int8_t *r0, const int8_t *r1, const int8_t *r2, int32_t stride, int32_t n,
                              int32_t *cols)
{
    register int32_t c0 __asm__("r0");
    register int32_t c1 __asm__("r1");
    register int32_t c2 __asm__("r2");
    register int32_t c3 __asm__("r3");
    register int32_t c4 __asm__("r4");
    register int32_t c5 __asm__("r5");
    int32_t offset = 0;
    __asm__ __volatile__("1:\n\t"
                         "ldr    %[c0], [%[r0], %[off]]\n\t"
                         "ldr    %[c1], [%[r1], %[off]]\n\t"
                         "ldr    %[c5], [%[r2], %[off]]\n\t"
                         "add    %[off], %[off], %[stride]\n\t"
                         "pkhbt  %[c2], %[c0], %[c1], lsl #16\n\t"
                         "pkhtb  %[c3], %[c1], %[c0], asr #16\n\t"
                         "sxtb16 %[c0], %[c2]\n\t"
                         "sxtb16 %[c1], %[c2], ror #8\n\t"
                         "sxtb16 %[c2], %[c3]\n\t"
                         "sxtb16 %[c3], %[c3], ror #8\n\t"
                         "sxtb16 %[c4], %[c5]\n\t"
                         "sxtb16 %[c5], %[c5], ror #8\n\t"
                         "stmia  %[cols]!, {%[c0], %[c1], %[c2], %[c3], %[c4], %[c5]}\n\t"
                         "subs   %[n], %[n], #1\n\t"
                         "bne    1b"
                         : [c0] "=&r"(c0), [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3), [c4] "=&r"(c4),
                           [c5] "=&r"(c5), [off] "+r"(offset), [n] "+r"(n), [cols] "+r"(cols)
                         : [r0] "r"(r0), [r1] "r"(r1), [r2] "r"(r2), [stride] "r"(stride)
                         : "cc", "memory");
}
#endif

/* The columns of the row's windows left and right of the input: zero points,
 * the same for every channel group. */
static void unpack_pad_columns(const tkw_conv_params_t *p, const int8_t *zero_row, int32_t x_first, int32_t n,
                               int32_t *cols)
{
    const int8_t *src[MAX_DEPTHWISE_TAPS];
    int32_t i, fy;
    for (fy = 0; fy < p->filter_h; ++fy) {
        src[fy] = zero_row;
    }
    for (i = 0; i < n; ++i) {
        if (x_first + i < 0 || x_first + i >= p->in_w) {
            unpack_column(src, p->filter_h, cols + i * column_words(p));
        }
    }
}

static void unpack_inputs(const tkw_conv_params_t *p, const int8_t *const *rows, const int8_t *zero_row,
                          int32_t x_first, int32_t n, int32_t c, int32_t *cols)
{
    const int8_t *src[MAX_DEPTHWISE_TAPS];
    const int32_t words = column_words(p);
    int32_t i, fy;
#if defined(__OPTIMIZE__)
    if (p->filter_h == 3 && rows[0] != NULL && rows[1] != NULL && rows[2] != NULL) {
        /* columns left of the input, inside it (assembler), right of it */
        const int32_t inside0 = x_first < 0 ? -x_first : 0;
        const int32_t inside1 = p->in_w - x_first < n ? p->in_w - x_first : n;
        /* the columns outside hold zero points in every row and channel
         * group: unpack_pad_columns wrote them before the group loop */
        if (inside1 > inside0) {
            const int32_t offset = (x_first + inside0) * p->in_c + c;
            unpack_three_rows(rows[0] + offset, rows[1] + offset, rows[2] + offset, p->in_c, inside1 - inside0,
                              cols + inside0 * words);
        }
        return;
    }
#endif
    for (i = 0; i < n; ++i, cols += words) {
        const int32_t x = x_first + i;
        if (p->filter_h == 3) {
            const int inside = x >= 0 && x < p->in_w;
            const int32_t offset = x * p->in_c + c;
            const int32_t a = load32(inside && rows[0] != NULL ? rows[0] + offset : zero_row + c);
            const int32_t b = load32(inside && rows[1] != NULL ? rows[1] + offset : zero_row + c);
            const int32_t d = load32(inside && rows[2] != NULL ? rows[2] + offset : zero_row + c);
            const int32_t lo = pack_low(a, b), hi = pack_high(a, b);
            cols[0] = __sxtb16(lo);
            cols[1] = sxtb16_odd(lo);
            cols[2] = __sxtb16(hi);
            cols[3] = sxtb16_odd(hi);
            cols[4] = __sxtb16(d);
            cols[5] = sxtb16_odd(d);
            continue;
        }
        if (x >= 0 && x < p->in_w) {
            const int32_t offset = x * p->in_c + c;
            for (fy = 0; fy < p->filter_h; ++fy) {
                src[fy] = rows[fy] != NULL ? rows[fy] + offset : zero_row + c;
            }
        } else {
            for (fy = 0; fy < p->filter_h; ++fy) {
                src[fy] = zero_row + c;
            }
        }
        unpack_column(src, p->filter_h, cols);
    }
}

/* The filter of channels [c, c+4) in the column layout: filter_w columns of
 * column_words(p). */
static void unpack_filter(const tkw_conv_params_t *p, int32_t c, int32_t *wcols)
{
    const int8_t *src[MAX_DEPTHWISE_TAPS];
    const int32_t row_stride = p->filter_w * p->out_c;
    int32_t fx, fy;
#if defined(__OPTIMIZE__)
    if (p->filter_h == 3) {
        const int8_t *w = p->filter + c;
        unpack_three_rows(w, w + row_stride, w + 2 * row_stride, p->out_c, p->filter_w, wcols);
        return;
    }
#endif
    for (fx = 0; fx < p->filter_w; ++fx, wcols += column_words(p)) {
        for (fy = 0; fy < p->filter_h; ++fy) {
            src[fy] = p->filter + fy * row_stride + fx * p->out_c + c;
        }
        unpack_column(src, p->filter_h, wcols);
    }
}

/* Accumulators of four channels over one window column (words of column_words). */
static inline void column_mac(const int32_t *w, const int32_t *x, int32_t pairs, int32_t odd, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = 0; i < pairs; ++i, w += 4, x += 4) {
        a0 = __smlad(w[0], x[0], a0);
        a1 = __smlad(w[1], x[1], a1);
        a2 = __smlad(w[2], x[2], a2);
        a3 = __smlad(w[3], x[3], a3);
    }
    if (odd) {
        a0 = __smlabb(w[0], x[0], a0);
        a2 = __smlatt(w[0], x[0], a2);
        a1 = __smlabb(w[1], x[1], a1);
        a3 = __smlatt(w[1], x[1], a3);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* column_mac for three-row filters (one pair and one single row: six words
 * per column) over the filter_w columns of a window; `skip` bytes between
 * the window's input columns (dilation). */
static inline void three_row_mac(const int32_t *w, const int32_t *x, int32_t filter_w, int32_t skip, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if defined(__OPTIMIZE__)
    int32_t n = filter_w, w0, w1, x0, x1;
    __asm__("1:\n\t"
            "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
            "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
            "smlad  %[a0], %[w0], %[x0], %[a0]\n\t"
            "smlad  %[a1], %[w1], %[x1], %[a1]\n\t"
            "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
            "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
            "smlad  %[a2], %[w0], %[x0], %[a2]\n\t"
            "smlad  %[a3], %[w1], %[x1], %[a3]\n\t"
            "ldrd   %[w0], %[w1], [%[w]], #8\n\t"
            "ldrd   %[x0], %[x1], [%[x]], #8\n\t"
            "smlabb %[a0], %[w0], %[x0], %[a0]\n\t"
            "smlatt %[a2], %[w0], %[x0], %[a2]\n\t"
            "smlabb %[a1], %[w1], %[x1], %[a1]\n\t"
            "smlatt %[a3], %[w1], %[x1], %[a3]\n\t"
            "add    %[x], %[x], %[skip]\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x), [n] "+r"(n),
              [w0] "=&r"(w0), [w1] "=&r"(w1), [x0] "=&r"(x0), [x1] "=&r"(x1)
            : [skip] "r"(skip)
            : "cc", "memory");
#else
    /* unoptimized builds keep r7 as frame pointer: plain C */
    int32_t fx;
    for (fx = 0; fx < filter_w; ++fx, w += 6, x += 6 + skip / 4) {
        a0 = __smlabb(w[4], x[4], __smlad(w[0], x[0], a0));
        a1 = __smlabb(w[5], x[5], __smlad(w[1], x[1], a1));
        a2 = __smlatt(w[4], x[4], __smlad(w[2], x[2], a2));
        a3 = __smlatt(w[5], x[5], __smlad(w[3], x[3], a3));
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Channels [c, c+4) of output row oy; cols holds the unpacked input columns
 * from x_first on. `narrow` (a constant after inlining) adds the activation
 * clamp to the int8 saturation. */
static inline __attribute__((always_inline)) void depthwise_group_row_body(
    const tkw_conv_params_t *p, const int32_t *wcols, const int32_t *cols, int32_t x_first, int32_t c,
    int8_t *out_row, const int narrow)
{
    const int32_t words = column_words(p), pairs = p->filter_h >> 1, odd = p->filter_h & 1;
    const int32_t skip = 4 * words * (p->dilation_w - 1), step = p->stride_w * words;
    const int32_t *block = p->channel_blocks + 4 * c;
    const int32_t b0 = block[0], b1 = block[1], b2 = block[2], b3 = block[3];
    const channel_t c0 = channel_with_offset(p, c), c1 = channel_with_offset(p, c + 1);
    const channel_t c2 = channel_with_offset(p, c + 2), c3 = channel_with_offset(p, c + 3);
    output_t o = output_of(p);
    const int32_t *x = cols + (-p->pad_left - x_first) * words;
    int8_t *out = out_row + c;
    int32_t ox, fx;
    o.narrow = narrow;
    for (ox = 0; ox < p->out_w; ++ox, x += step, out += p->out_c) {
        int32_t acc[4];
        acc[0] = b0;
        acc[1] = b1;
        acc[2] = b2;
        acc[3] = b3;
        if (words == 6) {
            three_row_mac(wcols, x, p->filter_w, skip, acc);
        } else {
            for (fx = 0; fx < p->filter_w; ++fx) {
                column_mac(wcols + fx * words, x + fx * p->dilation_w * words, pairs, odd, acc);
            }
        }
        out[0] = requantize_out(&c0, o, acc[0]);
        out[1] = requantize_out(&c1, o, acc[1]);
        out[2] = requantize_out(&c2, o, acc[2]);
        out[3] = requantize_out(&c3, o, acc[3]);
    }
}

#if defined(__OPTIMIZE__)
/* What the 3x3 pixel loop reads per group of four channels: folded biases,
 * requantization constants (multiplier, rounding with the output offset,
 * right shift) per channel, the packed filter, the strides. */
typedef struct {
    int32_t bias[4];
    int32_t rq[4][3];
    const int32_t *filter;
    int32_t column_step; /* bytes between the first input columns of neighbouring pixels */
    int32_t out_step;    /* bytes between neighbouring output pixels */
    int32_t count;
} group3x3_t;

/* Four output channels of the requantization: acc in a register, constants at k. */
#define REQUANT_STORE(A, K, J)                                                                                    \
    "ldrd   %[m], %[r], [%[k], #" K "]\n\t"                                                                    \
    "ldr    %[s], [%[k], #" K "+8]\n\t"                                                                        \
    "lsl    " A ", " A ", #1\n\t"                                                                              \
    "smmulr " A ", " A ", %[m]\n\t"                                                                            \
    "add    %[r], %[r], " A "\n\t"                                                                             \
    "sub    %[r], %[r], " A ", lsr #31\n\t"                                                                    \
    "asr    %[r], %[r], %[s]\n\t"                                                                              \
    "ssat   %[r], #8, %[r]\n\t"                                                                                \
    "strb   %[r], [%[out], #" J "]\n\t"

#define WINDOW_COLUMN                                                                                             \
    "ldrd   %[m], %[r], [%[wp]], #8\n\t"                                                                       \
    "ldrd   %[s], %[t], [%[xp]], #8\n\t"                                                                       \
    "smlad  %[a0], %[m], %[s], %[a0]\n\t"                                                                      \
    "smlad  %[a1], %[r], %[t], %[a1]\n\t"                                                                      \
    "ldrd   %[m], %[r], [%[wp]], #8\n\t"                                                                       \
    "ldrd   %[s], %[t], [%[xp]], #8\n\t"                                                                       \
    "smlad  %[a2], %[m], %[s], %[a2]\n\t"                                                                      \
    "smlad  %[a3], %[r], %[t], %[a3]\n\t"                                                                      \
    "ldrd   %[m], %[r], [%[wp]], #8\n\t"                                                                       \
    "ldrd   %[s], %[t], [%[xp]], #8\n\t"                                                                       \
    "smlabb %[a0], %[m], %[s], %[a0]\n\t"                                                                      \
    "smlatt %[a2], %[m], %[s], %[a2]\n\t"                                                                      \
    "smlabb %[a1], %[r], %[t], %[a1]\n\t"                                                                      \
    "smlatt %[a3], %[r], %[t], %[a3]\n\t"

/* Every pixel of one output row for a 3x3 filter, dilation 1, int8-range
 * activation: windows, requantization and stores in one loop. */
static __attribute__((noinline)) void depthwise_row_3x3(const group3x3_t *g, const int32_t *x, int8_t *out)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r1");
    register int32_t a2 __asm__("r2");
    register int32_t a3 __asm__("r3");
    int32_t m, r, s, t;
    const int32_t *wp, *xp;
    int32_t n = g->count;
    /* volatile: the stores are its only effect */
    __asm__ __volatile__("1:\n\t"
            "ldmia  %[k], {%[a0], %[a1], %[a2], %[a3]}\n\t"
            "ldr    %[wp], [%[k], #64]\n\t"
            "mov    %[xp], %[x]\n\t"
            WINDOW_COLUMN WINDOW_COLUMN WINDOW_COLUMN
            REQUANT_STORE("%[a0]", "16", "0") REQUANT_STORE("%[a1]", "28", "1")
            REQUANT_STORE("%[a2]", "40", "2") REQUANT_STORE("%[a3]", "52", "3")
            "ldrd   %[m], %[r], [%[k], #68]\n\t"
            "add    %[x], %[x], %[m]\n\t"
            "add    %[out], %[out], %[r]\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [m] "=&r"(m), [r] "=&r"(r),
              [s] "=&r"(s), [t] "=&r"(t), [wp] "=&r"(wp), [xp] "=&r"(xp), [x] "+r"(x), [out] "+r"(out), [n] "+r"(n)
            : [k] "r"(g)
            : "cc", "memory");
}

/* The 3x3 loop applies: three-row filter three columns wide, no dilation,
 * activation bounds that are the int8 range. */
static int depthwise_fits_3x3(const tkw_conv_params_t *p)
{
    return p->filter_h == 3 && p->filter_w == 3 && p->dilation_w == 1 && !output_of(p).narrow;
}
#endif

static void depthwise_group_row(const tkw_conv_params_t *p, const int32_t *wcols, const int32_t *cols,
                                int32_t x_first, int32_t c, int8_t *out_row)
{
    if (output_of(p).narrow) {
        depthwise_group_row_body(p, wcols, cols, x_first, c, out_row, 1);
    } else {
        depthwise_group_row_body(p, wcols, cols, x_first, c, out_row, 0);
    }
}

static int32_t input_columns(const tkw_conv_params_t *p)
{
    return (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
}

/* Work: a row of input zero points (in_c bytes), then the unpacked input
 * columns of one output row and channel group (input_columns * column_words). */
int tkw_dsp_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                                  int32_t y0, int32_t y1)
{
    const int8_t *zero_row = (const int8_t *)p->work;
    int32_t *cols = p->work + p->in_c / 4;
    const int8_t *rows[MAX_DEPTHWISE_TAPS];
    int32_t wcols[MAX_FILTER_WORDS];
    int32_t y, fy, c;
    if (!p->fast_requant || p->channel_blocks == NULL || p->work == NULL || p->depth_multiplier != 1
        || (p->in_c & 3) != 0 || p->filter_h * p->filter_w > MAX_DEPTHWISE_TAPS) {
        return 0;
    }
#if defined(__OPTIMIZE__)
    const int fits_3x3 = depthwise_fits_3x3(p);
    group3x3_t g;
    g.filter = wcols;
    g.column_step = 4 * 6 * p->stride_w;
    g.out_step = p->out_c;
    g.count = p->out_w;
#endif
    fill_words(p->work, p->in_c / 4, (int8_t)(-p->input_offset));
    for (y = y0; y < y1; ++y) {
        const int32_t x_first = -p->pad_left;
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (fy = 0; fy < p->filter_h; ++fy) {
            const int32_t in_y = y * p->stride_h - p->pad_top + fy * p->dilation_h;
            rows[fy] = in_y < 0 || in_y >= p->in_h ? NULL : tkw_conv_input_row(p, input, in_y);
        }
        unpack_pad_columns(p, zero_row, x_first, input_columns(p), cols);
        for (c = 0; c < p->in_c; c += 4) {
            unpack_filter(p, c, wcols);
            unpack_inputs(p, rows, zero_row, x_first, input_columns(p), c, cols);
#if defined(__OPTIMIZE__)
            if (fits_3x3) {
                memcpy(&g, p->channel_blocks + 4 * c, 16 * sizeof(int32_t)); /* bias[4], rq[4][3] */
                depthwise_row_3x3(&g, cols + (-p->pad_left - x_first) * 6, out_row + c);
                continue;
            }
#endif
            depthwise_group_row(p, wcols, cols, x_first, c, out_row);
        }
    }
    return 1;
}

#else

typedef int tkw_conv_dsp_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_DSP */
