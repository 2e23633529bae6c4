"""Load clips into memory, skipping unreadable files with a count, never silently."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinykws.audio.io import load_clip, read_wav
from tinykws.config import FeatureConfig
from tinykws.data.speech_commands import Clip
from tinykws.errors import AudioError, DataError

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LoadedClips:
    clips: tuple[Clip, ...]
    audio: np.ndarray  # (N, clip_samples) float32
    skipped: tuple[str, ...]  # one message per unreadable file


def load_clips(clips: tuple[Clip, ...] | list[Clip], cfg: FeatureConfig,
               progress: Progress | None = None) -> LoadedClips:
    kept: list[Clip] = []
    audio: list[np.ndarray] = []
    skipped: list[str] = []
    for i, clip in enumerate(clips):
        try:
            audio.append(load_clip(clip.path, cfg.sample_rate, cfg.clip_samples))
            kept.append(clip)
        except AudioError as exc:
            skipped.append(str(exc))
        if progress is not None:
            progress(i + 1, len(clips))
    if not kept and clips:
        raise DataError(f"none of the {len(clips)} clips could be read; first error: {skipped[0]}")
    arr = np.stack(audio) if audio else np.zeros((0, cfg.clip_samples), np.float32)
    return LoadedClips(tuple(kept), arr, tuple(skipped))


def load_noise(paths, cfg: FeatureConfig) -> tuple[list[np.ndarray], list[str]]:
    """Background noise recordings at the model's sample rate (any length >= 1 clip)."""
    noise: list[np.ndarray] = []
    skipped: list[str] = []
    for path in paths:
        try:
            samples, _ = read_wav(path, cfg.sample_rate)
        except AudioError as exc:
            skipped.append(str(exc))
            continue
        if len(samples) >= cfg.clip_samples:
            noise.append(samples)
    return noise, skipped
