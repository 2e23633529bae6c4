/* Row kernels of incremental inference (tinykws.codegen.incremental): sliding
 * row buffers, PAD of whole rows, and the MEAN's running sums. Portable C99,
 * no allocation, no I/O; only in engines generated with incremental inference. */
#ifndef TKW_STREAM_H
#define TKW_STREAM_H

#include <stdint.h>

#include "tkw_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer of buffer_bytes slides up by new_bytes: its oldest rows leave, the
 * end is free for the new rows. */
void tkw_stream_slide(int8_t *buffer, int32_t buffer_bytes, int32_t new_bytes);

/* PAD of `rows` whole rows: width and channel padding of p (p->in_dims[2] x
 * p->in_dims[3] per row; time padding is refused by the generator). */
void tkw_stream_pad_rows(const tkw_pad_params_t *p, const int8_t *input, int8_t *output, int32_t rows);

/* MEAN over the window's rows as running sums: each of `rows` rows (in_w x
 * channels) replaces the oldest of the p->in_h row sums (row_sums[in_h][channels],
 * slot *next_slot) in total[channels]. */
void tkw_stream_mean_add_rows(const tkw_mean_params_t *p, const int8_t *input, int32_t rows, int32_t *row_sums,
                              int32_t *total, int32_t *next_slot);

#ifdef __cplusplus
}
#endif

#endif /* TKW_STREAM_H */
