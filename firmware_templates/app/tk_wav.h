/*
 * tk_wav.h: read 16-bit PCM mono WAV files at the model's sample rate.
 *
 *   tk_wav_read_clip   one clip, cropped or zero-padded to TK_FEATURES_CLIP_SAMPLES
 *                      (as tinykws.audio.load_clip does)
 *   tk_wav_open/read   a stream of any length, a block of samples at a time
 *
 * Anything else is refused with a message naming the file and what is wrong,
 * and so is a truncated file (a chunk that declares more bytes than the file
 * holds), as tinykws.audio.io.read_wav refuses it.
 */
#ifndef TK_WAV_H
#define TK_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tk_features.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_WAV_OK = 0,
    TK_WAV_ERROR_OPEN = 1,   /* cannot open or read the file */
    TK_WAV_ERROR_FORMAT = 2  /* not a WAV file this app can use; see the message */
} tk_wav_status_t;

/* An open WAV file positioned in its data chunk; treat the fields as private. */
typedef struct {
    FILE *file;
    uint32_t remaining; /* samples left in the data chunk */
    int failed;         /* a read came up short after tk_wav_open checked the file */
} tk_wav_reader_t;

/* Read `path` into `pcm` (TK_FEATURES_CLIP_SAMPLES); on error `message`
 * (`size` bytes) says what is wrong. */
tk_wav_status_t tk_wav_read_clip(const char *path, int16_t *pcm, char *message, size_t size);

/* Open `path` and check its format; on success read samples with tk_wav_read
 * and finish with tk_wav_close. On error nothing stays open. */
tk_wav_status_t tk_wav_open(tk_wav_reader_t *reader, const char *path, char *message, size_t size);

/* Up to `count` next samples into `pcm`; returns how many were read (0 at the end). */
size_t tk_wav_read(tk_wav_reader_t *reader, int16_t *pcm, size_t count);

/* Non-zero when a tk_wav_read came up short of the data chunk's length (a read error). */
int tk_wav_failed(const tk_wav_reader_t *reader);

void tk_wav_close(tk_wav_reader_t *reader);

#ifdef __cplusplus
}
#endif

#endif /* TK_WAV_H */
