/* AVERAGE_POOL_2D, MAX_POOL_2D and MEAN over height and width, int8;
 * rounding as TFLite Micro's reference_integer_ops::AveragePool, MaxPool and
 * reference_ops::QuantizedMeanOrSum. */
#include "tkw_dsp.h"
#include "tkw_fixedpoint.h"
#include "tkw_kernels.h"

typedef struct {
    int32_t y0, y1, x0, x1; /* window rows [y0, y1) and columns [x0, x1) inside the input */
} window_t;

static window_t pool_window(const tkw_pool_params_t *p, int32_t oy, int32_t ox)
{
    window_t w;
    const int32_t in_y0 = oy * p->stride_h - p->pad_top;
    const int32_t in_x0 = ox * p->stride_w - p->pad_left;
    w.y0 = in_y0 > 0 ? in_y0 : 0;
    w.x0 = in_x0 > 0 ? in_x0 : 0;
    w.y1 = in_y0 + p->filter_h < p->in_h ? in_y0 + p->filter_h : p->in_h;
    w.x1 = in_x0 + p->filter_w < p->in_w ? in_x0 + p->filter_w : p->in_w;
    return w;
}

static int32_t average(int32_t sum, int32_t count)
{
    /* Round to nearest, ties away from zero (integer division truncates). */
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

void tkw_average_pool2d_rows(const tkw_pool_params_t *p, const int8_t *input, int8_t *output,
                             int32_t y0, int32_t y1)
{
    int32_t oy, ox, c, y, x;
    for (oy = y0; oy < y1; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            const window_t w = pool_window(p, oy, ox);
            const int32_t count = (w.y1 - w.y0) * (w.x1 - w.x0);
            for (c = 0; c < p->channels; ++c) {
                int32_t sum = 0;
                for (y = w.y0; y < w.y1; ++y) {
                    for (x = w.x0; x < w.x1; ++x) {
                        sum += input[((y % p->in_rows) * p->in_w + x) * p->channels + c];
                    }
                }
                output[((oy % p->out_rows) * p->out_w + ox) * p->channels + c] =
                    (int8_t)tkw_clamp(count > 0 ? average(sum, count) : 0, p->act_min, p->act_max);
            }
        }
    }
}

void tkw_max_pool2d_rows(const tkw_pool_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    int32_t oy, ox, c, y, x;
    for (oy = y0; oy < y1; ++oy) {
        for (ox = 0; ox < p->out_w; ++ox) {
            const window_t w = pool_window(p, oy, ox);
            for (c = 0; c < p->channels; ++c) {
                int32_t best = INT8_MIN;
                for (y = w.y0; y < w.y1; ++y) {
                    for (x = w.x0; x < w.x1; ++x) {
                        const int32_t v = input[((y % p->in_rows) * p->in_w + x) * p->channels + c];
                        best = v > best ? v : best;
                    }
                }
                output[((oy % p->out_rows) * p->out_w + ox) * p->channels + c] =
                    (int8_t)tkw_clamp(best, p->act_min, p->act_max);
            }
        }
    }
}

void tkw_average_pool2d(const tkw_pool_params_t *p, const int8_t *input, int8_t *output)
{
    tkw_average_pool2d_rows(p, input, output, 0, p->out_h);
}

void tkw_max_pool2d(const tkw_pool_params_t *p, const int8_t *input, int8_t *output)
{
    tkw_max_pool2d_rows(p, input, output, 0, p->out_h);
}

void tkw_mean_finish(const tkw_mean_params_t *p, const int32_t *sums, int8_t *output)
{
    const int32_t count = p->in_h * p->in_w;
    int32_t c;
    for (c = 0; c < p->channels; ++c) {
        const int32_t out = tkw_mbqm(sums[c] - p->input_zero_point * count, p->multiplier, p->shift);
        output[c] = (int8_t)tkw_clamp(out + p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}

static void add_row(const tkw_mean_params_t *p, const int8_t *row, int32_t *sums, int last)
{
    int32_t x, c;
#if TKW_HAVE_DSP
    if (tkw_dsp_mean_add_row(p, row, sums, last)) {
        return;
    }
#else
    (void)last;
#endif
    for (x = 0; x < p->in_w; ++x) {
        for (c = 0; c < p->channels; ++c) {
            sums[c] += row[x * p->channels + c];
        }
    }
}

/* Adds input rows [y0, y1) to the running sums; the last row writes the means. */
void tkw_mean_hw_rows(const tkw_mean_params_t *p, const int8_t *input, int8_t *output, int32_t *sums,
                      int32_t y0, int32_t y1)
{
    int32_t y, c;
    for (y = y0; y < y1; ++y) {
        const int8_t *row = input + (y % p->in_rows) * p->in_w * p->channels;
        if (y == 0) {
            for (c = 0; c < p->channels; ++c) {
                sums[c] = 0;
            }
        }
        add_row(p, row, sums, y == p->in_h - 1);
        if (y == p->in_h - 1) {
            tkw_mean_finish(p, sums, output);
        }
    }
}

void tkw_mean_hw(const tkw_mean_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t count = p->in_h * p->in_w;
    int32_t c, i;
    for (c = 0; c < p->channels; ++c) {
        int32_t sum = 0;
        int32_t out;
        for (i = 0; i < count; ++i) {
            sum += input[i * p->channels + c];
        }
        out = tkw_mbqm(sum - p->input_zero_point * count, p->multiplier, p->shift);
        output[c] = (int8_t)tkw_clamp(out + p->output_zero_point, INT8_MIN, INT8_MAX);
    }
}
