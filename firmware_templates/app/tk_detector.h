/*
 * tk_detector.h: streaming keyword detection, the bundle's feature provider,
 * classifier and the recognizer (recognizer/tk_recognizer.h) wired together.
 *
 * Per hop of TK_FEATURES_HOP_SAMPLES new samples: one feature frame; every
 * TK_RECOGNIZER_INFER_EVERY_HOPS hops (once the window is full) one model
 * inference, whose int8 outputs go to the recognizer (smoothing, threshold,
 * refractory time, all from the run's StreamConfig). The inferences run the
 * engine's incremental inference (tk_classify_stream: only the new rows of
 * each layer, bit-identical) where the model allows it, else the full window.
 *
 * The feature provider starts from silence, so hop h covers the stream's
 * samples [320 h - 160, 320 h + 320): the detections equal those of
 * tinykws.stream on the same audio with 160 zero samples in front. A
 * detection's hop ends at sample (hop + 1) * TK_FEATURES_HOP_SAMPLES of the
 * stream (tk_detector_time_ms). No allocation and no I/O.
 */
#ifndef TK_DETECTOR_H
#define TK_DETECTOR_H

#include <stdint.h>

#include "tk_app.h"
#include "tk_recognizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    tk_feature_provider_t provider; /* writes into `window` */
    tk_recognizer_t recognizer;
    tk_result_t result;             /* the latest inference */
    int8_t *window;                 /* the caller's TK_APP_WINDOW_BYTES */
    uint32_t hops;                  /* hops pushed so far */
    uint32_t inferences;            /* model runs so far */
    uint32_t (*clock)(void);        /* optional: a tick counter, to measure the model alone */
    uint64_t model_ticks;           /* ticks spent in the model's inferences (with a clock) */
} tk_detector_t;

/* Start a stream with tk_recognizer_default_params (the run's StreamConfig);
 * `window` (TK_APP_WINDOW_BYTES) is the caller's. Resets the model's
 * incremental state; TK_APP_ERROR_MODEL if its hop is not the recognizer's. */
tk_app_status_t tk_detector_init(tk_detector_t *detector, int8_t *window);

/* One hop of TK_FEATURES_HOP_SAMPLES samples. Returns 1 and fills *detection
 * when a keyword fires, 0 otherwise, -TK_APP_ERROR_* on error. */
int tk_detector_push(tk_detector_t *detector, const int16_t *hop, tk_detection_t *detection);

/* Milliseconds from the stream start to the end of the audio `hop` consumed. */
uint32_t tk_detector_time_ms(uint32_t hop);

#ifdef __cplusplus
}
#endif

#endif /* TK_DETECTOR_H */
