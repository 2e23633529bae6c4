"""The MFCC front end in numpy: the specification the C front end mirrors.

MLPerf Tiny KWS settings (see FeatureConfig): periodic Hann window of 480
samples, hop 320, 512-point real FFT, magnitude, 40 triangular mel filters on
the HTK mel scale from 20 to 4000 Hz, log(mel + 1e-6), DCT-II scaled by
sqrt(2 / n_mels), first 10 coefficients. Kept plain on purpose: window,
rfft, magnitude, mel matrix, log, DCT.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tinykws.config import FeatureConfig, Normalisation


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (as tf.signal.hann_window(periodic=True))."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=8)
def mel_matrix(cfg: FeatureConfig) -> np.ndarray:
    """(n_bins, n_mels) triangular filters on the HTK mel scale; DC row is zero."""
    nyquist = cfg.sample_rate / 2.0
    bin_mel = hz_to_mel(np.linspace(0.0, nyquist, cfg.n_bins)[1:])[:, None]
    edges = np.linspace(hz_to_mel(cfg.fmin_hz), hz_to_mel(cfg.fmax_hz), cfg.n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (center - lower)
    falling = (upper - bin_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, cfg.n_mels)), weights])


@lru_cache(maxsize=8)
def dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """(n_mels, n_mfcc) DCT-II scaled by sqrt(2 / n_mels) for every coefficient."""
    n = np.arange(n_mels)[:, None]
    k = np.arange(n_mfcc)[None, :]
    return np.sqrt(2.0 / n_mels) * np.cos(np.pi * k * (2 * n + 1) / (2.0 * n_mels))


def frames(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(..., n_frames, window) frames without padding at the end."""
    idx = np.arange(cfg.n_frames)[:, None] * cfg.hop_samples + np.arange(cfg.window_samples)[None, :]
    return audio[..., idx]


def magnitude_spectrum(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    windowed = frames(audio, cfg) * hann_window(cfg.window_samples)
    return np.abs(np.fft.rfft(windowed, n=cfg.fft_size, axis=-1))


def log_mel(audio: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """log(mel + offset) of one clip or a batch -> (..., 49, 40) float64."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.shape[-1] != cfg.clip_samples:
        raise ValueError(f"expected clips of {cfg.clip_samples} samples, got {audio.shape[-1]}")
    mel = magnitude_spectrum(audio, cfg) @ mel_matrix(cfg)
    return np.log(mel + cfg.log_offset)


def mfcc_from_log_mel(log_mel_spec: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    return (log_mel_spec @ dct_matrix(cfg.n_mels, cfg.n_mfcc)).astype(np.float32)


_CHUNK = 256  # clips per step: bounds the float64 frame and spectrum arrays to ~100 MB


def mfcc(audio: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """MFCC of one clip (clip_samples,) or a batch (B, clip_samples) -> (..., 49, 10) float32.

    Large batches are computed in chunks of 256 clips: the intermediate frames and spectra are
    ~40 times the size of the audio, and all at once they would take gigabytes."""
    audio = np.asarray(audio)
    if audio.ndim == 2 and len(audio) > _CHUNK:
        return np.concatenate([mfcc(audio[i : i + _CHUNK], cfg) for i in range(0, len(audio), _CHUNK)])
    return mfcc_from_log_mel(log_mel(audio, cfg), cfg)


def compute_normalisation(features: np.ndarray) -> Normalisation:
    """Per-coefficient mean and std over every frame of a (B, T, C) batch."""
    flat = np.asarray(features, np.float64).reshape(-1, features.shape[-1])
    std = np.maximum(flat.std(axis=0), 1e-6)
    return Normalisation(mean=tuple(float(v) for v in flat.mean(axis=0)), std=tuple(float(v) for v in std))


def normalise(features: np.ndarray, norm: Normalisation | None) -> np.ndarray:
    if norm is None:
        return np.asarray(features, np.float32)
    mean = np.asarray(norm.mean, np.float32)
    std = np.asarray(norm.std, np.float32)
    return ((np.asarray(features, np.float32) - mean) / std).astype(np.float32)


def model_input(audio: np.ndarray, cfg: FeatureConfig, norm: Normalisation | None) -> np.ndarray:
    """The float model input (B, frames, mfcc, 1): MFCC of each clip, then the run's normalisation."""
    return normalise(mfcc(audio, cfg), norm)[..., None]


def round_to_int8(q: np.ndarray, zero_point: int) -> np.ndarray:
    """The project's one int8 rounding rule (as the C front end): round half away from zero, add the
    zero point, clamp to [-128, 127]."""
    q = np.asarray(q, np.float64)
    return np.clip(np.sign(q) * np.floor(np.abs(q) + 0.5) + zero_point, -128, 127).astype(np.int8)


def quantize_input(features: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float features to int8 model input: scaled, then ``round_to_int8``."""
    return round_to_int8(np.asarray(features, np.float64) / scale, zero_point)
