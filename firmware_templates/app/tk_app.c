/*
 * tk_app.c: feature provider, classification and result formatting.
 */
#include "tk_app.h"

#include <stdio.h>
#include <string.h>

tk_app_status_t tk_feature_provider_init(tk_feature_provider_t *provider, int8_t *window)
{
    static const int16_t silence[TK_FEATURES_HOP_SAMPLES] = {0};
    int8_t frame[TK_FEATURES_N_MFCC];
    int f;
    if (provider == NULL || window == NULL) {
        return TK_APP_ERROR_ARGUMENT;
    }
    provider->window = window;
    provider->frames = 0u;
    (void)tk_features_reset(&provider->front_end);
    (void)tk_features_push(&provider->front_end, silence, frame, NULL);
    (void)tk_features_reset(&provider->front_end);
    for (f = 0; f < TK_FEATURES_N_FRAMES; ++f) {
        memcpy(window + f * TK_FEATURES_N_MFCC, frame, TK_FEATURES_N_MFCC);
    }
    return TK_APP_OK;
}

int tk_feature_provider_push(tk_feature_provider_t *provider, const int16_t *hop)
{
    const size_t keep = (size_t)(TK_FEATURES_N_FRAMES - 1) * TK_FEATURES_N_MFCC;
    if (provider == NULL || provider->window == NULL || hop == NULL) {
        return -1;
    }
    memmove(provider->window, provider->window + TK_FEATURES_N_MFCC, keep);
    (void)tk_features_push(&provider->front_end, hop, provider->window + keep, NULL);
    if (provider->frames < (uint32_t)TK_FEATURES_N_FRAMES) {
        provider->frames += 1u;
    }
    return provider->frames >= (uint32_t)TK_FEATURES_N_FRAMES ? 1 : 0;
}

tk_app_status_t tk_feature_provider_clip(tk_feature_provider_t *provider, const int16_t *pcm)
{
    if (provider == NULL || provider->window == NULL || pcm == NULL) {
        return TK_APP_ERROR_ARGUMENT;
    }
    (void)tk_features_clip(&provider->front_end, pcm, provider->window, NULL);
    provider->frames = (uint32_t)TK_FEATURES_N_FRAMES;
    return TK_APP_OK;
}

int tk_argmax(const int8_t *values, int n)
{
    int best = 0;
    int i;
    for (i = 1; i < n; ++i) {
        if (values[i] > values[best]) {
            best = i;
        }
    }
    return best;
}

static int32_t score_milli(int8_t q)
{
    const float score = (float)TK_MODEL_OUTPUT_SCALE * (float)((int32_t)q - TK_MODEL_OUTPUT_ZERO_POINT);
    const float scaled = score * 1000.0f;
    return (int32_t)(scaled >= 0.0f ? scaled + 0.5f : scaled - 0.5f);
}

static tk_app_status_t classify_with(int (*invoke)(const int8_t *, int8_t *), const int8_t *window,
                                     tk_result_t *result)
{
    int i;
    if (window == NULL || result == NULL) {
        return TK_APP_ERROR_ARGUMENT;
    }
    if (invoke(window, result->raw) != 0) {
        return TK_APP_ERROR_MODEL;
    }
    for (i = 0; i < TK_MODEL_OUTPUT_SIZE; ++i) {
        result->score_milli[i] = score_milli(result->raw[i]);
    }
    result->label = tk_argmax(result->raw, TK_MODEL_OUTPUT_SIZE);
    return TK_APP_OK;
}

tk_app_status_t tk_classify(const int8_t *window, tk_result_t *result)
{
    return classify_with(tk_model_invoke, window, result);
}

tk_app_status_t tk_classify_stream(const int8_t *window, tk_result_t *result)
{
    return classify_with(tk_model_stream_invoke, window, result);
}

/* Append "<int>.<3 digits>" of a value in thousandths. */
static size_t append_milli(char *text, size_t size, size_t used, int32_t milli)
{
    const char *sign = milli < 0 ? "-" : "";
    const long magnitude = milli < 0 ? -(long)milli : (long)milli;
    int n;
    if (used >= size) {
        return used;
    }
    n = snprintf(text + used, size - used, "%s%ld.%03ld", sign, magnitude / 1000L, magnitude % 1000L);
    return n < 0 ? used : used + (size_t)n;
}

static size_t append_text(char *text, size_t size, size_t used, const char *more)
{
    int n;
    if (used >= size) {
        return used;
    }
    n = snprintf(text + used, size - used, "%s", more);
    return n < 0 ? used : used + (size_t)n;
}

void tk_format_result(const tk_result_t *result, char *text, size_t size)
{
    size_t used = 0;
    int i;
    if (text == NULL || size == 0u) {
        return;
    }
    text[0] = '\0';
    if (result == NULL) {
        return;
    }
    used = append_text(text, size, used, tk_model_labels[result->label]);
    used = append_text(text, size, used, " (");
    used = append_milli(text, size, used, result->score_milli[result->label]);
    used = append_text(text, size, used, ") |");
    for (i = 0; i < TK_MODEL_OUTPUT_SIZE; ++i) {
        used = append_text(text, size, used, " ");
        used = append_text(text, size, used, tk_model_labels[i]);
        used = append_text(text, size, used, " ");
        used = append_milli(text, size, used, result->score_milli[i]);
    }
}
