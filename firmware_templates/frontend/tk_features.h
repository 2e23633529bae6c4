/*
 * tk_features.h: the MFCC feature front end of tinykws.
 *
 * int16 PCM in, one frame of int8 model input (and optionally the float MFCC)
 * out, computed as tinykws/audio/mfcc.py specifies: periodic Hann window,
 * real FFT, magnitude, triangular mel filters, log(mel + offset), DCT-II; then
 * (mfcc - mean) / std, divided by the input scale, rounded half away from
 * zero, plus the zero point, clamped to int8. All arithmetic is float32.
 *
 * Streaming: every call to tk_features_push() takes one hop of new samples
 * (TK_FEATURES_HOP_SAMPLES, 20 ms) and writes one frame whose window is the
 * TK_FEATURES_OVERLAP_SAMPLES kept from before followed by the new hop.
 * No allocation: the caller owns the state (TK_FEATURES_STATE_BYTES, a few
 * KB) and every buffer.
 */
#ifndef TK_FEATURES_H
#define TK_FEATURES_H

#include <stdint.h>

#include "tk_feature_tables.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_FEATURES_OK = 0,
    TK_FEATURES_ERROR_ARGUMENT = 1 /* a NULL pointer where a buffer is required */
} tk_features_status_t;

/* Front end state and work memory; treat the fields as private. */
typedef struct {
    int16_t samples[TK_FEATURES_FFT_SIZE]; /* the window's PCM (kept overlap, then the hop), zero after it */
    float fft[TK_FEATURES_FFT_SIZE + 2];   /* the half-length complex FFT, Z[0] repeated after Z[M - 1] */
} tk_features_t;

/* Start a stream as if it were preceded by silence. */
tk_features_status_t tk_features_reset(tk_features_t *state);

/* Start a stream whose first TK_FEATURES_OVERLAP_SAMPLES samples are `pcm`;
 * the next push then yields the frame that starts at pcm[0]. */
tk_features_status_t tk_features_preload(tk_features_t *state, const int16_t *pcm);

/* One hop of TK_FEATURES_HOP_SAMPLES new samples -> one frame:
 * `features` gets TK_FEATURES_N_MFCC int8 model inputs; `mfcc` (may be NULL)
 * gets the TK_FEATURES_N_MFCC float MFCC before normalisation. */
tk_features_status_t tk_features_push(tk_features_t *state, const int16_t *hop, int8_t *features, float *mfcc);

/* A whole clip of TK_FEATURES_CLIP_SAMPLES -> TK_FEATURES_N_FRAMES frames
 * (row-major, TK_FEATURES_FEATURE_COUNT values); `mfcc` may be NULL. */
tk_features_status_t tk_features_clip(tk_features_t *state, const int16_t *pcm, int8_t *features, float *mfcc);

/* Normalise and quantize one frame of float MFCC to int8 model input. */
void tk_features_quantize(const float *mfcc, int8_t *features);

#ifdef __cplusplus
}
#endif

#endif /* TK_FEATURES_H */
