/*
 * tk_features_cli.c: runs the front end over files, for the tests and for
 * benchmarking on a device (stdio reaches the host through semihosting).
 *
 *   tk_features_cli MODE IN OUT
 *     clip      IN = int16 LE PCM, whole clips of TK_FEATURES_CLIP_SAMPLES
 *     stream    IN = int16 LE PCM, whole hops; one stream from silence
 *     quantize  IN = float32 LE, rows of TK_FEATURES_N_MFCC MFCC
 *   OUT gets one record per frame: float32 mfcc[N_MFCC], int8 features[N_MFCC]
 *   (quantize writes the input floats back in the float slot).
 *
 * stdout: frames=N, and with an instruction counter
 * instructions_per_frame=N and instructions_per_frame_max=N.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tk_features.h"
#include "tk_platform.h"

typedef struct {
    uint32_t frames;
    uint64_t ticks_total; /* 64 bits: a long run passes 2^32 instructions */
    uint32_t ticks_max;
} run_stats_t;

static tk_features_t g_state;
static int16_t g_pcm[TK_FEATURES_CLIP_SAMPLES];
static int8_t g_features[TK_FEATURES_FEATURE_COUNT];
static float g_mfcc[TK_FEATURES_FEATURE_COUNT];

static int write_frames(FILE *out, const float *mfcc, const int8_t *features, int n_frames)
{
    int f;
    for (f = 0; f < n_frames; ++f) {
        if (fwrite(mfcc + f * TK_FEATURES_N_MFCC, sizeof(float), TK_FEATURES_N_MFCC, out) != TK_FEATURES_N_MFCC ||
            fwrite(features + f * TK_FEATURES_N_MFCC, 1, TK_FEATURES_N_MFCC, out) != TK_FEATURES_N_MFCC) {
            return -1;
        }
    }
    return 0;
}

static void count(run_stats_t *stats, uint32_t ticks)
{
    stats->frames += 1;
    stats->ticks_total += ticks;
    if (ticks > stats->ticks_max) {
        stats->ticks_max = ticks;
    }
}

static int run_clips(FILE *in, FILE *out, run_stats_t *stats)
{
    while (fread(g_pcm, sizeof(int16_t), TK_FEATURES_CLIP_SAMPLES, in) == TK_FEATURES_CLIP_SAMPLES) {
        const uint32_t start = tk_platform_ticks();
        (void)tk_features_clip(&g_state, g_pcm, g_features, g_mfcc);
        const uint32_t ticks = tk_platform_ticks() - start;
        stats->ticks_total += ticks;
        stats->frames += TK_FEATURES_N_FRAMES;
        if (write_frames(out, g_mfcc, g_features, TK_FEATURES_N_FRAMES) != 0) {
            return -1;
        }
    }
    return 0;
}

static int run_stream(FILE *in, FILE *out, run_stats_t *stats)
{
    (void)tk_features_reset(&g_state);
    while (fread(g_pcm, sizeof(int16_t), TK_FEATURES_HOP_SAMPLES, in) == TK_FEATURES_HOP_SAMPLES) {
        const uint32_t start = tk_platform_ticks();
        (void)tk_features_push(&g_state, g_pcm, g_features, g_mfcc);
        count(stats, tk_platform_ticks() - start);
        if (write_frames(out, g_mfcc, g_features, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

static int run_quantize(FILE *in, FILE *out, run_stats_t *stats)
{
    while (fread(g_mfcc, sizeof(float), TK_FEATURES_N_MFCC, in) == TK_FEATURES_N_MFCC) {
        tk_features_quantize(g_mfcc, g_features);
        stats->frames += 1;
        if (write_frames(out, g_mfcc, g_features, 1) != 0) {
            return -1;
        }
    }
    return 0;
}

static int run_mode(const char *mode, FILE *in, FILE *out, run_stats_t *stats)
{
    if (strcmp(mode, "clip") == 0) {
        return run_clips(in, out, stats);
    }
    if (strcmp(mode, "stream") == 0) {
        return run_stream(in, out, stats);
    }
    if (strcmp(mode, "quantize") == 0) {
        return run_quantize(in, out, stats);
    }
    fprintf(stderr, "unknown mode %s (clip, stream or quantize)\n", mode);
    return -2;
}

static uint64_t instructions(uint64_t ticks)
{
    return (ticks * TK_PLATFORM_TICK_INSTRUCTIONS_NUM + TK_PLATFORM_TICK_INSTRUCTIONS_DEN / 2u) /
           TK_PLATFORM_TICK_INSTRUCTIONS_DEN;
}

static void report(const run_stats_t *stats)
{
    printf("frames=%lu\n", (unsigned long)stats->frames);
    if (TK_PLATFORM_TICK_INSTRUCTIONS_NUM > 0 && stats->frames > 0) {
        const uint64_t total = instructions(stats->ticks_total);
        printf("instructions_per_frame=%lu\n", (unsigned long)((total + stats->frames / 2u) / stats->frames));
        if (stats->ticks_max > 0) {
            printf("instructions_per_frame_max=%lu\n", (unsigned long)instructions(stats->ticks_max));
        }
    }
}

int main(int argc, char **argv)
{
    run_stats_t stats = {0, 0, 0};
    FILE *in;
    FILE *out;
    int rc;
    if (argc != 4) {
        fprintf(stderr, "usage: tk_features_cli clip|stream|quantize IN OUT\n");
        return 2;
    }
    in = fopen(argv[2], "rb");
    if (in == NULL) {
        fprintf(stderr, "cannot open %s\n", argv[2]);
        return 2;
    }
    out = fopen(argv[3], "wb");
    if (out == NULL) {
        fprintf(stderr, "cannot create %s\n", argv[3]);
        fclose(in);
        return 2;
    }
    rc = run_mode(argv[1], in, out, &stats);
    fclose(in);
    if (fclose(out) != 0 || rc == -1) {
        fprintf(stderr, "cannot write %s\n", argv[3]);
        return 1;
    }
    if (rc != 0) {
        return 2;
    }
    report(&stats);
    return 0;
}
