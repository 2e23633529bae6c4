/* Compile-time selection of the optimized kernel back ends (private to the
 * kernel library). The portable kernels always exist; on a core with the Arm
 * DSP extension (Cortex-M4, M7, M33, M55: SXTB16, SMLAD) the convolution
 * and MEAN kernels first offer each call to the optimized ones, which decline the
 * layers they do not handle. -DTKW_PORTABLE turns every back end off. */
#ifndef TKW_DSP_H
#define TKW_DSP_H

#include "tkw_kernels.h"

#if !defined(TKW_PORTABLE) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TKW_HAVE_DSP 1
#else
#define TKW_HAVE_DSP 0
#endif

/* Helium (M-profile vector extension, integer): Cortex-M55, M85. Its kernels
 * live beside the DSP ones and are offered each call first. */
#if TKW_HAVE_DSP && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define TKW_HAVE_MVE 1
#else
#define TKW_HAVE_MVE 0
#endif

/* The generated model compiles each layer's constants in the layout its
 * kernels read: a layer the optimized kernels take keeps its int8 filter,
 * bias and per-channel multipliers only in builds without them (Helium
 * convolutions read the int8 filter too), and its pre-unpacked constants
 * only in builds with them. TKW_IF_*(array) is the array or NULL. */
#define TKW_BUILD_PORTABLE (!TKW_HAVE_DSP)
#define TKW_BUILD_PORTABLE_OR_MVE (!TKW_HAVE_DSP || TKW_HAVE_MVE)
#define TKW_BUILD_DSP (TKW_HAVE_DSP)
#if TKW_HAVE_DSP
#define TKW_IF_PORTABLE(a) NULL
#define TKW_IF_DSP(a) (a)
#else
#define TKW_IF_PORTABLE(a) (a)
#define TKW_IF_DSP(a) NULL
#endif
#if TKW_HAVE_DSP && !TKW_HAVE_MVE
#define TKW_IF_PORTABLE_OR_MVE(a) NULL
#else
#define TKW_IF_PORTABLE_OR_MVE(a) (a)
#endif

/* Each returns 1 when it computed rows [y0, y1), 0 when the layer is not one
 * it handles (then the portable kernel runs). */
int tkw_dsp_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1);
int tkw_dsp_depthwise_conv2d_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output,
                                  int32_t y0, int32_t y1);

#if TKW_HAVE_MVE
/* 1x1 convolutions (stride 1, no padding) with Helium (tkw_conv_mve.c). */
int tkw_mve_pointwise_rows(const tkw_conv_params_t *p, const int8_t *input, int8_t *output, int32_t y0, int32_t y1);
/* Every output channel of n <= 5 pixels from their k-value windows (filter
 * order) with Helium (tkw_conv_mve.c); needs the int8 filter. */
void tkw_mve_conv_block(const tkw_conv_params_t *p, const int8_t *const *pixels, int32_t n, int8_t *out);
#endif

/* Adds one input row of a MEAN over height and width to the sums, which hold
 * the int32 sums after the `last` row (in between: the kernel's own form). */
int tkw_dsp_mean_add_row(const tkw_mean_params_t *p, const int8_t *row, int32_t *sums, int last);

#endif /* TKW_DSP_H */
