/* MEAN over height and width for Cortex-M cores with the DSP extension: the
 * row sums of four channels at a time, with SXTAB16 adding two sign-extended
 * bytes into two 16-bit lanes. A row of at most 255 pixels cannot overflow a
 * lane (255 * 128 < 2^15), and the lanes go into the int32 sums after each
 * row, so the sums are exactly the portable kernel's. */
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

int tkw_dsp_mean_add_row(const tkw_mean_params_t *p, const int8_t *row, int32_t *sums)
{
    int32_t c, x;
    if ((p->channels & 3) != 0 || p->in_w > 255) {
        return 0;
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
