/* SOFTMAX int8 -> int8, as TFLite Micro's reference_ops::Softmax computes it:
 * input differences in Q5.26, gemmlowp's fixed-point exp on negative values,
 * a Q12.19 sum of exponentials and a Newton-Raphson reciprocal. */
#include "tkw_kernels.h"
#include "tkw_fixedpoint.h"

#define SCALED_DIFF_INTEGER_BITS 5  /* Q5.26 input of exp() */
#define ACCUM_INTEGER_BITS 12       /* Q12.19 sum of exponentials */
#define Q0_ONE INT32_MAX            /* 1.0 in Q0.31, saturated */

/* exp(a) for a in [-1/4, 0), all in Q0.31: Taylor expansion around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;    /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883; /* 1/3 */
    const int32_t x = a + ((int32_t)1 << 28);    /* a + 1/8 */
    const int32_t x2 = tkw_srdhm(x, x);
    const int32_t x3 = tkw_srdhm(x2, x);
    const int32_t x4 = tkw_srdhm(x2, x2);
    const int32_t x4_over_4 = tkw_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tkw_rounding_divide_by_pot(
        tkw_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + tkw_srdhm(constant_term, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26, result in Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    static const int32_t multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242         /* exp(-16) */
    };
    const int32_t fractional_bits = 31 - SCALED_DIFF_INTEGER_BITS;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = (a & (one_quarter - 1)) - one_quarter;
    const int32_t remainder = a_mod_quarter_minus_one_quarter - a;
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        tkw_saturating_shift_left(a_mod_quarter_minus_one_quarter, SCALED_DIFF_INTEGER_BITS));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        const int32_t bit = fractional_bits - 2 + k; /* exponents -2 .. +4 */
        if (remainder & ((int32_t)1 << bit)) {
            result = tkw_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? Q0_ONE : result;
}

/* 1 / (1 + x) for x in [0, 1) in Q0.31 (Newton-Raphson, three steps). */
static int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int64_t sum = (int64_t)a + Q0_ONE;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    const int32_t constant_48_over_17 = 1515870810;      /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2.29 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = constant_48_over_17 + tkw_srdhm(half_denominator, constant_neg_32_over_17);
    int32_t i;
    for (i = 0; i < 3; ++i) {
        const int32_t one_minus_half_denominator_times_x = one_q2 - tkw_srdhm(half_denominator, x);
        x = x + tkw_saturating_shift_left(tkw_srdhm(x, one_minus_half_denominator_times_x), 2);
    }
    return tkw_saturating_shift_left(x, 1);
}

static int32_t count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    while (n < 32 && (x & ((uint32_t)1 << 31)) == 0) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* Reciprocal of a Q12.19 sum, as a Q0.31 scale and a number of bits over one. */
static int32_t reciprocal(int32_t sum, int32_t *num_bits_over_unit)
{
    const int32_t headroom_plus_one = count_leading_zeros((uint32_t)sum);
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)sum << headroom_plus_one) - ((uint32_t)1 << 31));
    *num_bits_over_unit = ACCUM_INTEGER_BITS - headroom_plus_one;
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}

static int32_t scaled_exp(const tkw_softmax_params_t *p, int32_t diff)
{
    const int32_t rescaled = tkw_srdhm(tkw_shift_left_wrap(diff, p->input_left_shift), p->input_multiplier);
    return exp_on_negative_values(rescaled);
}

static void softmax_row(const tkw_softmax_params_t *p, const int8_t *in, int8_t *out)
{
    int32_t max_in_row = INT8_MIN;
    int32_t sum_of_exps = 0;
    int32_t num_bits_over_unit;
    int32_t scale;
    int32_t c;
    for (c = 0; c < p->depth; ++c) {
        max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
    }
    for (c = 0; c < p->depth; ++c) {
        const int32_t diff = in[c] - max_in_row;
        if (diff >= p->diff_min) {
            sum_of_exps += tkw_rounding_divide_by_pot(scaled_exp(p, diff), ACCUM_INTEGER_BITS);
        }
    }
    scale = reciprocal(sum_of_exps, &num_bits_over_unit);
    for (c = 0; c < p->depth; ++c) {
        const int32_t diff = in[c] - max_in_row;
        int32_t value = INT8_MIN;
        if (diff >= p->diff_min) {
            const int32_t unsat = tkw_rounding_divide_by_pot(
                tkw_srdhm(scale, scaled_exp(p, diff)), num_bits_over_unit + 31 - 8);
            value = tkw_clamp(unsat + INT8_MIN, INT8_MIN, INT8_MAX);
        }
        out[c] = (int8_t)value;
    }
}

void tkw_softmax(const tkw_softmax_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t i;
    for (i = 0; i < p->outer_size; ++i) {
        softmax_row(p, input + i * p->depth, output + i * p->depth);
    }
}
