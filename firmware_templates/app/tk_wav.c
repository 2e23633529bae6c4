/*
 * tk_wav.c: a small RIFF/WAVE reader for 16-bit PCM mono clips.
 */
#include "tk_wav.h"

#include <stdio.h>
#include <string.h>

#define TK_WAV_FORMAT_PCM 0x0001u
#define TK_WAV_FORMAT_EXTENSIBLE 0xFFFEu

typedef struct {
    unsigned format;
    unsigned channels;
    unsigned long rate;
    unsigned bits;
} wav_format_t;

static unsigned long le32(const unsigned char *p)
{
    return (unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) |
           ((unsigned long)p[3] << 24);
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static tk_wav_status_t fail(char *message, size_t size, const char *path, const char *why)
{
    if (message != NULL && size > 0u) {
        (void)snprintf(message, size, "%s: %s", path, why);
    }
    return TK_WAV_ERROR_FORMAT;
}

static int parse_format(const unsigned char *chunk, unsigned long length, wav_format_t *fmt)
{
    if (length < 16u) {
        return -1;
    }
    fmt->format = le16(chunk);
    fmt->channels = le16(chunk + 2);
    fmt->rate = le32(chunk + 4);
    fmt->bits = le16(chunk + 14);
    if (fmt->format == TK_WAV_FORMAT_EXTENSIBLE && length >= 26u) {
        fmt->format = le16(chunk + 24); /* the sub-format GUID starts with the format tag */
    }
    return 0;
}

static tk_wav_status_t check_format(const wav_format_t *fmt, char *message, size_t size, const char *path)
{
    char why[128];
    if (fmt->format != TK_WAV_FORMAT_PCM || fmt->bits != 16u) {
        (void)snprintf(why, sizeof why, "format tag %u with %u bits; this app reads 16-bit PCM only", fmt->format,
                       fmt->bits);
        return fail(message, size, path, why);
    }
    if (fmt->channels != 1u) {
        (void)snprintf(why, sizeof why, "%u channels; this app reads mono only", fmt->channels);
        return fail(message, size, path, why);
    }
    if (fmt->rate != (unsigned long)TK_FEATURES_SAMPLE_RATE) {
        (void)snprintf(why, sizeof why, "sample rate %lu Hz; the model needs %lu Hz (resample first)", fmt->rate,
                       (unsigned long)TK_FEATURES_SAMPLE_RATE);
        return fail(message, size, path, why);
    }
    return TK_WAV_OK;
}

/* Read up to TK_FEATURES_CLIP_SAMPLES samples of the data chunk; zero-pad the rest. */
static void read_samples(FILE *file, unsigned long length, int16_t *pcm)
{
    unsigned char pair[2];
    unsigned long n = 0;
    const unsigned long available = length / 2u;
    while (n < available && n < (unsigned long)TK_FEATURES_CLIP_SAMPLES && fread(pair, 1, 2, file) == 2u) {
        const unsigned u = le16(pair);
        pcm[n++] = (int16_t)(u >= 0x8000u ? (long)u - 0x10000L : (long)u);
    }
    for (; n < (unsigned long)TK_FEATURES_CLIP_SAMPLES; ++n) {
        pcm[n] = 0;
    }
}

static tk_wav_status_t read_chunks(FILE *file, int16_t *pcm, char *message, size_t size, const char *path)
{
    unsigned char header[8];
    unsigned char fmt_chunk[40];
    wav_format_t fmt = {0u, 0u, 0ul, 0u};
    int have_format = 0;
    while (fread(header, 1, 8, file) == 8u) {
        const unsigned long length = le32(header + 4);
        if (memcmp(header, "fmt ", 4) == 0) {
            const unsigned long keep = length < sizeof fmt_chunk ? length : (unsigned long)sizeof fmt_chunk;
            if (fread(fmt_chunk, 1, keep, file) != keep || parse_format(fmt_chunk, keep, &fmt) != 0 ||
                fseek(file, (long)(length - keep + (length & 1u)), SEEK_CUR) != 0) {
                return fail(message, size, path, "truncated or malformed 'fmt ' chunk");
            }
            have_format = 1;
        } else if (memcmp(header, "data", 4) == 0) {
            tk_wav_status_t status;
            if (!have_format) {
                return fail(message, size, path, "'data' chunk before the 'fmt ' chunk");
            }
            status = check_format(&fmt, message, size, path);
            if (status == TK_WAV_OK) {
                read_samples(file, length, pcm);
            }
            return status;
        } else if (fseek(file, (long)(length + (length & 1u)), SEEK_CUR) != 0) {
            break;
        }
    }
    return fail(message, size, path, "no 'data' chunk (truncated file?)");
}

tk_wav_status_t tk_wav_read_clip(const char *path, int16_t *pcm, char *message, size_t size)
{
    unsigned char riff[12];
    tk_wav_status_t status;
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        if (message != NULL && size > 0u) {
            (void)snprintf(message, size, "%s: cannot open the file", path);
        }
        return TK_WAV_ERROR_OPEN;
    }
    if (fread(riff, 1, sizeof riff, file) != sizeof riff || memcmp(riff, "RIFF", 4) != 0 ||
        memcmp(riff + 8, "WAVE", 4) != 0) {
        status = fail(message, size, path, "not a RIFF/WAVE file");
    } else {
        status = read_chunks(file, pcm, message, size, path);
    }
    fclose(file);
    return status;
}
