/*
 * tk_recognizer.c: see tk_recognizer.h; the specification is tinykws/stream.py.
 */
#include "tk_recognizer.h"

#include <string.h>

#define TK_INT8_OFFSET 128

static int params_valid(const tk_recognizer_params_t *p)
{
    return p->infer_every_hops >= 1 && p->infer_every_hops <= 1000 && p->average_results >= 1 &&
           p->average_results <= TK_RECOGNIZER_RING_CAPACITY && p->threshold >= -128 && p->threshold <= 127 &&
           p->min_count >= 1 && p->min_count <= 255 && p->refractory_hops >= 0 && p->refractory_hops <= 1000000;
}

tk_recognizer_status_t tk_recognizer_init(tk_recognizer_t *rec, const tk_recognizer_params_t *params)
{
    if (rec == NULL || params == NULL) {
        return TK_RECOGNIZER_ERROR_ARGUMENT;
    }
    if (!params_valid(params)) {
        return TK_RECOGNIZER_ERROR_PARAMS;
    }
    memset(rec, 0, sizeof(*rec));
    rec->params = *params;
    return TK_RECOGNIZER_OK;
}

/* Put the result into the ring and write the rounded mean of each class. */
static void smooth(tk_recognizer_t *rec, const int8_t *scores, int32_t *smoothed)
{
    int8_t *slot = rec->ring[rec->next];
    int32_t n;
    int c;
    if (rec->filled == rec->params.average_results) {
        for (c = 0; c < TK_RECOGNIZER_N_CLASSES; ++c) {
            rec->sum[c] -= slot[c];
        }
    } else {
        rec->filled += 1;
    }
    for (c = 0; c < TK_RECOGNIZER_N_CLASSES; ++c) {
        slot[c] = scores[c];
        rec->sum[c] += scores[c];
    }
    rec->next = (rec->next + 1 == rec->params.average_results) ? 0 : rec->next + 1;
    n = rec->filled;
    for (c = 0; c < TK_RECOGNIZER_N_CLASSES; ++c) {
        /* the numerator is >= 0, so C's truncating division is the floor */
        smoothed[c] = (rec->sum[c] + TK_INT8_OFFSET * n + n / 2) / n - TK_INT8_OFFSET;
    }
}

static int in_refractory(const tk_recognizer_t *rec, uint32_t hop)
{
    return rec->fired && (uint32_t)(hop - rec->last_hop) < (uint32_t)rec->params.refractory_hops;
}

/* Update the run counters; the keyword to fire, or -1. */
static int32_t ready_keyword(tk_recognizer_t *rec, const int32_t *smoothed)
{
    int32_t best = -1;
    int c;
    for (c = 0; c < TK_RECOGNIZER_N_CLASSES; ++c) {
        if (tk_recognizer_is_keyword[c] && smoothed[c] >= rec->params.threshold) {
            if (rec->count[c] < rec->params.min_count) {
                rec->count[c] += 1;
            }
        } else {
            rec->count[c] = 0;
        }
        if (rec->count[c] >= rec->params.min_count && (best < 0 || smoothed[c] > smoothed[best])) {
            best = c;
        }
    }
    return best;
}

tk_recognizer_status_t tk_recognizer_push(tk_recognizer_t *rec, const int8_t *scores, uint32_t hop,
                                          tk_detection_t *detection)
{
    int32_t smoothed[TK_RECOGNIZER_N_CLASSES];
    int32_t best;
    if (rec == NULL || scores == NULL || detection == NULL) {
        return TK_RECOGNIZER_ERROR_ARGUMENT;
    }
    smooth(rec, scores, smoothed);
    if (in_refractory(rec, hop)) {
        memset(rec->count, 0, sizeof(rec->count));
        return TK_RECOGNIZER_OK;
    }
    best = ready_keyword(rec, smoothed);
    if (best < 0) {
        return TK_RECOGNIZER_OK;
    }
    memset(rec->count, 0, sizeof(rec->count));
    rec->fired = 1;
    rec->last_hop = hop;
    detection->label = best;
    detection->hop = hop;
    detection->score = smoothed[best];
    return TK_RECOGNIZER_DETECTED;
}

uint32_t tk_recognizer_hop_ms(uint32_t hop)
{
    const uint64_t end = (uint64_t)hop * TK_RECOGNIZER_HOP_SAMPLES + TK_RECOGNIZER_WINDOW_SAMPLES;
    return (uint32_t)(end * 1000u / TK_RECOGNIZER_SAMPLE_RATE);
}

tk_recognizer_status_t tk_window_init(tk_window_t *window, const tk_recognizer_params_t *params)
{
    if (window == NULL || params == NULL) {
        return TK_RECOGNIZER_ERROR_ARGUMENT;
    }
    if (!params_valid(params)) {
        return TK_RECOGNIZER_ERROR_PARAMS;
    }
    memset(window, 0, sizeof(*window));
    window->infer_every_hops = (uint32_t)params->infer_every_hops;
    return TK_RECOGNIZER_OK;
}

int tk_window_push(tk_window_t *window, const int8_t *frame)
{
    memcpy(window->frames + window->next * TK_RECOGNIZER_N_MFCC, frame, TK_RECOGNIZER_N_MFCC);
    window->next = (window->next + 1u == TK_RECOGNIZER_N_FRAMES) ? 0u : window->next + 1u;
    window->count += 1u;
    return window->count >= TK_RECOGNIZER_N_FRAMES &&
           (window->count - TK_RECOGNIZER_N_FRAMES) % window->infer_every_hops == 0u;
}

uint32_t tk_window_hop(const tk_window_t *window)
{
    return window->count - 1u;
}

void tk_window_copy(const tk_window_t *window, int8_t *input)
{
    const uint32_t older = (TK_RECOGNIZER_N_FRAMES - window->next) * TK_RECOGNIZER_N_MFCC;
    memcpy(input, window->frames + window->next * TK_RECOGNIZER_N_MFCC, older);
    memcpy(input + older, window->frames, window->next * TK_RECOGNIZER_N_MFCC);
}
