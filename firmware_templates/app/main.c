/*
 * main.c: the bundle's program, for the host and for an emulated Cortex-M
 * (stdio and files reach the host through semihosting there).
 *
 *   tinykws-app WAV             label and scores of a 16-bit mono WAV clip
 *   tinykws-app --self-test     check the golden vectors; exit 0 pass, 1 fail
 *   tinykws-app --bench         instructions per feature frame (one golden clip
 *                               streamed) and per inference (mean and largest
 *                               over the golden clips; platforms with a counter)
 *   tinykws-app --batch IN OUT  IN: whole clips of int16 LE PCM; OUT: the
 *                               int8 model outputs of each (C features + model)
 *   tinykws-app --stream WAV    keyword detection over a WAV of any length: one
 *                               line "detection label=L time_ms=T score=S hop=H"
 *                               per detection (T: end of the audio the detection
 *                               consumed, S: smoothed int8 score), then hops=,
 *                               inferences=, audio_ms=, stream_incremental=
 *                               (1: incremental inference, 0: the full window at
 *                               every inference), stream_state_bytes=
 *                               (RAM of incremental inference), with a counter
 *                               instructions_per_second_of_audio= (features,
 *                               model and recognizer; file reading excluded),
 *                               model_instructions_per_second_of_audio= and
 *                               model_instructions_per_inference= (the model
 *                               alone), and detections=N last
 *   no arguments                --bench then --self-test where the platform
 *                               counts instructions, else the usage
 * Exit codes: 0 success, 1 self-test failed, 2 bad usage or bad input.
 * Build with -DTK_APP_MAIN=name to call it from another main (the tflm target).
 */
#include <stdio.h>
#include <string.h>

#include "tk_app.h"
#include "tk_detector.h"
#include "tk_golden.h"
#include "tk_platform.h"
#include "tk_self_test.h"
#include "tk_wav.h"
#ifdef TK_APP_STACK_PROBE
#include "tk_stack_probe.h"
#endif

#define EXIT_USAGE 2

#ifndef TK_APP_MAIN
#define TK_APP_MAIN main
#endif

int TK_APP_MAIN(int argc, char **argv);

static int16_t g_pcm[TK_FEATURES_CLIP_SAMPLES];
static int8_t g_window[TK_APP_WINDOW_BYTES]; /* the feature provider's caller-owned buffer */
static tk_feature_provider_t g_provider;
static tk_result_t g_result;
static int16_t g_hop[TK_FEATURES_HOP_SAMPLES];
static tk_detector_t g_detector;

static void print_line(const char *line)
{
    printf("%s\n", line);
}

static int usage(void)
{
    fprintf(stderr, "usage: tinykws-app WAV | --self-test | --bench | --batch IN OUT | --stream WAV\n");
    return EXIT_USAGE;
}

static int classify_wav(const char *path)
{
    char text[512];
    if (tk_wav_read_clip(path, g_pcm, text, sizeof text) != TK_WAV_OK) {
        fprintf(stderr, "error: %s\n", text);
        return EXIT_USAGE;
    }
    (void)tk_feature_provider_init(&g_provider, g_window);
    (void)tk_feature_provider_clip(&g_provider, g_pcm);
    if (tk_classify(g_window, &g_result) != TK_APP_OK) {
        fprintf(stderr, "error: the model failed on %s\n", path);
        return 1;
    }
    tk_format_result(&g_result, text, sizeof text);
    printf("%s: %s\n", path, text);
    return 0;
}

static int self_test(void)
{
    const int status = tk_self_test_run(print_line, NULL);
#ifdef TK_APP_STACK_PROBE
    printf("stack_used_bytes=%lu\n", (unsigned long)tk_stack_probe_used());
#endif
    printf("self_test=%s\n", status == 0 ? "pass" : "fail");
    return status;
}

static unsigned long instructions(uint32_t ticks, uint32_t count)
{
    const unsigned long long total = (unsigned long long)ticks * TK_PLATFORM_TICK_INSTRUCTIONS_NUM;
    const unsigned long long per_count = (unsigned long long)TK_PLATFORM_TICK_INSTRUCTIONS_DEN * count;
    return (unsigned long)((total + per_count / 2u) / per_count);
}

/* One warm-up, then a clip streamed hop by hop: mean instructions per frame. */
static unsigned long bench_frames(void)
{
    const int hops = TK_FEATURES_CLIP_SAMPLES / TK_FEATURES_HOP_SAMPLES;
    uint32_t start;
    int hop;
    (void)tk_feature_provider_init(&g_provider, g_window);
    (void)tk_feature_provider_push(&g_provider, tk_golden_pcm[0]); /* warm-up */
    start = tk_platform_ticks();
    for (hop = 1; hop < hops; ++hop) {
        (void)tk_feature_provider_push(&g_provider, tk_golden_pcm[0] + hop * TK_FEATURES_HOP_SAMPLES);
    }
    return instructions(tk_platform_ticks() - start, (uint32_t)(hops - 1));
}

/* One warm-up, then one inference on the C features of every golden clip: mean and largest. */
static unsigned long bench_inferences(unsigned long *largest)
{
    uint64_t total = 0;
    int clip;
    *largest = 0;
    (void)tk_classify(g_window, &g_result); /* warm-up */
    for (clip = 0; clip < TK_GOLDEN_CLIPS; ++clip) {
        uint32_t start;
        uint32_t ticks;
        (void)tk_feature_provider_clip(&g_provider, tk_golden_pcm[clip]);
        start = tk_platform_ticks();
        (void)tk_classify(g_window, &g_result);
        ticks = tk_platform_ticks() - start;
        total += ticks;
        if (instructions(ticks, 1u) > *largest) {
            *largest = instructions(ticks, 1u);
        }
    }
    return instructions((uint32_t)(total / TK_GOLDEN_CLIPS), 1u);
}

static int bench(void)
{
    unsigned long frame;
    unsigned long mean;
    unsigned long largest;
    if (TK_PLATFORM_TICK_INSTRUCTIONS_NUM == 0u || TK_FEATURES_CLIP_SAMPLES < 2 * TK_FEATURES_HOP_SAMPLES) {
        printf("bench: no instruction counter on %s\n", TK_PLATFORM_NAME);
        return 0;
    }
    frame = bench_frames();
    mean = bench_inferences(&largest);
    printf("platform=%s\n", TK_PLATFORM_NAME);
    printf("instructions_per_frame=%lu\n", frame);
    printf("instructions_per_inference=%lu\n", mean);
    printf("instructions_per_inference_max=%lu\n", largest);
    return 0;
}

static int batch(const char *in_path, const char *out_path)
{
    unsigned long clips = 0;
    int status = 0;
    FILE *in = fopen(in_path, "rb");
    FILE *out = fopen(out_path, "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "error: cannot open %s\n", in == NULL ? in_path : out_path);
        status = EXIT_USAGE;
    }
    while (status == 0 && fread(g_pcm, sizeof(int16_t), TK_FEATURES_CLIP_SAMPLES, in) == TK_FEATURES_CLIP_SAMPLES) {
        (void)tk_feature_provider_init(&g_provider, g_window);
        (void)tk_feature_provider_clip(&g_provider, g_pcm);
        if (tk_classify(g_window, &g_result) != TK_APP_OK ||
            fwrite(g_result.raw, 1, TK_MODEL_OUTPUT_SIZE, out) != (size_t)TK_MODEL_OUTPUT_SIZE) {
            fprintf(stderr, "error: clip %lu failed\n", clips);
            status = 1;
        }
        clips += 1u;
    }
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL && fclose(out) != 0 && status == 0) {
        status = 1;
    }
    printf("clips=%lu\n", clips);
    return status;
}

static void print_detection(const tk_detection_t *detection)
{
    const long score = (long)detection->score;
    printf("detection label=%s time_ms=%lu score=%ld hop=%lu\n", tk_recognizer_labels[detection->label],
           (unsigned long)tk_detector_time_ms(detection->hop), score, (unsigned long)detection->hop);
}

/* Instructions per second of audio, from the counter's ticks over `samples` samples. */
static unsigned long per_second_of_audio(uint64_t ticks, uint64_t samples)
{
    const uint64_t total = ticks * TK_PLATFORM_TICK_INSTRUCTIONS_NUM * (uint64_t)TK_FEATURES_SAMPLE_RATE;
    const uint64_t per = samples * TK_PLATFORM_TICK_INSTRUCTIONS_DEN;
    return per == 0u ? 0ul : (unsigned long)((total + per / 2u) / per);
}

static void print_stream_summary(uint64_t ticks, unsigned long detections)
{
    const uint64_t samples = (uint64_t)g_detector.hops * TK_FEATURES_HOP_SAMPLES;
    const uint32_t inferences = g_detector.inferences;
    printf("hops=%lu\n", (unsigned long)g_detector.hops);
    printf("inferences=%lu\n", (unsigned long)inferences);
    printf("audio_ms=%lu\n", (unsigned long)(samples * 1000u / TK_FEATURES_SAMPLE_RATE));
    printf("stream_incremental=%d\n", tk_model_stream_incremental ? 1 : 0);
    printf("stream_state_bytes=%lu\n", (unsigned long)tk_model_stream_state_bytes);
    if (TK_PLATFORM_TICK_INSTRUCTIONS_NUM > 0u && samples > 0u) {
        printf("instructions_per_second_of_audio=%lu\n", per_second_of_audio(ticks, samples));
        printf("model_instructions_per_second_of_audio=%lu\n", per_second_of_audio(g_detector.model_ticks, samples));
        if (inferences > 0u) {
            printf("model_instructions_per_inference=%lu\n",
                   instructions((uint32_t)(g_detector.model_ticks / inferences), 1u));
        }
    }
    printf("detections=%lu\n", detections);
}

static uint32_t stream_clock(void)
{
    return tk_platform_ticks();
}

/* Hop by hop through a WAV of any length: features, the model on the schedule, the recognizer. */
static int stream_wav(const char *path)
{
    char text[512];
    tk_wav_reader_t reader;
    tk_detection_t detection;
    uint64_t ticks = 0;
    unsigned long detections = 0;
    int status = 0;
    if (tk_wav_open(&reader, path, text, sizeof text) != TK_WAV_OK) {
        fprintf(stderr, "error: %s\n", text);
        return EXIT_USAGE;
    }
    if (tk_detector_init(&g_detector, g_window) != TK_APP_OK) {
        fprintf(stderr, "error: the model's incremental hop is not the recognizer's\n");
        tk_wav_close(&reader);
        return 1;
    }
    if (TK_PLATFORM_TICK_INSTRUCTIONS_NUM > 0u) {
        g_detector.clock = stream_clock;
    }
    while (status == 0 && tk_wav_read(&reader, g_hop, TK_FEATURES_HOP_SAMPLES) == (size_t)TK_FEATURES_HOP_SAMPLES) {
        const uint32_t start = tk_platform_ticks();
        const int found = tk_detector_push(&g_detector, g_hop, &detection);
        ticks += (uint32_t)(tk_platform_ticks() - start);
        if (found < 0) {
            fprintf(stderr, "error: the model failed at hop %lu of %s\n", (unsigned long)g_detector.hops, path);
            status = 1;
        } else if (found == 1) {
            print_detection(&detection);
            detections += 1u;
        }
    }
    if (status == 0 && tk_wav_failed(&reader)) {
        fprintf(stderr, "error: %s: read error in the data chunk\n", path);
        status = EXIT_USAGE;
    }
    tk_wav_close(&reader);
    print_stream_summary(ticks, detections);
    return status;
}

int TK_APP_MAIN(int argc, char **argv)
{
#ifdef TK_APP_STACK_PROBE
    tk_stack_probe_paint();
#endif
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0) {
        return self_test();
    }
    if (argc == 2 && strcmp(argv[1], "--bench") == 0) {
        return bench();
    }
    if (argc == 4 && strcmp(argv[1], "--batch") == 0) {
        return batch(argv[2], argv[3]);
    }
    if (argc == 3 && strcmp(argv[1], "--stream") == 0) {
        return stream_wav(argv[2]);
    }
    if (argc == 2 && argv[1][0] != '-') {
        return classify_wav(argv[1]);
    }
    if (argc <= 1 && TK_PLATFORM_TICK_INSTRUCTIONS_NUM > 0u) {
        (void)bench();
        return self_test();
    }
    return usage();
}
