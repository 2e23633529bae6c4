/* ADD (with requantization), PAD and copy, int8; rounding as TFLite Micro's
 * reference_integer_ops::AddElementwise and reference_ops::Pad. */
#include "tkw_kernels.h"
#include "tkw_fixedpoint.h"

static int32_t add_scaled(int32_t value, int32_t left_shift, int32_t multiplier, int32_t shift)
{
    return tkw_mbqm(tkw_shift_left_wrap(value, left_shift), multiplier, shift);
}

void tkw_add(const tkw_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t a = add_scaled(p->input1_offset + input1[i], p->left_shift,
                                     p->input1_multiplier, p->input1_shift);
        const int32_t b = add_scaled(p->input2_offset + input2[i], p->left_shift,
                                     p->input2_multiplier, p->input2_shift);
        const int32_t sum = tkw_mbqm(a + b, p->output_multiplier, p->output_shift) + p->output_offset;
        output[i] = (int8_t)tkw_clamp(sum, p->act_min, p->act_max);
    }
}

static int outside(int32_t index, int32_t before, int32_t size)
{
    return index < before || index >= before + size;
}

void tkw_pad(const tkw_pad_params_t *p, const int8_t *input, int8_t *output)
{
    const int32_t *d = p->in_dims;
    int32_t o[4];
    int32_t out_dims[4];
    int32_t k;
    for (k = 0; k < 4; ++k) {
        out_dims[k] = p->pad_before[k] + d[k] + p->pad_after[k];
    }
    for (o[0] = 0; o[0] < out_dims[0]; ++o[0]) {
        for (o[1] = 0; o[1] < out_dims[1]; ++o[1]) {
            for (o[2] = 0; o[2] < out_dims[2]; ++o[2]) {
                for (o[3] = 0; o[3] < out_dims[3]; ++o[3]) {
                    int32_t pad = 0;
                    int32_t src = 0;
                    for (k = 0; k < 4; ++k) {
                        pad |= outside(o[k], p->pad_before[k], d[k]);
                        src = src * d[k] + (o[k] - p->pad_before[k]);
                    }
                    *output++ = pad ? (int8_t)p->pad_value : input[src];
                }
            }
        }
    }
}

void tkw_copy(const int8_t *input, int8_t *output, int32_t size)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        output[i] = input[i];
    }
}
