/*
 * tk_detector.c: see tk_detector.h; the specification is tinykws/stream.py.
 */
#include "tk_detector.h"

#include <stddef.h>

#if TK_RECOGNIZER_N_CLASSES != TK_MODEL_OUTPUT_SIZE
#error "the recognizer's classes and the model's outputs differ"
#endif
#if TK_RECOGNIZER_N_FRAMES * TK_RECOGNIZER_N_MFCC != TK_APP_WINDOW_BYTES
#error "the recognizer's window and the feature provider's differ"
#endif

tk_app_status_t tk_detector_init(tk_detector_t *detector, int8_t *window)
{
    if (detector == NULL || window == NULL) {
        return TK_APP_ERROR_ARGUMENT;
    }
    if (tk_recognizer_init(&detector->recognizer, &tk_recognizer_default_params) != TK_RECOGNIZER_OK) {
        return TK_APP_ERROR_ARGUMENT;
    }
    if (tk_model_stream_incremental && tk_model_stream_hop_frames != TK_RECOGNIZER_INFER_EVERY_HOPS) {
        return TK_APP_ERROR_MODEL; /* the engine was generated for another hop */
    }
    tk_model_stream_reset();
    detector->window = window;
    detector->hops = 0u;
    detector->inferences = 0u;
    detector->clock = NULL;
    detector->model_ticks = 0u;
    return tk_feature_provider_init(&detector->provider, window);
}

/* The schedule of tinykws.stream: after hop h when h + 1 >= N_FRAMES and
 * (h + 1 - N_FRAMES) is a multiple of infer_every_hops. */
static int inference_due(uint32_t hops_pushed)
{
    return hops_pushed >= (uint32_t)TK_RECOGNIZER_N_FRAMES &&
           (hops_pushed - (uint32_t)TK_RECOGNIZER_N_FRAMES) % (uint32_t)TK_RECOGNIZER_INFER_EVERY_HOPS == 0u;
}

int tk_detector_push(tk_detector_t *detector, const int16_t *hop, tk_detection_t *detection)
{
    int ready;
    uint32_t start = 0u;
    tk_app_status_t status;
    if (detector == NULL || hop == NULL || detection == NULL) {
        return -(int)TK_APP_ERROR_ARGUMENT;
    }
    ready = tk_feature_provider_push(&detector->provider, hop);
    if (ready < 0) {
        return -(int)TK_APP_ERROR_ARGUMENT;
    }
    detector->hops += 1u;
    if (ready != 1 || !inference_due(detector->hops)) {
        return 0;
    }
    if (detector->clock != NULL) {
        start = detector->clock();
    }
    /* consecutive inferences are TK_RECOGNIZER_INFER_EVERY_HOPS frames apart: the incremental hop */
    status = tk_classify_stream(detector->window, &detector->result);
    if (detector->clock != NULL) {
        detector->model_ticks += (uint32_t)(detector->clock() - start);
    }
    if (status != TK_APP_OK) {
        return -(int)status;
    }
    detector->inferences += 1u;
    return tk_recognizer_push(&detector->recognizer, detector->result.raw, detector->hops - 1u, detection) ==
                   TK_RECOGNIZER_DETECTED
               ? 1
               : 0;
}

uint32_t tk_detector_time_ms(uint32_t hop)
{
    const uint64_t end = ((uint64_t)hop + 1u) * TK_FEATURES_HOP_SAMPLES;
    return (uint32_t)(end * 1000u / TK_FEATURES_SAMPLE_RATE);
}
