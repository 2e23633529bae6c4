/*
 * tk_app.h: the application layer of a tinykws bundle.
 *
 *   feature provider  PCM in, one int8 frame per hop, written into a window
 *                     the caller owns (TK_APP_WINDOW_BYTES, oldest frame first)
 *   classify          the window through the model -> label and scores
 *   format            a result as one line of text (no float printf needed)
 *
 * No allocation and no I/O: printing is the caller's (see main.c, the sketch).
 */
#ifndef TK_APP_H
#define TK_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tk_features.h"
#include "tk_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TK_APP_WINDOW_BYTES TK_FEATURES_FEATURE_COUNT

typedef enum {
    TK_APP_OK = 0,
    TK_APP_ERROR_ARGUMENT = 1, /* a NULL pointer */
    TK_APP_ERROR_MODEL = 2     /* the model's invoke failed */
} tk_app_status_t;

/* Streaming features into a caller-owned window of TK_FEATURES_N_FRAMES frames. */
typedef struct {
    tk_features_t front_end; /* front end state (private) */
    int8_t *window;          /* the caller's TK_APP_WINDOW_BYTES, oldest frame first */
    uint32_t frames;         /* frames written since the last reset (saturates) */
} tk_feature_provider_t;

/* Start from silence; `window` (TK_APP_WINDOW_BYTES) is filled with the features of silence. */
tk_app_status_t tk_feature_provider_init(tk_feature_provider_t *provider, int8_t *window);

/* One hop of TK_FEATURES_HOP_SAMPLES new samples: the window slides by one
 * frame and the newest frame is written at its end. Returns 1 once the
 * window holds TK_FEATURES_N_FRAMES frames of the stream, else 0 (or < 0 on error). */
int tk_feature_provider_push(tk_feature_provider_t *provider, const int16_t *hop);

/* A whole clip of TK_FEATURES_CLIP_SAMPLES: the window gets its frames exactly
 * as tinykws/features.py computes them (frame k starts at sample k * HOP). */
tk_app_status_t tk_feature_provider_clip(tk_feature_provider_t *provider, const int16_t *pcm);

typedef struct {
    int label;                                 /* index of the top score (first on ties) */
    int8_t raw[TK_MODEL_OUTPUT_SIZE];          /* the model's int8 outputs */
    int32_t score_milli[TK_MODEL_OUTPUT_SIZE]; /* dequantized scores x 1000, rounded */
} tk_result_t;

/* Classify a window of TK_APP_WINDOW_BYTES int8 features. */
tk_app_status_t tk_classify(const int8_t *window, tk_result_t *result);

/* The same for a window of a stream that slid tk_model_stream_hop_frames frames
 * since the previous call (after tk_model_stream_reset: any window): the model's
 * incremental inference where it has one (tk_model.h), bit-identical results. */
tk_app_status_t tk_classify_stream(const int8_t *window, tk_result_t *result);

/* Index of the largest of `n` values (the first one on ties). */
int tk_argmax(const int8_t *values, int n);

/* "yes (0.875) | _silence_ 0.000, _unknown_ 0.012, ..." into `text` (always terminated). */
void tk_format_result(const tk_result_t *result, char *text, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TK_APP_H */
