/* DEPTHWISE_CONV_2D for Cortex-M cores with the DSP extension, four channels
 * at a time; results are those of the portable kernel in tkw_conv.c (bit-exact
 * with TensorFlow Lite Micro), by the same folded biases and requantization
 * as the convolution (tkw_dsp_util.h).
 *
 * SMLAD multiplies pairs of taps of one channel, so taps are paired down the
 * columns of the window: one input (or filter) column of channels [c, c+4)
 * is column_words(p) words: pair i (rows 2i, 2i+1) of channel c + j at word
 * 4i + j as two int16; an odd last row as (c, c+2) and (c+1, c+3) at words
 * 4 * pairs and +1. The generator writes the filter in this layout (values
 * doubled) into channel_blocks, one block per group of four channels: the
 * doubled folded biases [4], the filter_w filter columns, then (multiplier,
 * rounding, right shift) [4]. Per output row and channel group every input
 * column under the row's windows is unpacked once and read by each output
 * pixel whose window covers it. 3x3 windows (dilation 1, int8-range
 * activation) run one assembler loop per row: per pixel and group 36 MACs in
 * 24 instructions, requantization and stores included 66. */
#include "tkw_dsp.h"

#if TKW_HAVE_DSP

#include <stddef.h>

#include "tkw_dsp_util.h"

#define MAX_DEPTHWISE_TAPS 16
#define BLOCK_BIAS_WORDS 4 /* then the filter columns, then (multiplier, rounding, right shift) [4] */
#define BLOCK_RQ_WORDS 12

static int32_t column_words(const tkw_conv_params_t *p)
{
    return 4 * (p->filter_h >> 1) + 2 * (p->filter_h & 1);
}

static int32_t block_words(const tkw_conv_params_t *p)
{
    return BLOCK_BIAS_WORDS + p->filter_w * column_words(p) + BLOCK_RQ_WORDS;
}

static int32_t input_columns(const tkw_conv_params_t *p)
{
    return (p->out_w - 1) * p->stride_w + (p->filter_w - 1) * p->dilation_w + 1;
}

/* src[fy] points at the four channels of tap row fy of one column. */
static void unpack_column(const int8_t *const *src, int32_t filter_h, int32_t *col)
{
    int32_t fy;
    for (fy = 0; fy + 1 < filter_h; fy += 2, col += 4) {
        const int32_t a = tkw_load32(src[fy]), b = tkw_load32(src[fy + 1]);
        const int32_t lo = tkw_pack_low(a, b), hi = tkw_pack_high(a, b);
        col[0] = __sxtb16(lo);
        col[1] = tkw_sxtb16_odd(lo);
        col[2] = __sxtb16(hi);
        col[3] = tkw_sxtb16_odd(hi);
    }
    if (fy < filter_h) {
        const int32_t a = tkw_load32(src[fy]);
        col[0] = __sxtb16(a);
        col[1] = tkw_sxtb16_odd(a);
    }
}

/* The columns of the row's windows left and right of the input: zero points,
 * the same for every channel group; unpacked, every word is the int16 zero
 * point twice. */
static void unpack_pad_columns(const tkw_conv_params_t *p, int32_t x_first, int32_t n, int32_t *cols)
{
    const int32_t words = column_words(p), in_w = p->in_w;
    const int32_t zero = (int32_t)(((uint32_t)(uint16_t)(int16_t)(-p->input_offset)) * 0x00010001u);
    int32_t i, w;
    for (i = 0; i < n; ++i) {
        if (x_first + i < 0 || x_first + i >= in_w) {
            for (w = 0; w < words; ++w) {
                cols[i * words + w] = zero;
            }
        }
    }
}

/* The input columns of the row's windows that lie inside the input, for
 * channels [c, c+4); rows[fy] == NULL (outside the input) read the zero point
 * row (the columns outside were written by unpack_pad_columns). */
static void unpack_inputs(const tkw_conv_params_t *p, const int8_t *const *rows, const int8_t *zero_row,
                          int32_t x_first, int32_t n, int32_t c, int32_t *cols)
{
    const int8_t *src[MAX_DEPTHWISE_TAPS];
    const int32_t words = column_words(p);
    const int32_t inside0 = x_first < 0 ? -x_first : 0;
    const int32_t inside1 = p->in_w - x_first < n ? p->in_w - x_first : n;
    int32_t i, fy;
    for (i = inside0; i < inside1; ++i) {
        const int32_t offset = (x_first + i) * p->in_c + c;
        for (fy = 0; fy < p->filter_h; ++fy) {
            src[fy] = (rows[fy] != NULL ? rows[fy] : zero_row) + offset;
        }
        unpack_column(src, p->filter_h, cols + i * words);
    }
}

/* Channels [c, c+4) of output row oy in C (any window); block: the group's
 * channel block, cols: the unpacked input columns from x_first on. */
static void depthwise_group_row(const tkw_conv_params_t *p, const int32_t *block, const int32_t *cols,
                                int32_t x_first, int8_t *out_row)
{
    const int32_t words = column_words(p), pairs = p->filter_h >> 1, odd = p->filter_h & 1;
    const int32_t *wcols = block + BLOCK_BIAS_WORDS, *rq = wcols + p->filter_w * words;
    const tkw_act_t a = tkw_act_of(p);
    int32_t ox, fx, i, j;
    for (ox = 0; ox < p->out_w; ++ox, out_row += p->out_c) {
        int32_t acc[4];
        for (j = 0; j < 4; ++j) {
            acc[j] = block[j];
        }
        for (fx = 0; fx < p->filter_w; ++fx) {
            const int32_t *w = wcols + fx * words;
            const int32_t *x = cols + (ox * p->stride_w - p->pad_left - x_first + fx * p->dilation_w) * words;
            for (i = 0; i < pairs; ++i, w += 4, x += 4) {
                for (j = 0; j < 4; ++j) {
                    acc[j] = __smlad(w[j], x[j], acc[j]);
                }
            }
            if (odd) {
                acc[0] = __smlabb(w[0], x[0], acc[0]);
                acc[2] = __smlatt(w[0], x[0], acc[2]);
                acc[1] = __smlabb(w[1], x[1], acc[1]);
                acc[3] = __smlatt(w[1], x[1], acc[3]);
            }
        }
        for (j = 0; j < 4; ++j) {
            out_row[j] = tkw_requant(acc[j], rq + 3 * j, a);
        }
    }
}

#if defined(__OPTIMIZE__)
/* The state of the 3x3 row loop over channel groups, read and advanced by the
 * assembler (field offsets are used there: keep them). */
typedef struct {
    const int8_t *row[3];  /* 0: the three input rows at the first inside column, channel c */
    int32_t stride;        /* 12: bytes between input columns (in_c) */
    int32_t inside;        /* 16: input columns inside the input (>= 1) */
    int32_t *inside_cols;  /* 20: where the first inside column is unpacked */
    const int32_t *block;  /* 24: the group's channel block */
    int32_t block_bytes;   /* 28 */
    const int32_t *cols;   /* 32: the first window's columns */
    int8_t *out;           /* 36: the group's output at pixel 0 */
    int32_t column_adjust; /* 40: bytes from the end of a window to the next pixel's first column */
    int32_t out_step;      /* 44: bytes between neighbouring output pixels */
    int32_t row_bytes;     /* 48: out_w * out_step */
    int32_t groups;        /* 52: channel groups left */
} row3x3_t;

/* One input column of three rows into six words: 15 instructions. */
#define UNPACK_THREE_ROWS                                                                                         \
    "ldr    r0, [r6, r11]\n\t"                                                                                 \
    "ldr    r1, [r7, r11]\n\t"                                                                                 \
    "ldr    r5, [r8, r11]\n\t"                                                                                 \
    "add    r11, r11, r9\n\t"                                                                                  \
    "pkhbt  r2, r0, r1, lsl #16\n\t"                                                                           \
    "pkhtb  r3, r1, r0, asr #16\n\t"                                                                           \
    "sxtb16 r0, r2\n\t"                                                                                        \
    "sxtb16 r1, r2, ror #8\n\t"                                                                                \
    "sxtb16 r2, r3\n\t"                                                                                        \
    "sxtb16 r3, r3, ror #8\n\t"                                                                                \
    "sxtb16 r4, r5\n\t"                                                                                        \
    "sxtb16 r5, r5, ror #8\n\t"                                                                                \
    "stmia  r12!, {r0, r1, r2, r3, r4, r5}\n\t"

/* One window column: channels' pairs (rows 0, 1) and the single row 2. */
#define WINDOW_COLUMN                                                                                             \
    "ldmia  r10!, {r4, r5, r6}\n\t"                                                                            \
    "ldmia  r12!, {r7, r8, r9}\n\t"                                                                            \
    "smlad  r0, r4, r7, r0\n\t"                                                                                \
    "smlad  r1, r5, r8, r1\n\t"                                                                                \
    "smlad  r2, r6, r9, r2\n\t"                                                                                \
    "ldmia  r10!, {r4, r5, r6}\n\t"                                                                            \
    "ldmia  r12!, {r7, r8, r9}\n\t"                                                                            \
    "smlad  r3, r4, r7, r3\n\t"                                                                                \
    "smlabb r0, r5, r8, r0\n\t"                                                                                \
    "smlatt r2, r5, r8, r2\n\t"                                                                                \
    "smlabb r1, r6, r9, r1\n\t"                                                                                \
    "smlatt r3, r6, r9, r3\n\t"

/* Requantize accumulators A and B with the constants loaded into r4-r6 and r7-r9. */
#define TWO_OUTPUTS(A, B, J)                                                                                      \
    "ldmia  r10!, {r4, r5, r6, r7, r8, r9}\n\t" TKW_ASM_REQUANT("r5", A, "r4", "r5", "r6")                    \
    "strb   r5, [lr, #" J "]\n\t" TKW_ASM_REQUANT("r8", B, "r7", "r8", "r9")                                   \
    "strb   r8, [lr, #" J "+1]\n\t"

/* Every channel group of one output row of a 3x3 depthwise layer whose three
 * input rows are inside the input: per group the inside input columns are
 * unpacked, then every pixel's window, requantization and stores (block in
 * r11, window columns in r12, output in lr; the pixel loop's constants on
 * the stack). */
static __attribute__((noinline)) void depthwise_row_3x3(row3x3_t *state)
{
    register row3x3_t *s __asm__("r0") = state;
    __asm__ __volatile__("push   {r0}\n\t"
                         "5:\n\t" /* next channel group: unpack its inside input columns */
                         "ldr    r11, [sp]\n\t"
                         "ldmia  r11, {r6, r7, r8, r9, r10, r12}\n\t"
                         "movs   r11, #0\n\t"
                         "6:\n\t" UNPACK_THREE_ROWS
                         "subs   r10, r10, #1\n\t"
                         "bne    6b\n\t"
                         "ldr    r0, [sp]\n\t"
                         "ldr    r11, [r0, #24]\n\t"
                         "ldr    r12, [r0, #32]\n\t"
                         "ldr    lr, [r0, #36]\n\t"
                         "ldrd   r4, r5, [r0, #40]\n\t"
                         "ldr    r6, [r0, #48]\n\t"
                         "add    r6, r6, lr\n\t"
                         "push   {r4, r5, r6}\n\t"
                         "1:\n\t" /* next pixel */
                         "ldmia  r11, {r0, r1, r2, r3}\n\t"
                         "add    r10, r11, #16\n\t" WINDOW_COLUMN WINDOW_COLUMN WINDOW_COLUMN
                         TWO_OUTPUTS("r0", "r1", "0") TWO_OUTPUTS("r2", "r3", "2")
                         "ldmia  sp, {r4, r5, r6}\n\t"
                         "add    r12, r12, r4\n\t"
                         "add    lr, lr, r5\n\t"
                         "cmp    lr, r6\n\t"
                         "bne    1b\n\t"
                         "add    sp, sp, #12\n\t"
                         "ldr    r0, [sp]\n\t" /* advance the group state */
                         "ldmia  r0, {r1, r2, r3}\n\t"
                         "adds   r1, r1, #4\n\t"
                         "adds   r2, r2, #4\n\t"
                         "adds   r3, r3, #4\n\t"
                         "stmia  r0, {r1, r2, r3}\n\t"
                         "ldrd   r1, r2, [r0, #24]\n\t"
                         "add    r1, r1, r2\n\t"
                         "str    r1, [r0, #24]\n\t"
                         "ldr    r1, [r0, #36]\n\t"
                         "adds   r1, r1, #4\n\t"
                         "str    r1, [r0, #36]\n\t"
                         "ldr    r1, [r0, #52]\n\t"
                         "subs   r1, r1, #1\n\t"
                         "str    r1, [r0, #52]\n\t"
                         "bne    5b\n\t"
                         "add    sp, sp, #4"
                         : "+r"(s)
                         :
                         : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc",
                           "memory");
}

/* The 3x3 loop applies: three-row filter three columns wide, no dilation,
 * activation bounds that are the int8 range. */
static int depthwise_fits_3x3(const tkw_conv_params_t *p)
{
    return p->filter_h == 3 && p->filter_w == 3 && p->dilation_w == 1 && !tkw_act_of(p).narrow;
}
#endif

/* Work words: a row of input zero points (in_w * in_c bytes, so that rows
 * outside the input unpack like the others), then the unpacked input columns
 * of one output row and channel group. */
static int32_t work_words_needed(const tkw_conv_params_t *p)
{
    return p->in_w * p->in_c / 4 + input_columns(p) * column_words(p);
}

int tkw_dsp_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                                  int32_t y0, int32_t y1)
{
    const int8_t *zero_row = (const int8_t *)p->work;
    int32_t *cols = p->work + p->in_w * p->in_c / 4;
    const int8_t *rows[MAX_DEPTHWISE_TAPS];
    const int32_t x_first = -p->pad_left, n_cols = input_columns(p), words = block_words(p);
    int32_t y, fy, c;
    if (!p->fast_requant || p->channel_blocks == NULL || p->work == NULL || p->depth_multiplier != 1
        || (p->in_c & 3) != 0 || p->filter_h * p->filter_w > MAX_DEPTHWISE_TAPS
        || p->work_words < work_words_needed(p)) {
        return 0;
    }
    for (y = y0; y < y1; ++y) {
        int8_t *out_row = tkw_conv_output_row(p, output, y);
        const int32_t *block = p->channel_blocks;
        int outside = 0;
        for (fy = 0; fy < p->filter_h; ++fy) {
            const int32_t in_y = y * p->stride_h - p->pad_top + fy * p->dilation_h;
            rows[fy] = in_y < 0 || in_y >= p->in_h ? NULL : tkw_conv_input_row(p, input, in_y);
            outside |= rows[fy] == NULL;
        }
        if (outside) { /* rows outside the input read a row of zero points */
            memset(p->work, (uint8_t)(-p->input_offset), (size_t)(p->in_w * p->in_c));
        }
        unpack_pad_columns(p, x_first, n_cols, cols);
#if defined(__OPTIMIZE__)
        const int32_t inside0 = x_first < 0 ? -x_first : 0;
        const int32_t inside1 = p->in_w - x_first < n_cols ? p->in_w - x_first : n_cols;
        if (depthwise_fits_3x3(p) && inside1 > inside0) {
            const int32_t offset = (x_first + inside0) * p->in_c;
            row3x3_t s;
            for (fy = 0; fy < 3; ++fy) {
                s.row[fy] = (rows[fy] != NULL ? rows[fy] : zero_row) + offset;
            }
            s.stride = p->in_c;
            s.inside = inside1 - inside0;
            s.inside_cols = cols + inside0 * 6;
            s.block = block;
            s.block_bytes = 4 * words;
            s.cols = cols + (-p->pad_left - x_first) * 6;
            s.out = out_row;
            s.column_adjust = 4 * (6 * p->stride_w - 18);
            s.out_step = p->out_c;
            s.row_bytes = p->out_w * p->out_c;
            s.groups = p->in_c / 4;
            depthwise_row_3x3(&s);
            continue;
        }
#endif
        for (c = 0; c < p->in_c; c += 4, block += words) {
            unpack_inputs(p, rows, zero_row, x_first, n_cols, c, cols);
            depthwise_group_row(p, block, cols, x_first, out_row + c);
        }
    }
    return 1;
}

#else

typedef int tkw_depthwise_dsp_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_DSP */
