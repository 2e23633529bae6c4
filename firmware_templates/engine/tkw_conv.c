/* CONV_2D and DEPTHWISE_CONV_2D, int8 per-channel; rounding as TFLite Micro's
 * reference_integer_ops::ConvPerChannel and DepthwiseConvPerChannel. */
#include "tkw_kernels.h"
#include "tkw_fixedpoint.h"

static int32_t requantize(const tkw_conv_params_t *p, int32_t acc, int32_t oc)
{
    if (p->bias != NULL) {
        acc += p->bias[oc];
    }
    acc = tkw_mbqm(acc, p->multiplier[oc], p->shift[oc]) + p->output_offset;
    return tkw_clamp(acc, p->act_min, p->act_max);
}

static int32_t conv_point(const tkw_conv_params_t *p, const int8_t *input,
                          int32_t in_y0, int32_t in_x0, int32_t oc)
{
    int32_t acc = 0;
    int32_t fy, fx, ic;
    for (fy = 0; fy < p->filter_h; ++fy) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        if (in_y < 0 || in_y >= p->in_h) {
            continue;
        }
        for (fx = 0; fx < p->filter_w; ++fx) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            const int8_t *in_px;
            const int8_t *w;
            if (in_x < 0 || in_x >= p->in_w) {
                continue;
            }
            in_px = input + ((in_y % p->in_rows) * p->in_w + in_x) * p->in_c;
            w = p->filter + ((oc * p->filter_h + fy) * p->filter_w + fx) * p->in_c;
            for (ic = 0; ic < p->in_c; ++ic) {
                acc += (int32_t)w[ic] * ((int32_t)in_px[ic] + p->input_offset);
            }
        }
    }
    return acc;
}

void tkw_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1)
{
    int32_t oy, ox, oc;
    for (oy = y0; oy < y1; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int8_t *out_px = output + ((oy % p->out_rows) * p->out_w + ox) * p->out_c;
            for (oc = 0; oc < p->out_c; ++oc) {
                const int32_t acc = conv_point(p, input, in_y0, in_x0, oc);
                out_px[oc] = (int8_t)requantize(p, acc, oc);
            }
        }
    }
}

static int32_t depthwise_point(const tkw_conv_params_t *p, const int8_t *input,
                               int32_t in_y0, int32_t in_x0, int32_t ic, int32_t oc)
{
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = 0; fy < p->filter_h; ++fy) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        if (in_y < 0 || in_y >= p->in_h) {
            continue;
        }
        for (fx = 0; fx < p->filter_w; ++fx) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            int32_t in_val;
            int32_t w;
            if (in_x < 0 || in_x >= p->in_w) {
                continue;
            }
            in_val = input[((in_y % p->in_rows) * p->in_w + in_x) * p->in_c + ic];
            w = p->filter[(fy * p->filter_w + fx) * p->out_c + oc];
            acc += w * (in_val + p->input_offset);
        }
    }
    return acc;
}

void tkw_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                               int32_t y0, int32_t y1)
{
    int32_t oy, ox, ic, m;
    for (oy = y0; oy < y1; ++oy) {
        const int32_t in_y0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t in_x0 = ox * p->stride_w - p->pad_left;
            int8_t *out_px = output + ((oy % p->out_rows) * p->out_w + ox) * p->out_c;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_multiplier; ++m) {
                    const int32_t oc = ic * p->depth_multiplier + m;
                    const int32_t acc = depthwise_point(p, input, in_y0, in_x0, ic, oc);
                    out_px[oc] = (int8_t)requantize(p, acc, oc);
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
