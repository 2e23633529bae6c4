/*
 * tk_wav.c: a small RIFF/WAVE reader for 16-bit PCM mono clips and streams.
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

/* Find the data chunk after checking the format; *length is its size in bytes. */
static tk_wav_status_t find_data(FILE *file, unsigned long *length, char *message, size_t size, const char *path)
{
    unsigned char header[8];
    unsigned char fmt_chunk[40];
    wav_format_t fmt = {0u, 0u, 0ul, 0u};
    int have_format = 0;
    while (fread(header, 1, 8, file) == 8u) {
        const unsigned long chunk = le32(header + 4);
        if (memcmp(header, "fmt ", 4) == 0) {
            const unsigned long keep = chunk < sizeof fmt_chunk ? chunk : (unsigned long)sizeof fmt_chunk;
            if (fread(fmt_chunk, 1, keep, file) != keep || parse_format(fmt_chunk, keep, &fmt) != 0 ||
                fseek(file, (long)(chunk - keep + (chunk & 1u)), SEEK_CUR) != 0) {
                return fail(message, size, path, "truncated or malformed 'fmt ' chunk");
            }
            have_format = 1;
        } else if (memcmp(header, "data", 4) == 0) {
            if (!have_format) {
                return fail(message, size, path, "'data' chunk before the 'fmt ' chunk");
            }
            *length = chunk;
            return check_format(&fmt, message, size, path);
        } else if (fseek(file, (long)(chunk + (chunk & 1u)), SEEK_CUR) != 0) {
            break;
        }
    }
    return fail(message, size, path, "no 'data' chunk (truncated file?)");
}

tk_wav_status_t tk_wav_open(tk_wav_reader_t *reader, const char *path, char *message, size_t size)
{
    unsigned char riff[12];
    unsigned long length = 0;
    tk_wav_status_t status;
    FILE *file;
    if (reader == NULL || path == NULL) {
        return TK_WAV_ERROR_OPEN;
    }
    reader->file = NULL;
    reader->remaining = 0;
    file = fopen(path, "rb");
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
        status = find_data(file, &length, message, size, path);
    }
    if (status != TK_WAV_OK) {
        fclose(file);
        return status;
    }
    reader->file = file;
    reader->remaining = length / 2u;
    return TK_WAV_OK;
}

#define TK_WAV_BLOCK 256u

size_t tk_wav_read(tk_wav_reader_t *reader, int16_t *pcm, size_t count)
{
    unsigned char bytes[2u * TK_WAV_BLOCK];
    size_t done = 0;
    if (reader == NULL || reader->file == NULL || pcm == NULL) {
        return 0;
    }
    while (done < count && reader->remaining > 0u) {
        size_t want = count - done < TK_WAV_BLOCK ? count - done : TK_WAV_BLOCK;
        size_t got;
        size_t i;
        if ((unsigned long)want > reader->remaining) {
            want = (size_t)reader->remaining;
        }
        got = fread(bytes, 2, want, reader->file);
        for (i = 0; i < got; ++i) {
            const unsigned u = le16(bytes + 2u * i);
            pcm[done + i] = (int16_t)(u >= 0x8000u ? (long)u - 0x10000L : (long)u);
        }
        done += got;
        reader->remaining -= (unsigned long)got;
        if (got < want) {
            reader->remaining = 0; /* the file ends before its data chunk says */
        }
    }
    return done;
}

void tk_wav_close(tk_wav_reader_t *reader)
{
    if (reader != NULL && reader->file != NULL) {
        fclose(reader->file);
        reader->file = NULL;
    }
}

tk_wav_status_t tk_wav_read_clip(const char *path, int16_t *pcm, char *message, size_t size)
{
    tk_wav_reader_t reader;
    size_t n;
    const tk_wav_status_t status = tk_wav_open(&reader, path, message, size);
    if (status != TK_WAV_OK) {
        return status;
    }
    n = tk_wav_read(&reader, pcm, (size_t)TK_FEATURES_CLIP_SAMPLES);
    for (; n < (size_t)TK_FEATURES_CLIP_SAMPLES; ++n) {
        pcm[n] = 0;
    }
    tk_wav_close(&reader);
    return TK_WAV_OK;
}
