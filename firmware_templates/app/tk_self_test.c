/*
 * tk_self_test.c: the checks of tk_self_test.h.
 */
#include "tk_self_test.h"

#include <stdio.h>
#include <string.h>

#include "tk_app.h"
#include "tk_features.h"
#include "tk_golden.h"
#include "tk_model.h"

/* Work memory: static, so that the stack stays small on a microcontroller. */
static tk_features_t g_front_end;
static int8_t g_input[TK_FEATURES_FEATURE_COUNT];
static float g_mfcc[TK_FEATURES_FEATURE_COUNT];
static int8_t g_output[TK_MODEL_OUTPUT_SIZE];

static void say(tk_log_fn log, const char *line)
{
    if (log != NULL) {
        log(line);
    }
}

/* A non-negative float in millionths, clamped (NaN and huge values -> INT32 max). */
static long to_micro(float value)
{
    const float scaled = value * 1.0e6f;
    return (scaled >= 0.0f && scaled < 2.0e9f) ? (long)(scaled + 0.5f) : 2147483647L;
}

static float abs_diff(float a, float b)
{
    return a > b ? a - b : b - a;
}

/* Step 1: returns the largest MFCC error; counts the int8 inputs off by a tie step and wrong. */
static float check_features(int clip, int *off_by_one, int *wrong)
{
    float worst = 0.0f;
    int i;
    (void)tk_features_clip(&g_front_end, tk_golden_pcm[clip], g_input, g_mfcc);
    for (i = 0; i < TK_FEATURES_FEATURE_COUNT; ++i) {
        const float err = abs_diff(g_mfcc[i], tk_golden_mfcc[clip][i]);
        if (!(err <= worst)) { /* also catches NaN */
            worst = err;
        }
        if (g_input[i] == tk_golden_input[clip][i]) {
            continue;
        }
        if (g_input[i] == tk_golden_input_alt[clip][i]) {
            *off_by_one += 1;
        } else {
            *wrong += 1;
        }
    }
    return worst;
}

/* Step 2: the golden input through the model; 1 when bit-identical to TFLite Micro. */
static int check_model(int clip)
{
    if (tk_model_invoke(tk_golden_input[clip], g_output) != 0) {
        return 0;
    }
    return memcmp(g_output, tk_golden_output[clip], TK_MODEL_OUTPUT_SIZE) == 0;
}

/* Step 3: the C features (still in g_input) through the model; returns the label. */
static int end_to_end_label(void)
{
    if (tk_model_invoke(g_input, g_output) != 0) {
        return -1;
    }
    return tk_argmax(g_output, TK_MODEL_OUTPUT_SIZE);
}

static int check_clip(int clip, tk_log_fn log, tk_self_test_report_t *report)
{
    char line[256];
    int off_by_one = 0;
    int wrong = 0;
    const float error = check_features(clip, &off_by_one, &wrong);
    const int features_ok = error <= (float)TK_GOLDEN_FEATURE_TOLERANCE && wrong == 0;
    const int outputs_ok = check_model(clip);
    const int label = end_to_end_label();
    const int label_ok = label == (int)tk_golden_label[clip];
    (void)snprintf(line, sizeof line,
                   "clip %d %s: max_feature_error=%lde-6 inputs_off_by_one=%d inputs_wrong=%d outputs=%s "
                   "label=%s %s",
                   clip, tk_golden_names[clip], to_micro(error), off_by_one, wrong,
                   outputs_ok ? "identical" : "DIFFERENT", label >= 0 ? tk_model_labels[label] : "(error)",
                   label_ok ? "ok" : "WRONG");
    say(log, line);
    if (!(error <= report->max_feature_error)) {
        report->max_feature_error = error;
    }
    report->inputs_off_by_one += off_by_one;
    report->inputs_wrong += wrong;
    report->outputs_identical += outputs_ok;
    report->labels_identical += label_ok;
    return features_ok && outputs_ok && label_ok;
}

int tk_self_test_run(tk_log_fn log, tk_self_test_report_t *report)
{
    tk_self_test_report_t local;
    char line[256];
    int clip;
    if (report == NULL) {
        report = &local;
    }
    memset(report, 0, sizeof *report);
    for (clip = 0; clip < TK_GOLDEN_CLIPS; ++clip) {
        report->clips += 1;
        if (!check_clip(clip, log, report)) {
            report->failed_clips += 1;
        }
    }
    (void)snprintf(line, sizeof line,
                   "golden_clips=%d\nmax_feature_error_e6=%ld\nfeature_tolerance_e6=%ld\ninputs_off_by_one=%d\n"
                   "inputs_wrong=%d\noutputs_identical=%d\nlabels_identical=%d",
                   report->clips, to_micro(report->max_feature_error),
                   to_micro((float)TK_GOLDEN_FEATURE_TOLERANCE), report->inputs_off_by_one,
                   report->inputs_wrong, report->outputs_identical, report->labels_identical);
    say(log, line);
    return report->failed_clips == 0 ? 0 : 1;
}
