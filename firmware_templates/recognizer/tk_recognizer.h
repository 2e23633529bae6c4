/*
 * tk_recognizer.h: streaming keyword detection of tinykws (C99, no allocation).
 *
 * The C mirror of tinykws/stream.py; for the same int8 model outputs at the
 * same hops it gives the same detections. Two parts:
 *
 * tk_window_*: the last TK_RECOGNIZER_N_FRAMES int8 feature frames (one per
 *   20 ms hop, from tk_features_push) and the inference schedule: run the
 *   model after hop h when h + 1 >= N_FRAMES and (h + 1 - N_FRAMES) is a
 *   multiple of infer_every_hops.
 *
 * tk_recognizer_*: per inference result (the raw int8 softmax outputs):
 *   1. smoothed[c] = integer mean of class c over the last average_results
 *      results (fewer at the start), rounded half up:
 *      (sum + 128 n + n / 2) / n - 128 with a non-negative numerator;
 *   2. within refractory_hops hops after a detection nothing fires and the
 *      run counters are held at 0;
 *   3. a keyword's counter counts consecutive results with smoothed >= threshold
 *      (saturating at min_count), 0 otherwise; _silence_ and _unknown_ never count;
 *   4. of the keywords whose counter reached min_count the highest smoothed
 *      score fires (ties: lowest class index); counters reset, refractory starts.
 *
 * Hop indices are uint32_t; differences are taken modulo 2^32 (2.7 years at 20 ms).
 */
#ifndef TK_RECOGNIZER_H
#define TK_RECOGNIZER_H

#include <stdint.h>

#include "tk_recognizer_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_RECOGNIZER_OK = 0,             /* result taken, nothing detected */
    TK_RECOGNIZER_DETECTED = 1,       /* result taken, *detection written */
    TK_RECOGNIZER_ERROR_ARGUMENT = 2, /* a NULL pointer */
    TK_RECOGNIZER_ERROR_PARAMS = 3    /* a parameter out of range (see tk_recognizer_params_t) */
} tk_recognizer_status_t;

/* The run's StreamConfig; tk_recognizer_default_params holds the rendered values. */
typedef struct {
    int32_t infer_every_hops; /* 1..1000: hops between inferences */
    int32_t average_results;  /* 1..TK_RECOGNIZER_RING_CAPACITY: results in the moving mean */
    int32_t threshold;        /* -128..127: smoothed int8 score a keyword needs */
    int32_t min_count;        /* 1..255: consecutive results at or above the threshold */
    int32_t refractory_hops;  /* 0..1000000: hops after a detection in which nothing fires */
} tk_recognizer_params_t;

extern const tk_recognizer_params_t tk_recognizer_default_params;

typedef struct {
    int32_t label; /* class index: tk_recognizer_labels[label] */
    uint32_t hop;  /* hop index of the result that fired */
    int32_t score; /* smoothed int8 score at that result */
} tk_detection_t;

/* Recognizer state; treat the fields as private. */
typedef struct {
    tk_recognizer_params_t params;
    int8_t ring[TK_RECOGNIZER_RING_CAPACITY][TK_RECOGNIZER_N_CLASSES];
    int32_t sum[TK_RECOGNIZER_N_CLASSES];
    int32_t count[TK_RECOGNIZER_N_CLASSES];
    int32_t filled; /* results in the ring, up to average_results */
    int32_t next;   /* ring slot of the next result */
    int32_t fired;  /* 1 once something was detected */
    uint32_t last_hop;
} tk_recognizer_t;

/* Check `params` and start a stream (no results yet). */
tk_recognizer_status_t tk_recognizer_init(tk_recognizer_t *rec, const tk_recognizer_params_t *params);

/* One inference result of TK_RECOGNIZER_N_CLASSES int8 scores, produced after `hop`.
 * Returns TK_RECOGNIZER_DETECTED and fills *detection when a keyword fires. */
tk_recognizer_status_t tk_recognizer_push(tk_recognizer_t *rec, const int8_t *scores, uint32_t hop,
                                          tk_detection_t *detection);

/* Milliseconds from the stream start to the end of the audio consumed by `hop`. */
uint32_t tk_recognizer_hop_ms(uint32_t hop);

/* The model input window: the last TK_RECOGNIZER_N_FRAMES frames. */
typedef struct {
    int8_t frames[TK_RECOGNIZER_N_FRAMES * TK_RECOGNIZER_N_MFCC];
    uint32_t next;  /* frame slot of the next frame */
    uint32_t count; /* frames pushed so far; the newest frame's hop is count - 1 */
    uint32_t infer_every_hops;
} tk_window_t;

tk_recognizer_status_t tk_window_init(tk_window_t *window, const tk_recognizer_params_t *params);

/* Append one frame of TK_RECOGNIZER_N_MFCC int8 features; returns 1 when the
 * model runs after this hop (then tk_window_copy gives its input), else 0. */
int tk_window_push(tk_window_t *window, const int8_t *frame);

/* The hop index of the newest frame (valid after the first push). */
uint32_t tk_window_hop(const tk_window_t *window);

/* The window oldest frame first: TK_RECOGNIZER_N_FRAMES x TK_RECOGNIZER_N_MFCC int8, row-major. */
void tk_window_copy(const tk_window_t *window, int8_t *input);

#ifdef __cplusplus
}
#endif

#endif /* TK_RECOGNIZER_H */
