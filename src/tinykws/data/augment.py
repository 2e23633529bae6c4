"""Per-clip augmentation in numpy: time shift, background noise, gain, SpecAugment-style
masking of the log-mel spectrogram, and mixup; and ``reference_batches``, the first
training input path built from them (training itself uses ``tinykws.data.pipeline``)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from tinykws.config import SILENCE, FeatureConfig, RunConfig, TrainConfig


def noise_crop(noise: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    source = noise[rng.integers(len(noise))]
    start = rng.integers(0, len(source) - n + 1)
    return source[start : start + n]


def time_shift(clip: np.ndarray, shift: int) -> np.ndarray:
    """Shift by ``shift`` samples (positive: later), filling with zeros."""
    out = np.roll(clip, shift)
    if shift > 0:
        out[:shift] = 0.0
    elif shift < 0:
        out[shift:] = 0.0
    return out


def augment_audio(audio: np.ndarray, noise: list[np.ndarray], tc: TrainConfig, fc: FeatureConfig,
                  rng: np.random.Generator) -> np.ndarray:
    """Random time shift, random gain, background noise at a random volume; clipped to [-1, 1]."""
    out = np.empty_like(audio)
    max_shift = int(fc.sample_rate * tc.time_shift_ms / 1000.0)
    for i, clip in enumerate(audio):
        out[i] = time_shift(clip, int(rng.integers(-max_shift, max_shift + 1)) if max_shift else 0)
        if tc.gain_db:
            out[i] *= 10.0 ** (rng.uniform(-tc.gain_db, tc.gain_db) / 20.0)
        if noise and rng.random() < tc.noise_prob:
            out[i] += rng.uniform(0.0, tc.noise_max) * noise_crop(noise, fc.clip_samples, rng)
    return np.clip(out, -1.0, 1.0)


def spec_augment(log_mel: np.ndarray, tc: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Mask random frame ranges and mel-bin ranges of each (frames, mels) spectrogram with its mean."""
    out = log_mel.copy()
    n_frames, n_mels = out.shape[-2:]
    for spec in out:
        fill = spec.mean()
        for _ in range(tc.spec_time_masks):
            width = int(rng.integers(0, tc.spec_time_width + 1))
            start = int(rng.integers(0, max(1, n_frames - width + 1)))
            spec[start : start + width, :] = fill
        for _ in range(tc.spec_freq_masks):
            width = int(rng.integers(0, tc.spec_freq_width + 1))
            start = int(rng.integers(0, max(1, n_mels - width + 1)))
            spec[:, start : start + width] = fill
    return out


def mixup(x: np.ndarray, y: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Convex combinations of pairs of examples and of their one-hot labels."""
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    perm = rng.permutation(len(x))
    lx = lam.reshape((-1,) + (1,) * (x.ndim - 1))
    return lx * x + (1 - lx) * x[perm], lam[:, None] * y + (1 - lam[:, None]) * y[perm]


def reference_batches(audio: np.ndarray, y: np.ndarray, noise: list[np.ndarray], cfg: RunConfig,
                      seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of (features, one-hot labels) batches the way tinykws first trained: clip by
    clip in numpy (augment, float64 MFCC), one batch at a time on one thread. The baseline that
    ``make bench`` measures ``tinykws.data.pipeline`` against, in the same run."""
    from tinykws.audio.mfcc import log_mel, mfcc_from_log_mel, normalise
    from tinykws.data.pipeline import epoch_indices

    rng = np.random.default_rng(seed)
    tc, fc = cfg.train, cfg.features
    idx = epoch_indices(y, cfg.labels, tc, rng)
    silence_id = cfg.labels.index(SILENCE) if SILENCE in cfg.labels else 0
    eye = np.eye(len(cfg.labels), dtype=np.float32)
    for start in range(0, len(idx), tc.batch_size):
        batch = idx[start : start + tc.batch_size]
        clips = np.stack([audio[i] if i >= 0 else
                          (rng.uniform(0.0, 1.0) * noise_crop(noise, fc.clip_samples, rng) if noise
                           else np.zeros(fc.clip_samples, np.float32)) for i in batch])
        labels = eye[[y[i] if i >= 0 else silence_id for i in batch]]
        spec = log_mel(augment_audio(clips, noise, tc, fc, rng), fc)
        if tc.spec_time_masks or tc.spec_freq_masks:
            spec = spec_augment(spec, tc, rng)
        x = normalise(mfcc_from_log_mel(spec, fc), cfg.normalisation)[..., None]
        if tc.mixup_alpha:
            x, labels = mixup(x, labels, tc.mixup_alpha, rng)
        yield x.astype(np.float32), labels
