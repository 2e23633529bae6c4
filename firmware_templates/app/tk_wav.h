/*
 * tk_wav.h: read a 16-bit PCM mono WAV file at the model's sample rate into
 * one clip (cropped or zero-padded to TK_FEATURES_CLIP_SAMPLES, as
 * tinykws.audio.load_clip does). Anything else is refused with a message.
 */
#ifndef TK_WAV_H
#define TK_WAV_H

#include <stddef.h>
#include <stdint.h>

#include "tk_features.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_WAV_OK = 0,
    TK_WAV_ERROR_OPEN = 1,   /* cannot open or read the file */
    TK_WAV_ERROR_FORMAT = 2  /* not a WAV file this app can use; see the message */
} tk_wav_status_t;

/* Read `path` into `pcm` (TK_FEATURES_CLIP_SAMPLES); on error `message`
 * (`size` bytes) says what is wrong. */
tk_wav_status_t tk_wav_read_clip(const char *path, int16_t *pcm, char *message, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* TK_WAV_H */
