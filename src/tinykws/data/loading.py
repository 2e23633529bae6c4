"""Load clips into memory, skipping unreadable files with a count, never silently.

Each file is decoded once per process: decoded clips are kept as int16 in a
cache keyed by the sha1 of the file's bytes (and the clip length and rate), so
the folds of a cross-validation, or a file present under two names, reuse the
first decode. Hashing a file costs far less than decoding a FLAC.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinykws.audio.io import fit_length, read_audio, to_int16
from tinykws.config import FeatureConfig
from tinykws.data.speech_commands import Clip
from tinykws.errors import AudioError, DataError

Progress = Callable[[int, int], None]

_DECODED: dict[tuple[str, int, int], np.ndarray] = {}  # (sha1, rate, clip length) -> int16 clip
_CACHE_LIMIT = 400_000  # clips: 12.8 GB of int16 at 16,000 samples; the cache stops growing there


@dataclass(frozen=True)
class LoadedClips:
    clips: tuple[Clip, ...]
    audio: np.ndarray  # (N, clip_samples) float32
    skipped: tuple[str, ...]  # one message per unreadable file

    def int16(self) -> np.ndarray:
        """The clips as int16 (exact for 16-bit sources): the training pipeline's clip bank."""
        return to_int16(self.audio)


def _decoded_clip(path, cfg: FeatureConfig) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    key = (hashlib.sha1(data).hexdigest(), cfg.sample_rate, cfg.clip_samples)
    clip = _DECODED.get(key)
    if clip is None:
        samples, _ = read_audio(path, cfg.sample_rate)
        clip = to_int16(fit_length(samples, cfg.clip_samples))
        if len(_DECODED) < _CACHE_LIMIT:
            _DECODED[key] = clip
    return clip


def load_clips(clips: tuple[Clip, ...] | list[Clip], cfg: FeatureConfig,
               progress: Progress | None = None) -> LoadedClips:
    kept: list[Clip] = []
    audio = np.zeros((len(clips), cfg.clip_samples), np.float32)
    skipped: list[str] = []
    for i, clip in enumerate(clips):
        try:
            audio[len(kept)] = _decoded_clip(clip.path, cfg) * np.float32(1.0 / 32768.0)
            kept.append(clip)
        except AudioError as exc:
            skipped.append(str(exc))
        if progress is not None:
            progress(i + 1, len(clips))
    if not kept and clips:
        raise DataError(f"none of the {len(clips)} clips could be read; first error: {skipped[0]}")
    return LoadedClips(tuple(kept), audio[: len(kept)], tuple(skipped))


def load_noise(paths, cfg: FeatureConfig) -> tuple[list[np.ndarray], list[str]]:
    """Background noise recordings at the model's sample rate (any length >= 1 clip)."""
    noise: list[np.ndarray] = []
    skipped: list[str] = []
    for path in paths:
        try:
            samples, _ = read_audio(path, cfg.sample_rate)
        except AudioError as exc:
            skipped.append(str(exc))
            continue
        if len(samples) >= cfg.clip_samples:
            noise.append(samples)
    return noise, skipped
