/* CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel; rounding as TFLite Micro's
 * reference_integer_ops::ConvPerChannel and DepthwiseConvPerChannel.
 * Window taps that fall into the padding are skipped, as in TFLite.
 * On cores with the DSP extension the optimized kernels of tkw_conv_dsp.c
 * take the layers they handle (same results). */
#include "tkw_dsp.h"
#include "tkw_fixedpoint.h"
#include "tkw_kernels.h"

/* The taps of one output pixel's window that lie inside the input. */
typedef struct {
    int32_t in_y0, in_x0;  /* input position of tap (0, 0); may be negative */
    int32_t fy0, fy1;      /* valid filter rows [fy0, fy1) */
    int32_t fx0, fx1;      /* valid filter columns [fx0, fx1) */
} taps_t;

/* First tap index t >= 0 with origin + dilation * t >= 0. */
static int32_t first_tap(int32_t origin, int32_t dilation)
{
    return origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
}

/* One past the last tap index t < size with origin + dilation * t < limit. */
static int32_t end_tap(int32_t origin, int32_t dilation, int32_t size, int32_t limit)
{
    int32_t end;
    if (origin >= limit) {
        return 0;
    }
    end = (limit - origin + dilation - 1) / dilation;
    return end < size ? end : size;
}

static taps_t window_taps(const tkw_conv_params_t *p, int32_t oy, int32_t ox)
{
    taps_t t;
    t.in_y0 = oy * p->stride_h - p->pad_top;
    t.in_x0 = ox * p->stride_w - p->pad_left;
    t.fy0 = first_tap(t.in_y0, p->dilation_h);
    t.fy1 = end_tap(t.in_y0, p->dilation_h, p->filter_h, p->in_h);
    t.fx0 = first_tap(t.in_x0, p->dilation_w);
    t.fx1 = end_tap(t.in_x0, p->dilation_w, p->filter_w, p->in_w);
    return t;
}

static int8_t requantize(const tkw_conv_params_t *p, int32_t acc, int32_t oc)
{
    if (p->bias != NULL) {
        acc += p->bias[oc];
    }
    acc = tkw_mbqm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return (int8_t)tkw_clamp(acc, p->act_min, p->act_max);
}

static int32_t dot_with_offset(const int8_t *w, const int8_t *x, int32_t n, int32_t offset)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] + offset);
    }
    return acc;
}

static int32_t conv_point(const tkw_conv_params_t *p, const int8_t *input, const taps_t *t, int32_t oc)
{
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = t->fy0; fy < t->fy1; ++fy) {
        const int8_t *row = tkw_conv_input_row(p, input, t->in_y0 + p->dilation_h * fy);
        const int8_t *w = p->filter + (oc * p->filter_h + fy) * p->filter_w * p->in_c;
        if (p->dilation_w == 1) {
            /* the valid taps of this filter row are contiguous in input and filter */
            acc += dot_with_offset(w + t->fx0 * p->in_c, row + (t->in_x0 + t->fx0) * p->in_c,
                                   (t->fx1 - t->fx0) * p->in_c, p->input_offset);
            continue;
        }
        for (fx = t->fx0; fx < t->fx1; ++fx) {
            acc += dot_with_offset(w + fx * p->in_c, row + (t->in_x0 + p->dilation_w * fx) * p->in_c,
                                   p->in_c, p->input_offset);
        }
    }
    return acc;
}

void tkw_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    int32_t oy, ox, oc;
#if TKW_HAVE_DSP
    if (tkw_dsp_conv2d_rows(p, input, output, y0, y1)) {
        return;
    }
#endif
    if (p->filter == NULL || p->multiplier == NULL || p->shift == NULL) {
        return; /* constants only in the optimized layout, which the optimized kernel took (tkw_dsp.h) */
    }
    for (oy = y0; oy < y1; ++oy) {
        int8_t *out_row = tkw_conv_output_row(p, output, oy);
        for (ox = 0; ox < p->out_w; ++ox) {
            const taps_t t = window_taps(p, oy, ox);
            int8_t *out_px = out_row + ox * p->out_c;
            for (oc = 0; oc < p->out_c; ++oc) {
                out_px[oc] = requantize(p, conv_point(p, input, &t, oc), oc);
            }
        }
    }
}

static int32_t depthwise_point(const tkw_conv_params_t *p, const int8_t *input, const taps_t *t,
                               int32_t ic, int32_t oc)
{
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = t->fy0; fy < t->fy1; ++fy) {
        const int8_t *row = tkw_conv_input_row(p, input, t->in_y0 + p->dilation_h * fy);
        const int8_t *w = p->filter + fy * p->filter_w * p->out_c + oc;
        for (fx = t->fx0; fx < t->fx1; ++fx) {
            const int32_t in_val = row[(t->in_x0 + p->dilation_w * fx) * p->in_c + ic];
            acc += (int32_t)w[fx * p->out_c] * (in_val + p->input_offset);
        }
    }
    return acc;
}

void tkw_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                               int32_t y0, int32_t y1)
{
    int32_t oy, ox, ic, m;
#if TKW_HAVE_DSP
    if (tkw_dsp_depthwise_conv2d_rows(p, input, output, y0, y1)) {
        return;
    }
#endif
    if (p->filter == NULL || p->multiplier == NULL || p->shift == NULL) {
        return; /* constants only in the optimized layout, which the optimized kernel took (tkw_dsp.h) */
    }
    for (oy = y0; oy < y1; ++oy) {
        int8_t *out_row = tkw_conv_output_row(p, output, oy);
        for (ox = 0; ox < p->out_w; ++ox) {
            const taps_t t = window_taps(p, oy, ox);
            int8_t *out_px = out_row + ox * p->out_c;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_multiplier; ++m) {
                    const int32_t oc = ic * p->depth_multiplier + m;
                    out_px[oc] = requantize(p, depthwise_point(p, input, &t, ic, oc), oc);
                }
            }
        }
    }
}

void tkw_conv2d(const tkw_conv_params_t *p, const int8_t *input, int8_t *output)
{
    tkw_conv2d_rows(p, input, output, 0, p->out_h);
}

void tkw_depthwise_conv2d(const tkw_conv_params_t *p, const int8_t *input, int8_t *output)
{
    tkw_depthwise_conv2d_rows(p, input, output, 0, p->out_h);
}
