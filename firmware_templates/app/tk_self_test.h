/*
 * tk_self_test.h: the bundle's self-test against its golden vectors.
 *
 * Per golden clip:
 *   1. features: the C front end on the clip's PCM; every MFCC within
 *      TK_GOLDEN_FEATURE_TOLERANCE of numpy's, every int8 input equal to the
 *      golden one (or to its neighbour where the float sits at a rounding tie);
 *   2. model: the golden int8 input through the model; the int8 outputs
 *      bit-identical to TFLite Micro's;
 *   3. end to end: the C features through the model; the same label.
 */
#ifndef TK_SELF_TEST_H
#define TK_SELF_TEST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Receives one line of text (no trailing newline). */
typedef void (*tk_log_fn)(const char *line);

typedef struct {
    int clips;                 /* golden clips checked */
    int failed_clips;          /* clips with any failure */
    float max_feature_error;   /* largest |C MFCC - golden MFCC| */
    int inputs_off_by_one;     /* int8 inputs one step off at a rounding tie (allowed) */
    int inputs_wrong;          /* int8 inputs off anywhere else (failure) */
    int outputs_identical;     /* clips whose model outputs are bit-identical */
    int labels_identical;      /* clips whose end-to-end label is the golden one */
} tk_self_test_report_t;

/* Run every check; `log` (may be NULL) gets one line per clip and a summary.
 * Returns 0 when everything passed, 1 otherwise. */
int tk_self_test_run(tk_log_fn log, tk_self_test_report_t *report);

#ifdef __cplusplus
}
#endif

#endif /* TK_SELF_TEST_H */
