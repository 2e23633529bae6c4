"""On-the-fly augmentation for training: time shift, background noise, gain,
SpecAugment-style masking of the log-mel spectrogram, and mixup."""

from __future__ import annotations

import numpy as np

from tinykws.config import FeatureConfig, TrainConfig


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
