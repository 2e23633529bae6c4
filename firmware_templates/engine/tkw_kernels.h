/* tinykws kernel library: int8 kernels bit-exact with TensorFlow Lite Micro's
 * reference kernels. Every requantization constant is computed by the
 * generator (Python) and passed in a const parameter struct; the kernels only
 * do integer arithmetic. Tensors are NHWC with batch 1, int8, row-major.
 * Portable C99, no allocation, no I/O, no floating point. */
#ifndef TKW_KERNELS_H
#define TKW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Row rings: a tensor of H rows may be held in a buffer of only `rows` rows,
 * row y at slot y % rows (rows == H for a whole tensor). The row pipeline
 * below uses this to stream consecutive layers without materialising the
 * intermediate tensors. */

/* CONV_2D and DEPTHWISE_CONV_2D. Filter layout as in the .tflite:
 * conv [out_c][filter_h][filter_w][in_c], depthwise [1][filter_h][filter_w][out_c]
 * with out_c = in_c * depth_multiplier. */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t in_rows, out_rows;  /* rows held by the input and output buffers */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth_multiplier;   /* depthwise only; 1 for conv */
    int32_t input_offset;       /* -(input zero point) */
    int32_t output_offset;      /* output zero point */
    int32_t act_min, act_max;   /* fused activation, quantized */
    const int8_t *filter;
    const int32_t *bias;        /* [out_c] or NULL */
    const int32_t *multiplier;  /* [out_c] per-channel requantization */
    const int32_t *shift;       /* [out_c] */
    /* For the optimized kernels (tkw_conv_dsp.c, tkw_depthwise_dsp.c, tkw_conv_mve.c), computed by the
     * generator (tinykws.codegen.dsp); NULL/0 where a layer does not qualify (the portable kernel runs): */
    int32_t fast_requant;       /* 1: every shift <= -1 and |accumulator| < 2^30 for all inputs, so
                                 * the requantization may use SMMLAR (same results) */
    const int32_t *filter_pairs; /* conv: per output channel 2 * (bias + input_offset * sum of its taps) five
                                 * times, then [ceil(k / 4)][2] int16 pairs of doubled taps (0, 2) and (1, 3)
                                 * of each group of four (zero-padded; k = filter_h * filter_w * in_c), then
                                 * multiplier, rounding with the output offset, right shift */
    const int32_t *channel_blocks; /* depthwise: per group of four channels the doubled folded biases [4],
                                 * (multiplier, rounding, right shift) [4], then the filter columns */
    int32_t *work;              /* transient work buffer of the optimized kernels, or NULL */
    int32_t work_words;         /* its size in 32-bit words; a kernel that needs more declines the layer */
} tkw_conv_params_t;

/* FULLY_CONNECTED: output[b][o] from input[b][accum_depth], filter [out_depth][accum_depth]. */
typedef struct {
    int32_t batches, accum_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    const int8_t *filter;
    const int32_t *bias;        /* [out_depth] or NULL */
    const int32_t *multiplier;  /* [out_depth] (per-tensor models repeat one value) */
    const int32_t *shift;       /* [out_depth] */
} tkw_fc_params_t;

/* AVERAGE_POOL_2D and MAX_POOL_2D (same input and output quantization). */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t in_rows, out_rows;  /* rows held by the input and output buffers */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} tkw_pool_params_t;

/* MEAN over height and width of an [h][w][c] tensor -> [c]. */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t in_rows;            /* rows held by the input buffer */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;  /* include the 1/(h*w) factor */
} tkw_mean_params_t;

/* ADD of two tensors of the same shape, each with its own quantization. */
typedef struct {
    int32_t size;
    int32_t left_shift;
    int32_t input1_offset, input1_multiplier, input1_shift;
    int32_t input2_offset, input2_multiplier, input2_shift;
    int32_t output_offset, output_multiplier, output_shift;
    int32_t act_min, act_max;
} tkw_add_params_t;

/* SOFTMAX int8 -> int8 (output scale 1/256, zero point -128) along the last axis. */
typedef struct {
    int32_t outer_size, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} tkw_softmax_params_t;

/* PAD of a 4-D tensor with a constant value. */
typedef struct {
    int32_t in_dims[4];
    int32_t pad_before[4];
    int32_t pad_after[4];
    int32_t pad_value;
} tkw_pad_params_t;

/* A chain of row-wise layers run as a pipeline: each stage computes an output
 * row as soon as the rows it needs exist, so intermediate tensors only need
 * row rings. The first stage reads a whole tensor, the last writes one. */
typedef enum {
    TKW_STAGE_CONV2D,
    TKW_STAGE_DEPTHWISE_CONV2D,
    TKW_STAGE_AVERAGE_POOL2D,
    TKW_STAGE_MAX_POOL2D,
    TKW_STAGE_MEAN_HW           /* last stage only: sums rows, writes [c] at the end */
} tkw_stage_kind_t;

typedef struct {
    tkw_stage_kind_t kind;
    const void *params;         /* tkw_conv_params_t, tkw_pool_params_t or tkw_mean_params_t */
    const int8_t *input;
    int8_t *output;
    int32_t *scratch;           /* MEAN: int32 sums [channels]; NULL otherwise */
} tkw_stage_t;

/* rows_done: caller-provided scratch of `count` values. */
void tkw_run_pipeline(const tkw_stage_t *stages, int32_t count, int32_t *rows_done);

/* The same rows in a precomputed order: order[i] is the stage that computes
 * its next row at step i (the generator replays tkw_run_pipeline's rule). */
void tkw_run_pipeline_order(const tkw_stage_t *stages, int32_t count, const uint8_t *order, int32_t steps,
                            int32_t *rows_done);

void tkw_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1);
void tkw_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                               int32_t y0, int32_t y1);
void tkw_average_pool2d_rows(const tkw_pool_params_t *p, const int8_t *input, int8_t *output,
                             int32_t y0, int32_t y1);
void tkw_max_pool2d_rows(const tkw_pool_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1);
void tkw_mean_hw_rows(const tkw_mean_params_t *p, const int8_t *input, int8_t *output, int32_t *sums,
                      int32_t y0, int32_t y1);
/* The means [channels] from the sums of all in_h x in_w values of each channel. */
void tkw_mean_finish(const tkw_mean_params_t *p, const int32_t *sums, int8_t *output);

/* Whole-tensor forms (all output rows). */
void tkw_conv2d(const tkw_conv_params_t *p, const int8_t *input, int8_t *output);
void tkw_depthwise_conv2d(const tkw_conv_params_t *p, const int8_t *input, int8_t *output);
void tkw_fully_connected(const tkw_fc_params_t *p, const int8_t *input, int8_t *output);
void tkw_average_pool2d(const tkw_pool_params_t *p, const int8_t *input, int8_t *output);
void tkw_max_pool2d(const tkw_pool_params_t *p, const int8_t *input, int8_t *output);
void tkw_mean_hw(const tkw_mean_params_t *p, const int8_t *input, int8_t *output);
void tkw_add(const tkw_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void tkw_softmax(const tkw_softmax_params_t *p, const int8_t *input, int8_t *output);
void tkw_pad(const tkw_pad_params_t *p, const int8_t *input, int8_t *output);
void tkw_copy(const int8_t *input, int8_t *output, int32_t size);

/* Start of input row y of a convolution, in a buffer holding p->in_rows rows
 * (a ring when fewer than in_h); shared by the portable and the DSP kernels. */
static inline const int8_t *tkw_conv_input_row(const tkw_conv_params_t *p, const int8_t *input, int32_t y)
{
    const int32_t slot = y < p->in_rows ? y : y % p->in_rows;
    return input + slot * p->in_w * p->in_c;
}

/* Start of output row y, in a buffer holding p->out_rows rows. */
static inline int8_t *tkw_conv_output_row(const tkw_conv_params_t *p, int8_t *output, int32_t y)
{
    const int32_t slot = y < p->out_rows ? y : y % p->out_rows;
    return output + slot * p->out_w * p->out_c;
}

#ifdef __cplusplus
}
#endif

#endif /* TKW_KERNELS_H */
