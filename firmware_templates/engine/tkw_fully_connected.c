/* FULLY_CONNECTED, int8; rounding as TFLite Micro's
 * reference_integer_ops::FullyConnected (per-tensor or per-channel). */
#include "tkw_kernels.h"
#include "tkw_fixedpoint.h"

void tkw_fully_connected(const tkw_fc_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, o, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in_row = input + b * p->accum_depth;
        for (o = 0; o < p->out_depth; ++o) {
            const int8_t *w = p->filter + o * p->accum_depth;
            int32_t acc = 0;
            for (d = 0; d < p->accum_depth; ++d) {
                acc += ((int32_t)w[d] + p->filter_offset) * ((int32_t)in_row[d] + p->input_offset);
            }
            if (p->bias != NULL) {
                acc += p->bias[o];
            }
            acc = tkw_mbqm(acc, p->multiplier[o], p->shift[o]) + p->output_offset;
            output[b * p->out_depth + o] = (int8_t)tkw_clamp(acc, p->act_min, p->act_max);
        }
    }
}
