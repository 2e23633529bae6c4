/* MEAN over height and width for Cortex-M cores with the DSP extension: the
 * row sums of four channels at a time, with SXTAB16 adding two sign-extended
 * bytes into two 16-bit lanes. At most 255 pixels cannot overflow a lane
 * (255 * 128 < 2^15), so the sums are exactly the portable kernel's. */
#include "tkw_dsp.h"

#if TKW_HAVE_DSP

#include <arm_acle.h>
#include <string.h>

/* lanes + bytes 1 and 3 of x, sign-extended (SXTAB16 with ROR #8). */
static inline int32_t sxtab16_odd(int32_t lanes, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(lanes), "r"(x));
    return r;
}

/* Tensors of at most 255 pixels keep 16-bit lane sums for the whole tensor:
 * sums[c] and sums[c + 1] hold the lanes of channels (c, c+2) and (c+1, c+3)
 * until the last row widens them into the four int32 sums. Larger tensors
 * add each row's lanes into the int32 sums. */
#define WHOLE_TENSOR_PIXELS 255

static void add_row_to_lanes(const tkw_mean_params_t *p, const int8_t *row, int32_t *sums)
{
    const int32_t channels = p->channels, width = p->in_w; /* locals: the sums could alias *p */
    int32_t c, x;
    for (c = 0; c < channels; c += 4) {
        const int8_t *src = row + c;
        int32_t even = sums[c], odd = sums[c + 1];
        for (x = width; x >= 2; x -= 2, src += 2 * channels) {
            int32_t v, w;
            memcpy(&v, src, sizeof v);
            memcpy(&w, src + channels, sizeof w);
            even = __sxtab16(__sxtab16(even, v), w);
            odd = sxtab16_odd(sxtab16_odd(odd, v), w);
        }
        if (x) {
            int32_t v;
            memcpy(&v, src, sizeof v);
            even = __sxtab16(even, v);
            odd = sxtab16_odd(odd, v);
        }
        sums[c] = even;
        sums[c + 1] = odd;
    }
}

static void widen_lanes(const tkw_mean_params_t *p, int32_t *sums)
{
    const int32_t channels = p->channels;
    int32_t c;
    for (c = 0; c < channels; c += 4) {
        const int32_t even = sums[c], odd = sums[c + 1];
        sums[c] = (int16_t)(even & 0xFFFF);
        sums[c + 1] = (int16_t)(odd & 0xFFFF);
        sums[c + 2] = even >> 16;
        sums[c + 3] = odd >> 16;
    }
}

int tkw_dsp_mean_add_row(const tkw_mean_params_t *p, const int8_t *row, int32_t *sums, int last)
{
    int32_t c, x;
    if ((p->channels & 3) != 0 || p->in_w > WHOLE_TENSOR_PIXELS) {
        return 0;
    }
    if (p->in_h * p->in_w <= WHOLE_TENSOR_PIXELS) {
        add_row_to_lanes(p, row, sums);
        if (last) {
            widen_lanes(p, sums);
        }
        return 1;
    }
    for (c = 0; c < p->channels; c += 4) {
        const int8_t *src = row + c;
        int32_t even = 0, odd = 0; /* channels (c, c+2) and (c+1, c+3) as 16-bit lanes */
        for (x = 0; x < p->in_w; ++x, src += p->channels) {
            int32_t v;
            memcpy(&v, src, sizeof v);
            even = __sxtab16(even, v);
            odd = sxtab16_odd(odd, v);
        }
        sums[c] += (int16_t)(even & 0xFFFF);
        sums[c + 1] += (int16_t)(odd & 0xFFFF);
        sums[c + 2] += even >> 16;
        sums[c + 3] += odd >> 16;
    }
    return 1;
}

#else

typedef int tkw_pool_dsp_unused_t; /* ISO C forbids an empty translation unit */

#endif /* TKW_HAVE_DSP */
