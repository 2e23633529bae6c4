/*
 * tk_wav.c: a small RIFF/WAVE reader for 16-bit PCM mono clips and streams.
 *
 * It accepts and refuses the same files as tinykws.audio.io.read_wav does for
 * 16-bit PCM mono at the model's rate: every chunk of the file is walked and a
 * chunk that declares more bytes than the file holds (a truncated file) is an
 * error, never zero-padded. Sizes are unsigned 32-bit and are checked against
 * the bytes left in the file before any seek, so no size field can wrap a
 * 32-bit `long` (every Cortex-M) into a backwards seek or an endless loop.
 */
#include "tk_wav.h"

#include <stdio.h>
#include <string.h>

#define TK_WAV_FORMAT_PCM 0x0001u
#define TK_WAV_FORMAT_EXTENSIBLE 0xFFFEu
#define TK_WAV_FMT_KEEP 40u /* bytes of 'fmt ' kept: the WAVE_FORMAT_EXTENSIBLE header */
#define TK_WAV_MAX_FILE 0xFFFFFFFFul

typedef struct {
    unsigned format;
    unsigned channels;
    uint32_t rate;
    unsigned block_align;
    unsigned bits;
} wav_format_t;

/* What the chunk walk found: the first 'fmt ' (up to TK_WAV_FMT_KEEP bytes) and the first 'data'. */
typedef struct {
    unsigned char fmt[TK_WAV_FMT_KEEP];
    uint32_t fmt_size;
    uint32_t data_offset;
    uint32_t data_size;
    int have_fmt;
    int have_data;
} wav_chunks_t;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
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

/* The file's length in bytes, leaving it at offset 0; -1 when it cannot be told or exceeds RIFF's 4 GiB. */
static int file_length(FILE *file, uint32_t *length)
{
    long end;
    if (fseek(file, 0L, SEEK_END) != 0) {
        return -1;
    }
    end = ftell(file);
    if (end < 0L || (unsigned long)end > TK_WAV_MAX_FILE || fseek(file, 0L, SEEK_SET) != 0) {
        return -1;
    }
    *length = (uint32_t)end;
    return 0;
}

/* Skip `count` bytes that are known to lie inside the file (so they fit in a long). */
static int skip(FILE *file, uint32_t count)
{
    return count == 0u ? 0 : fseek(file, (long)count, SEEK_CUR);
}

static tk_wav_status_t truncated(char *message, size_t size, const char *path, const unsigned char *id,
                                 uint32_t declared, uint32_t present)
{
    char why[128];
    if (memcmp(id, "data", 4) == 0) {
        (void)snprintf(why, sizeof why, "truncated: the data chunk declares %lu bytes but only %lu are present",
                       (unsigned long)declared, (unsigned long)present);
    } else {
        (void)snprintf(why, sizeof why, "truncated inside a chunk (declares %lu bytes, %lu present)",
                       (unsigned long)declared, (unsigned long)present);
    }
    return fail(message, size, path, why);
}

/* One chunk whose header was just read at `pos`: checked against the file's end, kept if wanted, skipped. */
static tk_wav_status_t visit_chunk(FILE *file, const unsigned char *header, uint32_t pos, uint32_t end,
                                   wav_chunks_t *found, char *message, size_t size, const char *path)
{
    const uint32_t chunk = le32(header + 4);
    const uint32_t body = pos + 8u;
    uint32_t keep = 0u;
    if (chunk > end - body) {
        return truncated(message, size, path, header, chunk, end - body);
    }
    if (memcmp(header, "fmt ", 4) == 0 && !found->have_fmt) {
        keep = chunk < TK_WAV_FMT_KEEP ? chunk : TK_WAV_FMT_KEEP;
        if (fread(found->fmt, 1, keep, file) != keep) {
            return fail(message, size, path, "read error in the 'fmt ' chunk");
        }
        found->fmt_size = chunk;
        found->have_fmt = 1;
    } else if (memcmp(header, "data", 4) == 0 && !found->have_data) {
        found->data_offset = body;
        found->data_size = chunk;
        found->have_data = 1;
    }
    if (skip(file, chunk - keep) != 0) {
        return fail(message, size, path, "cannot seek past a chunk");
    }
    return TK_WAV_OK;
}

/* Walk every chunk from offset 12 to the end, as read_wav does; the pad byte of an odd chunk may be missing. */
static tk_wav_status_t walk_chunks(FILE *file, uint32_t end, wav_chunks_t *found, char *message, size_t size,
                                   const char *path)
{
    unsigned char header[8];
    uint32_t pos = 12u;
    while (end - pos >= 8u) {
        uint32_t chunk;
        tk_wav_status_t status;
        if (fread(header, 1, 8, file) != 8u) {
            return fail(message, size, path, "read error in a chunk header");
        }
        status = visit_chunk(file, header, pos, end, found, message, size, path);
        if (status != TK_WAV_OK) {
            return status;
        }
        chunk = le32(header + 4);
        pos += 8u + chunk; /* <= end: checked in visit_chunk */
        if ((chunk & 1u) != 0u) {
            if (pos == end) {
                break;
            }
            pos += 1u;
            if (skip(file, 1u) != 0) {
                return fail(message, size, path, "cannot seek past a pad byte");
            }
        }
    }
    if (!found->have_fmt) {
        return fail(message, size, path, "no 'fmt ' chunk (truncated or not a WAV file)");
    }
    if (!found->have_data) {
        return fail(message, size, path, "no 'data' chunk (truncated file?)");
    }
    return TK_WAV_OK;
}

static tk_wav_status_t parse_format(const wav_chunks_t *found, wav_format_t *fmt, char *message, size_t size,
                                    const char *path)
{
    char why[96];
    if (found->fmt_size < 16u) {
        (void)snprintf(why, sizeof why, "'fmt ' chunk is %lu bytes, expected at least 16",
                       (unsigned long)found->fmt_size);
        return fail(message, size, path, why);
    }
    fmt->format = le16(found->fmt);
    fmt->channels = le16(found->fmt + 2);
    fmt->rate = le32(found->fmt + 4);
    fmt->block_align = le16(found->fmt + 12);
    fmt->bits = le16(found->fmt + 14);
    if (fmt->format == TK_WAV_FORMAT_EXTENSIBLE) {
        if (found->fmt_size < TK_WAV_FMT_KEEP) {
            return fail(message, size, path, "WAVE_FORMAT_EXTENSIBLE header too short");
        }
        fmt->format = le16(found->fmt + 24); /* the sub-format GUID starts with the format tag */
    }
    return TK_WAV_OK;
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
    if (fmt->rate != (uint32_t)TK_FEATURES_SAMPLE_RATE) {
        (void)snprintf(why, sizeof why, "sample rate %lu Hz; the model needs %lu Hz (resample first)",
                       (unsigned long)fmt->rate, (unsigned long)TK_FEATURES_SAMPLE_RATE);
        return fail(message, size, path, why);
    }
    if (fmt->block_align != 2u) {
        (void)snprintf(why, sizeof why, "inconsistent block align %u for 1 x 16-bit", fmt->block_align);
        return fail(message, size, path, why);
    }
    return TK_WAV_OK;
}

static tk_wav_status_t check_data(const wav_chunks_t *found, char *message, size_t size, const char *path)
{
    char why[96];
    if ((found->data_size & 1u) != 0u) {
        (void)snprintf(why, sizeof why, "truncated: data length %lu is not a multiple of 2",
                       (unsigned long)found->data_size);
        return fail(message, size, path, why);
    }
    if (found->data_size == 0u) {
        return fail(message, size, path, "the data chunk is empty (no samples)");
    }
    return TK_WAV_OK;
}

/* Check the whole file and leave it at the first sample; *samples is the data chunk's length in samples. */
static tk_wav_status_t find_data(FILE *file, uint32_t *samples, char *message, size_t size, const char *path)
{
    unsigned char riff[12];
    uint32_t end = 0u;
    wav_chunks_t found;
    wav_format_t fmt = {0u, 0u, 0u, 0u, 0u};
    tk_wav_status_t status;
    memset(&found, 0, sizeof found);
    if (file_length(file, &end) != 0) {
        return fail(message, size, path, "cannot tell the file's length (not a regular file, or over 4 GiB)");
    }
    if (end == 0u) {
        return fail(message, size, path, "empty file");
    }
    if (fread(riff, 1, sizeof riff, file) != sizeof riff || memcmp(riff, "RIFF", 4) != 0 ||
        memcmp(riff + 8, "WAVE", 4) != 0) {
        return fail(message, size, path, "not a RIFF/WAVE file");
    }
    status = walk_chunks(file, end, &found, message, size, path);
    if (status == TK_WAV_OK) {
        status = parse_format(&found, &fmt, message, size, path);
    }
    if (status == TK_WAV_OK) {
        status = check_format(&fmt, message, size, path);
    }
    if (status == TK_WAV_OK) {
        status = check_data(&found, message, size, path);
    }
    if (status == TK_WAV_OK && fseek(file, (long)found.data_offset, SEEK_SET) != 0) {
        status = fail(message, size, path, "cannot seek to the data chunk");
    }
    *samples = found.data_size / 2u;
    return status;
}

tk_wav_status_t tk_wav_open(tk_wav_reader_t *reader, const char *path, char *message, size_t size)
{
    uint32_t samples = 0u;
    tk_wav_status_t status;
    FILE *file;
    if (reader == NULL || path == NULL) {
        return TK_WAV_ERROR_OPEN;
    }
    reader->file = NULL;
    reader->remaining = 0u;
    reader->failed = 0;
    file = fopen(path, "rb");
    if (file == NULL) {
        if (message != NULL && size > 0u) {
            (void)snprintf(message, size, "%s: cannot open the file", path);
        }
        return TK_WAV_ERROR_OPEN;
    }
    status = find_data(file, &samples, message, size, path);
    if (status != TK_WAV_OK) {
        fclose(file);
        return status;
    }
    reader->file = file;
    reader->remaining = samples;
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
        if ((uint32_t)want > reader->remaining) {
            want = (size_t)reader->remaining;
        }
        got = fread(bytes, 2, want, reader->file);
        for (i = 0; i < got; ++i) {
            const unsigned u = le16(bytes + 2u * i);
            pcm[done + i] = (int16_t)(u >= 0x8000u ? (long)u - 0x10000L : (long)u);
        }
        done += got;
        reader->remaining -= (uint32_t)got;
        if (got < want) {
            reader->remaining = 0u; /* the file shrank after tk_wav_open checked it */
            reader->failed = 1;
        }
    }
    return done;
}

int tk_wav_failed(const tk_wav_reader_t *reader)
{
    return reader != NULL && reader->failed;
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
    if (tk_wav_failed(&reader)) {
        tk_wav_close(&reader);
        if (message != NULL && size > 0u) {
            (void)snprintf(message, size, "%s: read error in the data chunk", path);
        }
        return TK_WAV_ERROR_OPEN;
    }
    for (; n < (size_t)TK_FEATURES_CLIP_SAMPLES; ++n) {
        pcm[n] = 0; /* a complete clip shorter than the window is padded, as load_clip does */
    }
    tk_wav_close(&reader);
    return TK_WAV_OK;
}
