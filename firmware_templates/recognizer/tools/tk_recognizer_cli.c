/*
 * tk_recognizer_cli.c: runs the recognizer over files, for the tests and for
 * benchmarking on a device (stdio reaches the host through semihosting).
 *
 *   tk_recognizer_cli results IN
 *     IN = records of uint32 LE hop + TK_RECOGNIZER_N_CLASSES int8 model outputs;
 *     the recognizer runs with tk_recognizer_default_params.
 *     stdout: one line "detection LABEL HOP SCORE" per detection, then
 *     results=N, detections=N and, with an instruction counter,
 *     instructions_recognizer=N (all results, timed as one block).
 *   tk_recognizer_cli window N
 *     pushes N synthetic frames through the window, copying it when the
 *     schedule runs the model; stdout: hops=N, inferences=N, checksum=N and
 *     instructions_window=N (push + copy + checksum, frames made beforehand).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tk_platform.h"
#include "tk_recognizer.h"

#define MAX_RESULTS 65536u
#define MAX_DETECTIONS 4096u
#define RECORD_BYTES (4u + TK_RECOGNIZER_N_CLASSES)

static uint32_t g_hops[MAX_RESULTS];
static int8_t g_scores[MAX_RESULTS][TK_RECOGNIZER_N_CLASSES];
static tk_detection_t g_detections[MAX_DETECTIONS];
static tk_recognizer_t g_rec;
static tk_window_t g_window;
static int8_t g_input[TK_RECOGNIZER_N_FRAMES * TK_RECOGNIZER_N_MFCC];

static void print_instructions(const char *name, uint32_t ticks)
{
    if (TK_PLATFORM_TICK_INSTRUCTIONS_NUM > 0u) {
        const uint64_t n = (uint64_t)ticks * TK_PLATFORM_TICK_INSTRUCTIONS_NUM / TK_PLATFORM_TICK_INSTRUCTIONS_DEN;
        printf("%s=%lu\n", name, (unsigned long)n);
    }
}

static long read_results(const char *path)
{
    unsigned char record[RECORD_BYTES];
    long n = 0;
    FILE *in = fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    while (fread(record, 1, RECORD_BYTES, in) == RECORD_BYTES) {
        if ((unsigned long)n == MAX_RESULTS) {
            fprintf(stderr, "more than %u results\n", MAX_RESULTS);
            fclose(in);
            return -1;
        }
        g_hops[n] = (uint32_t)record[0] | ((uint32_t)record[1] << 8) | ((uint32_t)record[2] << 16) |
                    ((uint32_t)record[3] << 24);
        memcpy(g_scores[n], record + 4, TK_RECOGNIZER_N_CLASSES);
        ++n;
    }
    fclose(in);
    return n;
}

static int run_results(const char *path)
{
    uint32_t n_found = 0;
    uint32_t start;
    uint32_t ticks;
    long i;
    const long n = read_results(path);
    if (n < 0 || tk_recognizer_init(&g_rec, &tk_recognizer_default_params) != TK_RECOGNIZER_OK) {
        return 2;
    }
    start = tk_platform_ticks();
    for (i = 0; i < n; ++i) {
        tk_detection_t found;
        if (tk_recognizer_push(&g_rec, g_scores[i], g_hops[i], &found) == TK_RECOGNIZER_DETECTED &&
            n_found < MAX_DETECTIONS) {
            g_detections[n_found++] = found;
        }
    }
    ticks = tk_platform_ticks() - start;
    for (i = 0; i < (long)n_found; ++i) {
        printf("detection %ld %lu %ld\n", (long)g_detections[i].label, (unsigned long)g_detections[i].hop,
               (long)g_detections[i].score);
    }
    printf("results=%ld\ndetections=%lu\n", n, (unsigned long)n_found);
    print_instructions("instructions_recognizer", ticks);
    return 0;
}

/* Frame h of the synthetic stream is g_frames[h % FRAME_PERIOD]: (7 h + 13 k) % 251 - 125. */
#define FRAME_PERIOD 251
static int8_t g_frames[FRAME_PERIOD][TK_RECOGNIZER_N_MFCC];

static void make_frames(void)
{
    int h;
    unsigned k;
    for (h = 0; h < FRAME_PERIOD; ++h) {
        for (k = 0; k < TK_RECOGNIZER_N_MFCC; ++k) {
            g_frames[h][k] = (int8_t)((h * 7 + (int)k * 13) % FRAME_PERIOD - 125);
        }
    }
}

static int run_window(long n_hops)
{
    uint32_t inferences = 0;
    uint32_t checksum = 0;
    uint32_t start;
    uint32_t ticks;
    long h;
    int slot = 0;
    if (n_hops < 0 || tk_window_init(&g_window, &tk_recognizer_default_params) != TK_RECOGNIZER_OK) {
        return 2;
    }
    make_frames();
    start = tk_platform_ticks();
    for (h = 0; h < n_hops; ++h) {
        const int8_t *frame = g_frames[slot];
        slot = (slot + 1 == FRAME_PERIOD) ? 0 : slot + 1;
        if (tk_window_push(&g_window, frame)) {
            tk_window_copy(&g_window, g_input);
            checksum = checksum * 31u + (uint32_t)(uint8_t)g_input[0] + (uint32_t)(uint8_t)g_input[sizeof(g_input) - 1u];
            inferences += 1u;
        }
    }
    ticks = tk_platform_ticks() - start;
    printf("hops=%ld\ninferences=%lu\nchecksum=%lu\n", n_hops, (unsigned long)inferences, (unsigned long)checksum);
    print_instructions("instructions_window", ticks);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "results") == 0) {
        return run_results(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "window") == 0) {
        return run_window(strtol(argv[2], NULL, 10));
    }
    fprintf(stderr, "usage: %s results IN | window N_HOPS\n", argc > 0 ? argv[0] : "tk_recognizer_cli");
    return 2;
}
