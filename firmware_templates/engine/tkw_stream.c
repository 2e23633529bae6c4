/* Row kernels of incremental inference: see tkw_stream.h. */
#include "tkw_stream.h"

#include <string.h>

void tkw_stream_slide(int8_t *buffer, int32_t buffer_bytes, int32_t new_bytes)
{
    if (new_bytes < buffer_bytes) {
        memmove(buffer, buffer + new_bytes, (size_t)(buffer_bytes - new_bytes));
    }
}

static void fill(int8_t *dst, int32_t count, int8_t value)
{
    if (count > 0) {
        memset(dst, value, (size_t)count);
    }
}

void tkw_stream_pad_rows(const tkw_pad_params_t *p, const int8_t *input, int8_t *output, int32_t rows)
{
    const int32_t in_w = p->in_dims[2], in_c = p->in_dims[3];
    const int32_t out_c = p->pad_before[3] + in_c + p->pad_after[3];
    const int8_t value = (int8_t)p->pad_value;
    int32_t r, x;
    for (r = 0; r < rows; ++r) {
        fill(output, p->pad_before[2] * out_c, value);
        output += p->pad_before[2] * out_c;
        for (x = 0; x < in_w; ++x) {
            fill(output, p->pad_before[3], value);
            memcpy(output + p->pad_before[3], input, (size_t)in_c);
            fill(output + p->pad_before[3] + in_c, p->pad_after[3], value);
            output += out_c;
            input += in_c;
        }
        fill(output, p->pad_after[2] * out_c, value);
        output += p->pad_after[2] * out_c;
    }
}

void tkw_stream_mean_add_rows(const tkw_mean_params_t *p, const int8_t *input, int32_t rows, int32_t *row_sums,
                              int32_t *total, int32_t *next_slot)
{
    int32_t r, x, c;
    for (r = 0; r < rows; ++r) {
        int32_t *sums = row_sums + *next_slot * p->channels;
        for (c = 0; c < p->channels; ++c) {
            total[c] -= sums[c];
            sums[c] = 0;
        }
        for (x = 0; x < p->in_w; ++x) {
            for (c = 0; c < p->channels; ++c) {
                sums[c] += input[x * p->channels + c];
            }
        }
        for (c = 0; c < p->channels; ++c) {
            total[c] += sums[c];
        }
        input += p->in_w * p->channels;
        *next_slot = *next_slot + 1 < p->in_h ? *next_slot + 1 : 0;
    }
}
