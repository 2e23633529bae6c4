/* CONV_2D for Cortex-M cores with the DSP extension, as a matrix product:
 * [out_c][k] filter times k-value columns, five output pixels at a time.
 * The results are those of the portable kernel in tkw_conv.c, which is
 * bit-exact with TensorFlow Lite Micro:
 *  - the generator pre-unpacks the filter into int16 pairs of doubled values
 *    (filter_pairs: per output channel and group of four taps, the pairs
 *    (w0, w2) and (w1, w3), zero-padded to whole groups), so the inner loop
 *    only loads and multiplies; the input offset is folded into the bias
 *    (channel_params: 2 * (bias + input_offset * sum of taps), multiplier,
 *    rounding with the output offset, right shift), so a window tap in the
 *    padding reads the input zero point and adds exactly 0;
 *  - the requantization is tkw_dsp_util.h's (SMMLAR), valid because the
 *    generator proved |accumulator| < 2^30 (fast_requant).
 * Columns: a pixel's k values unpacked once (SXTB16) and read by every
 * output channel. The five-column channel loop is one assembler block:
 * per group of four taps one LDRD of filter pairs, two LDMs of five column
 * words and ten SMLADs (20 MACs in 13 instructions), unrolled 16 groups deep
 * and entered part-way, so no loop counter runs inside a channel. Builds
 * without optimization (r7 is the frame pointer there), narrow activation
 * bounds and blocks of fewer than five pixels use the C form of the same
 * product. 1x1 convolutions read input pixels directly; others go through
 * im2col. Helium cores run every convolution in tkw_conv_mve.c (im2col
 * windows staged here as bytes). */
#include "tkw_dsp.h"

#if TKW_HAVE_DSP

#include <stddef.h>

#include "tkw_dsp_util.h"

/* Columns of one block: group g of column j at words GROUP_WORDS * g + j
 * (taps 0 and 2 of the group) and + COLUMNS (taps 1 and 3), int16 pairs. */
#define COLUMNS 5
#define GROUP_WORDS (2 * COLUMNS)
#define UNROLLED_GROUPS 16 /* groups per pass of the assembler block */
/* filter_pairs is one stream per output channel: 2 * folded bias COLUMNS
 * times (one LDM starts every accumulator), the filter pairs, then
 * multiplier, rounding, right shift */

static int32_t groups_of(int32_t k)
{
    return (k + 3) >> 2;
}

/* Column j from k int8 values (the last group zero-padded). */
static void pack_column(const int8_t *src, int32_t k, int32_t *cols, int32_t j)
{
    int32_t full = k >> 2;
    int32_t *dst = cols + j;
#if defined(__OPTIMIZE__)
    if (full > 0) {
        int32_t v, e;
        __asm__ __volatile__("1:\n\t"
                             "ldr    %[v], [%[src]], #4\n\t"
                             "sxtb16 %[e], %[v]\n\t"
                             "sxtb16 %[v], %[v], ror #8\n\t"
                             "str    %[v], [%[dst], %[odd]]\n\t"
                             "str    %[e], [%[dst]], %[step]\n\t"
                             "subs   %[n], %[n], #1\n\t"
                             "bne    1b"
                             : [v] "=&r"(v), [e] "=&r"(e), [src] "+r"(src), [dst] "+r"(dst), [n] "+r"(full)
                             : [odd] "i"(4 * COLUMNS), [step] "i"(4 * GROUP_WORDS)
                             : "cc", "memory");
    }
#else
    for (; full > 0; --full, src += 4, dst += GROUP_WORDS) {
        const int32_t v = tkw_load32(src);
        dst[0] = __sxtb16(v);
        dst[COLUMNS] = tkw_sxtb16_odd(v);
    }
#endif
    if (k & 3) {
        uint32_t v = 0u;
        int32_t t;
        for (t = 0; t < (k & 3); ++t) {
            v |= (uint32_t)(uint8_t)src[t] << (8 * t);
        }
        dst[0] = __sxtb16((int32_t)v);
        dst[COLUMNS] = tkw_sxtb16_odd((int32_t)v);
    }
}

#if defined(__OPTIMIZE__)
/* Columns 0 .. 4 from five pixels `k` bytes apart (k >= 4; the k % 4 tail
 * is left to pack_tail): per group the five words in six loads, ten SXTB16
 * and one STM. */
static __attribute__((noinline)) void pack_five_columns(const int8_t *src, int32_t k, int32_t *cols)
{
    register const int8_t *s __asm__("r10") = src;
    register int32_t stride __asm__("r11") = k;
    register int32_t *dst __asm__("r12") = cols;
    register int32_t n __asm__("lr") = k >> 2;
    __asm__ __volatile__("1:\n\t"
                         "ldr    r0, [r10]\n\t"
                         "ldr    r1, [r10, r11]\n\t"
                         "ldr    r2, [r10, r11, lsl #1]\n\t"
                         "add    r3, r10, r11\n\t"
                         "ldr    r3, [r3, r11, lsl #1]\n\t"
                         "ldr    r4, [r10, r11, lsl #2]\n\t"
                         "sxtb16 r5, r0, ror #8\n\t"
                         "sxtb16 r6, r1, ror #8\n\t"
                         "sxtb16 r7, r2, ror #8\n\t"
                         "sxtb16 r8, r3, ror #8\n\t"
                         "sxtb16 r9, r4, ror #8\n\t"
                         "sxtb16 r0, r0\n\t"
                         "sxtb16 r1, r1\n\t"
                         "sxtb16 r2, r2\n\t"
                         "sxtb16 r3, r3\n\t"
                         "sxtb16 r4, r4\n\t"
                         "stmia  r12!, {r0, r1, r2, r3, r4, r5, r6, r7, r8, r9}\n\t"
                         "adds   r10, r10, #4\n\t"
                         "subs   lr, lr, #1\n\t"
                         "bne    1b"
                         : "+r"(s), "+r"(stride), "+r"(dst), "+r"(n)
                         :
                         : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "cc", "memory");
}
#endif

/* Every output channel of columns 0 .. n - 1; outputs of column j at out + j * step. */
static void gemm_c(const tkw_conv_params_t *p, const int32_t *cols, int32_t groups, int32_t n, int8_t *out,
                   int32_t step)
{
    const tkw_act_t a = tkw_act_of(p);
    const int32_t *w = p->filter_pairs; /* per channel: biases [COLUMNS], filter pairs, rq [3] */
    int32_t oc, g, j;
    for (oc = 0; oc < p->out_c; ++oc, ++out) {
        int32_t acc[COLUMNS];
        const int32_t *x = cols;
        for (j = 0; j < n; ++j) {
            acc[j] = w[0];
        }
        for (g = 0, w += COLUMNS; g < groups; ++g, w += 2, x += GROUP_WORDS) {
            for (j = 0; j < n; ++j) {
                acc[j] = __smlad(w[1], x[COLUMNS + j], __smlad(w[0], x[j], acc[j]));
            }
        }
        for (j = 0; j < n; ++j) {
            out[j * step] = tkw_requant(acc[j], w, a);
        }
        w += 3;
    }
}

#if defined(__OPTIMIZE__)
/* The state of the five-column channel loop, read and advanced by the
 * assembler through one pointer (field offsets are used there: keep them). */
typedef struct {
    const int32_t *w;  /* 0: the first channel's stream */
    const int32_t *unused; /* 4 */
    int8_t *out;       /* 8: next channel's output in column 0 */
    int32_t step;      /* 12: bytes between the outputs of neighbouring columns */
    const int32_t *x;  /* 16: the columns */
    uint32_t entry;    /* 20: in: bytes of the first pass; then its address */
    int32_t passes;    /* 24: full passes after the first (five_channels) */
    const int8_t *end; /* 28: the output of the channel after the last, in column 0 */
} five_t;

/* One group of four taps: 20 MACs; 13 instructions of 4 bytes (the entry
 * address depends on it: every instruction is a 32-bit encoding). */
#define GROUP_BYTES 52
#define FIVE_GROUP                                                                                                \
    "ldrd    r12, lr, [r5], #8\n\t"                                                                            \
    "ldmia.w r6!, {r7, r8, r9, r10, r11}\n\t"                                                                  \
    "smlad   r0, r12, r7, r0\n\t"                                                                              \
    "smlad   r1, r12, r8, r1\n\t"                                                                              \
    "smlad   r2, r12, r9, r2\n\t"                                                                              \
    "smlad   r3, r12, r10, r3\n\t"                                                                             \
    "smlad   r4, r12, r11, r4\n\t"                                                                             \
    "ldmia.w r6!, {r7, r8, r9, r10, r11}\n\t"                                                                  \
    "smlad   r0, lr, r7, r0\n\t"                                                                               \
    "smlad   r1, lr, r8, r1\n\t"                                                                               \
    "smlad   r2, lr, r9, r2\n\t"                                                                               \
    "smlad   r3, lr, r10, r3\n\t"                                                                              \
    "smlad   r4, lr, r11, r4\n\t"

#define FIVE_REQUANT(A) TKW_ASM_REQUANT("r12", A, "r7", "r8", "r9")

/* Every output channel of five columns (int8-range activation), walking the
 * channel streams with one pointer (r5): per channel the five accumulators
 * from the bias copies (one LDM), the unrolled MAC block entered at the first
 * pass's first group (PUSH and POP save what it needs besides lr; PASSES
 * repeats it), then the requantization constants (one LDM), requantization
 * and the five stores. */
#define FIVE_CHANNEL_LOOP(PUSH, PASSES, POP)                                                                      \
    __asm__ __volatile__(                                                                                          \
        "adr.w  r12, 9f\n\t"                                                                                       \
        "ldr    r7, [lr, #20]\n\t"                                                                                 \
        "sub    r12, r12, r7\n\t"                                                                                  \
        "orr    r12, r12, #1\n\t"                                                                                  \
        "str    r12, [lr, #20]\n\t"                                                                                \
        "ldr    r5, [lr]\n\t"                                                                                      \
        "4:\n\t"                                                                                                   \
        "ldmia  r5!, {r0, r1, r2, r3, r4}\n\t"                                                                     \
        "ldrd   r6, r12, [lr, #16]\n\t" PUSH                                                                       \
        "bx     r12\n\t"                                                                                           \
        "1:\n\t"                                                                                                   \
        ".rept 16\n\t" FIVE_GROUP ".endr\n\t"                                                                      \
        "9:\n\t" PASSES POP                                                                                        \
        "ldmia  r5!, {r7, r8, r9}\n\t"                                                                             \
        "ldrd   r10, r11, [lr, #8]\n\t"                                                                            \
        "adds   r6, r10, #1\n\t"                                                                                   \
        "str    r6, [lr, #8]\n\t"                                                                                  \
        FIVE_REQUANT("r0") "strb   r12, [r10]\n\t"                                                                 \
        FIVE_REQUANT("r1") "strb   r12, [r10, r11]\n\t"                                                            \
        FIVE_REQUANT("r2") "strb   r12, [r10, r11, lsl #1]\n\t"                                                    \
        FIVE_REQUANT("r4") "strb   r12, [r10, r11, lsl #2]\n\t"                                                    \
        "add    r10, r10, r11\n\t"                                                                                 \
        FIVE_REQUANT("r3") "strb   r12, [r10, r11, lsl #1]\n\t"                                                    \
        "ldr    r7, [lr, #28]\n\t"                                                                                 \
        "cmp    r6, r7\n\t"                                                                                        \
        "bne    4b"                                                                                                \
        : "+r"(state)                                                                                              \
        :                                                                                                          \
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cc", "memory")

#define ONE_PASS_PUSH "push   {lr}\n\t"
#define ONE_PASS_POP "pop    {lr}\n\t"
#define PASSES_PUSH                                                                                               \
    "ldr    r7, [lr, #24]\n\t"                                                                                     \
    "push   {r7, lr}\n\t"
#define MORE_PASSES                                                                                               \
    "ldr    r12, [sp]\n\t"                                                                                         \
    "subs   r12, r12, #1\n\t"                                                                                      \
    "str    r12, [sp]\n\t"                                                                                         \
    "bge    1b\n\t"
#define PASSES_POP "pop    {r7, lr}\n\t"

/* noinline: the loops need every register but sp and pc; aligned: ADR
 * (the entry address) counts from the word-aligned PC, and -Os would place
 * the function at a halfword */
static __attribute__((noinline, aligned(4))) void five_channels_one_pass(five_t *s)
{
    register five_t *state __asm__("lr") = s;
    FIVE_CHANNEL_LOOP(ONE_PASS_PUSH, "", ONE_PASS_POP);
}

static __attribute__((noinline, aligned(4))) void five_channels(five_t *s)
{
    register five_t *state __asm__("lr") = s;
    FIVE_CHANNEL_LOOP(PASSES_PUSH, MORE_PASSES, PASSES_POP);
}
#endif

/* Output pixels of one block (n <= COLUMNS), packed as columns 0 .. n - 1 in p->work. */
static void gemm_block(const tkw_conv_params_t *p, int32_t groups, int32_t n, int8_t *out)
{
#if defined(__OPTIMIZE__)
    if (n == COLUMNS && !tkw_act_of(p).narrow) {
        five_t s;
        s.w = p->filter_pairs;
        s.unused = NULL;
        s.out = out;
        s.step = p->out_c;
        s.x = p->work;
        s.passes = (groups - 1) / UNROLLED_GROUPS;
        s.entry = (uint32_t)(GROUP_BYTES * (groups - UNROLLED_GROUPS * s.passes));
        s.end = out + p->out_c;
        if (s.passes == 0) {
            five_channels_one_pass(&s);
        } else {
            five_channels(&s);
        }
        return;
    }
#endif
    gemm_c(p, p->work, groups, n, out, p->out_c);
}

/* 1x1, stride 1, no padding: the input pixels are the columns. */
static void pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->in_c, groups = groups_of(k);
    int32_t y, x, j, n;
    for (y = y0; y < y1; ++y) {
        const int8_t *in_row = tkw_conv_input_row(p, input, y);
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += n) {
            n = p->out_w - x < COLUMNS ? p->out_w - x : COLUMNS;
#if defined(__OPTIMIZE__)
            if (n == COLUMNS && k >= 4) {
                pack_five_columns(in_row + x * k, k, p->work);
                if (k & 3) {
                    for (j = 0; j < n; ++j) {
                        pack_column(in_row + (x + j) * k + (k & ~3), k & 3, p->work + GROUP_WORDS * (k >> 2), j);
                    }
                }
                gemm_block(p, groups, n, out_row + x * p->out_c);
                continue;
            }
#endif
            for (j = 0; j < n; ++j) {
                pack_column(in_row + (x + j) * k, k, p->work, j);
            }
            gemm_block(p, groups, n, out_row + x * p->out_c);
        }
    }
}

static void fill(int8_t *dst, int32_t n, int8_t value)
{
    memset(dst, (uint8_t)value, (size_t)(n > 0 ? n : 0));
}

static void copy(int8_t *dst, const int8_t *src, int32_t n)
{
    memcpy(dst, src, (size_t)(n > 0 ? n : 0));
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

/* Input columns a window row may touch: (out_w - 1) * stride_w + filter_w
 * (dilation 1), from x = -pad_left on. */
static int32_t padded_width(const tkw_conv_params_t *p)
{
    return (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
}

/* Words of the filter_h input rows of one output row with their padding
 * (zero points) around them, as rows_of_groups packs from them. */
static int32_t padded_rows_words(const tkw_conv_params_t *p)
{
    return (p->filter_h * padded_width(p) * p->in_c + 3) >> 2;
}

/* A filter row spans whole groups of four values with no dilation across it. */
static int rows_of_groups(const tkw_conv_params_t *p)
{
    return (p->filter_w * p->in_c) % 4 == 0 && (p->dilation_w == 1 || p->filter_w == 1);
}

/* The filter_h input rows of output row oy, each padded left and right with
 * the input zero point (rows outside the input: all zero points). */
static void pad_rows(const tkw_conv_params_t *p, const int8_t *input, int32_t oy, int8_t *rows)
{
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const int32_t width = padded_width(p), x_end = width - p->pad_left;
    const int32_t inside = (x_end < p->in_w ? x_end : p->in_w) * p->in_c;
    const int32_t row_bytes = width * p->in_c, left = p->pad_left * p->in_c;
    int32_t fy;
    for (fy = 0; fy < p->filter_h; ++fy, rows += row_bytes) {
        const int32_t y = oy * p->stride_h - p->pad_top + fy * p->dilation_h;
        if (y < 0 || y >= p->in_h) {
            fill(rows, row_bytes, zero_point);
            continue;
        }
        fill(rows, left, zero_point);
        copy(rows + left, tkw_conv_input_row(p, input, y), inside);
        fill(rows + left + inside, row_bytes - left - inside, zero_point);
    }
}

/* Column j for output pixel ox from the padded rows (rows_of_groups). */
static void pack_padded_window(const tkw_conv_params_t *p, const int8_t *rows, int32_t ox, int32_t j)
{
    const int32_t groups = (p->filter_w * p->in_c) >> 2, row_bytes = padded_width(p) * p->in_c;
    const int8_t *src = rows + ox * p->stride_w * p->in_c;
    int32_t *dst = p->work + j;
    int32_t fy, g;
    for (fy = 0; fy < p->filter_h; ++fy, src += row_bytes) {
        for (g = 0; g < groups; ++g, dst += GROUP_WORDS) {
            const int32_t v = tkw_load32(src + 4 * g);
            dst[0] = __sxtb16(v);
            dst[COLUMNS] = tkw_sxtb16_odd(v);
        }
    }
}

/* A filter row is one word of input bytes (filter_w * in_c == 4, the usual
 * first layer: 10x4 over one channel): each window row is one load from the
 * input row, with the bytes left or right of the row replaced by the zero
 * point; no staging. */
static int span_is_one_word(const tkw_conv_params_t *p)
{
    return p->filter_w * p->in_c == 4 && (p->dilation_w == 1 || p->filter_w == 1) && p->in_w * p->in_c >= 4;
}

/* The window row of input row `row` (row_bytes long) from byte `off` on, zero
 * points outside the row. */
static inline int32_t window_word(const int8_t *row, int32_t off, int32_t row_bytes, uint32_t zero_word)
{
    if (off >= 0 && off + 4 <= row_bytes) {
        return tkw_load32(row + off);
    }
    if (off < 0) {
        const int32_t d = -off;
        return d >= 4 ? (int32_t)zero_word
                      : (int32_t)(((uint32_t)tkw_load32(row) << (8 * d)) | (zero_word >> (32 - 8 * d)));
    } else {
        const int32_t e = off + 4 - row_bytes;
        return e >= 4 ? (int32_t)zero_word
                      : (int32_t)(((uint32_t)tkw_load32(row + row_bytes - 4) >> (8 * e))
                                  | (zero_word << (32 - 8 * e)));
    }
}

/* Column j for output pixel (oy, ox) of a one-word-span filter (the
 * parameters are copied into locals: the column stores could alias them). */
static void pack_word_window(const tkw_conv_params_t *p, const int8_t *input, int32_t oy, int32_t ox, int32_t j)
{
    const uint32_t zero_word = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u;
    const int32_t filter_h = p->filter_h, in_h = p->in_h, dilation_h = p->dilation_h;
    const int32_t row_bytes = p->in_w * p->in_c, off = (ox * p->stride_w - p->pad_left) * p->in_c;
    const int32_t y_start = oy * p->stride_h - p->pad_top;
    int32_t *dst = p->work + j;
    int32_t fy, y;
    if (p->in_rows >= in_h && off > -4 && off < row_bytes) {
        /* a whole input tensor: per row one load, shifted when the window
         * hangs over the row's left or right end (zero points shifted in) */
        const int32_t step = dilation_h * row_bytes;
        const int32_t left = off < 0 ? -off : 0, right = off + 4 > row_bytes ? off + 4 - row_bytes : 0;
        const uint32_t lsl = 8u * (uint32_t)left, lsr = 8u * (uint32_t)right;
        const uint32_t fill = (left ? zero_word >> (32u - lsl) : 0u) | (right ? zero_word << (32u - lsr) : 0u);
        int32_t at = y_start * row_bytes + (left ? 0 : right ? row_bytes - 4 : off);
        for (fy = 0, y = y_start; fy < filter_h; ++fy, dst += GROUP_WORDS, y += dilation_h, at += step) {
            const int32_t v = (uint32_t)y < (uint32_t)in_h
                                  ? (int32_t)((((uint32_t)tkw_load32(input + at) << lsl) >> lsr) | fill)
                                  : (int32_t)zero_word;
            dst[0] = __sxtb16(v);
            dst[COLUMNS] = tkw_sxtb16_odd(v);
        }
        return;
    }
    for (fy = 0, y = y_start; fy < filter_h; ++fy, dst += GROUP_WORDS, y += dilation_h) {
        const int32_t v = y < 0 || y >= in_h ? (int32_t)zero_word
                                            : window_word(tkw_conv_input_row(p, input, y), off, row_bytes, zero_word);
        dst[0] = __sxtb16(v);
        dst[COLUMNS] = tkw_sxtb16_odd(v);
    }
}

/* Work words of the window staging after the columns: none for one-word
 * spans; the padded rows when the layer qualifies and the buffer holds them;
 * else one k-byte window. */
static int use_padded_rows(const tkw_conv_params_t *p, int32_t groups)
{
    return rows_of_groups(p) && p->work_words >= GROUP_WORDS * groups + padded_rows_words(p);
}

static void im2col_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->filter_h * p->filter_w * p->in_c, groups = groups_of(k);
    const int word_span = span_is_one_word(p), padded = !word_span && use_padded_rows(p, groups);
    int8_t *staging = (int8_t *)(p->work + GROUP_WORDS * groups);
    int32_t y, x, j, n;
    for (y = y0; y < y1; ++y) {
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        if (padded) {
            pad_rows(p, input, y, staging);
        }
        for (x = 0; x < p->out_w; x += n) {
            n = p->out_w - x < COLUMNS ? p->out_w - x : COLUMNS;
            for (j = 0; j < n; ++j) {
                if (word_span) {
                    pack_word_window(p, input, y, x + j, j);
                } else if (padded) {
                    pack_padded_window(p, staging, x + j, j);
                } else {
                    im2col(p, input, y, x + j, staging);
                    pack_column(staging, k, p->work, j);
                }
            }
            gemm_block(p, groups, n, out_row + x * p->out_c);
        }
    }
}

#if TKW_HAVE_MVE
/* The window of output pixel (oy, ox) of a one-word-span filter as bytes
 * (filter order; zero points outside the input). */
static void word_window(const tkw_conv_params_t *p, const int8_t *input, int32_t oy, int32_t ox, int8_t *col)
{
    const uint32_t zero_word = (uint32_t)(uint8_t)(-p->input_offset) * 0x01010101u;
    const int32_t row_bytes = p->in_w * p->in_c, off = (ox * p->stride_w - p->pad_left) * p->in_c;
    int32_t fy, y;
    for (fy = 0, y = oy * p->stride_h - p->pad_top; fy < p->filter_h; ++fy, y += p->dilation_h, col += 4) {
        const int32_t v = y < 0 || y >= p->in_h ? (int32_t)zero_word
                                                : window_word(tkw_conv_input_row(p, input, y), off, row_bytes, zero_word);
        memcpy(col, &v, sizeof v);
    }
}

/* Helium: the windows of five pixels as bytes in the work buffer, then every
 * output channel's dot products over them (tkw_conv_mve.c). */
static void mve_im2col_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int word_span = span_is_one_word(p);
    int8_t *windows = (int8_t *)p->work;
    const int8_t *pixels[COLUMNS];
    int32_t y, x, j, n;
    for (y = y0; y < y1; ++y) {
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        for (x = 0; x < p->out_w; x += n) {
            n = p->out_w - x < COLUMNS ? p->out_w - x : COLUMNS;
            for (j = 0; j < n; ++j) {
                int8_t *col = windows + j * k;
                if (word_span) {
                    word_window(p, input, y, x + j, col);
                } else {
                    im2col(p, input, y, x + j, col);
                }
                pixels[j] = col;
            }
            tkw_mve_conv_block(p, pixels, n, out_row + x * p->out_c);
        }
    }
}
#endif

static int is_pointwise(const tkw_conv_params_t *p)
{
    return p->filter_h == 1 && p->filter_w == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_top == 0
           && p->pad_left == 0 && p->in_w == p->out_w && p->in_h == p->out_h;
}

/* Words of work the layer needs at least: the columns of one block, and for
 * im2col (except one-word spans) one window of k bytes (the generator sized
 * work_words the same way, with room for the padded rows where they fit). */
static int32_t work_words_needed(const tkw_conv_params_t *p, int pointwise)
{
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    return GROUP_WORDS * groups_of(k) + (pointwise || span_is_one_word(p) ? 0 : groups_of(k));
}

int tkw_dsp_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    const int pointwise = is_pointwise(p);
    if (!p->fast_requant || p->filter_pairs == NULL || p->work == NULL) {
        return 0;
    }
#if TKW_HAVE_MVE
    if (pointwise) {
        return tkw_mve_pointwise_rows(p, input, output, y0, y1);
    }
    if (p->filter != NULL && 4 * p->work_words >= COLUMNS * p->filter_h * p->filter_w * p->in_c) {
        mve_im2col_rows(p, input, output, y0, y1); /* five k-byte windows fit in the work buffer */
        return 1;
    }
#endif
    if (p->work_words < work_words_needed(p, pointwise)) {
        return 0; /* a work buffer smaller than the kernel needs: never write past it */
    }
    if (pointwise) {
        pointwise_rows(p, input, output, y0, y1);
    } else {
        im2col_rows(p, input, output, y0, y1);
    }
    return 1;
}

#else

typedef int tkw_conv_dsp_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_DSP */
