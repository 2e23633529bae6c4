/*
 * wav_fuzz_driver.c: runs the firmware WAV reader (firmware_templates/app/tk_wav.c)
 * over a list of files, one path a line, for tests/test_wav_reader_c.py.
 *
 * Per file it prints one line, flushed before the next file is opened, so a
 * hang is pinned to the file after the last line:
 *   <index> ok <samples> <fnv1a-32 of the samples as little-endian bytes> <clip status>
 *   <index> error <status> <message>
 */
#include <stdio.h>
#include <string.h>

#include "tk_wav.h"

#define HOP 320u

static int16_t g_clip[TK_FEATURES_CLIP_SAMPLES];

static uint32_t fnv1a(uint32_t hash, const int16_t *pcm, size_t count)
{
    size_t i;
    for (i = 0; i < count; ++i) {
        const unsigned u = (unsigned)(uint16_t)pcm[i];
        hash = (hash ^ (u & 0xFFu)) * 16777619u;
        hash = (hash ^ (u >> 8)) * 16777619u;
    }
    return hash;
}

static void one_file(unsigned long index, const char *path)
{
    char message[512];
    int16_t hop[HOP];
    tk_wav_reader_t reader;
    unsigned long samples = 0;
    uint32_t hash = 2166136261u;
    size_t got;
    tk_wav_status_t status = tk_wav_open(&reader, path, message, sizeof message);
    if (status != TK_WAV_OK) {
        printf("%lu error %d %s\n", index, (int)status, message);
        return;
    }
    while ((got = tk_wav_read(&reader, hop, HOP)) > 0u) {
        hash = fnv1a(hash, hop, got);
        samples += (unsigned long)got;
    }
    status = tk_wav_failed(&reader) ? TK_WAV_ERROR_OPEN : TK_WAV_OK;
    tk_wav_close(&reader);
    if (status == TK_WAV_OK) {
        status = tk_wav_read_clip(path, g_clip, message, sizeof message);
    }
    printf("%lu ok %lu %lu %d\n", index, samples, (unsigned long)hash, (int)status);
}

int main(int argc, char **argv)
{
    char line[1024];
    unsigned long index = 0;
    FILE *list;
    if (argc != 2 || (list = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: wav_fuzz_driver LIST\n");
        return 2;
    }
    printf("long_bits=%u\n", (unsigned)(8u * sizeof(long)));
    while (fgets(line, sizeof line, list) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        one_file(index++, line);
        fflush(stdout);
    }
    fclose(list);
    return 0;
}
