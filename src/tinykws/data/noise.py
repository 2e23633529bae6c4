"""Background noise generators: white, pink, brown, mains hum, and babble from speech.

Every generator returns float32, zero mean and unit RMS, so the caller sets the
level (``at_rms_dbfs``) or the SNR. The result depends only on the arguments
and on the state of the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tinykws.errors import InputError

NOISE_KINDS: tuple[str, ...] = ("white", "pink", "brown", "hum")
_ALL_KINDS = NOISE_KINDS + ("hum50", "hum60")
_COLOUR_EXPONENT = {"white": 0.0, "pink": 0.5, "brown": 1.0}  # amplitude ~ 1 / f**exponent
_COLOUR_FLOOR_HZ = 20.0  # below this the spectrum is flat, then removed at DC
_HUM_HARMONICS = 12
_EPS = 1e-12


def _unit_rms(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    rms = float(np.sqrt(np.mean(x**2)))
    return (x / rms if rms > _EPS else np.zeros_like(x)).astype(np.float32)


def coloured_noise(exponent: float, n_samples: int, rng: np.random.Generator,
                   sample_rate: int = 16000) -> np.ndarray:
    """Gaussian noise with an amplitude spectrum ~ 1/f**exponent (0 white, 0.5 pink, 1 brown)."""
    white = rng.standard_normal(n_samples)
    if exponent == 0.0:
        return _unit_rms(white)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sample_rate)
    spectrum /= np.maximum(freqs, _COLOUR_FLOOR_HZ) ** exponent
    spectrum[0] = 0.0
    return _unit_rms(np.fft.irfft(spectrum, n_samples))


def mains_hum(n_samples: int, rng: np.random.Generator, mains_hz: float | None = None,
              sample_rate: int = 16000) -> np.ndarray:
    """Mains hum: a 50 or 60 Hz fundamental with random harmonics and a slow frequency drift."""
    f0 = float(mains_hz if mains_hz is not None else rng.choice([50.0, 60.0]))
    t = np.arange(n_samples) / sample_rate
    drift = 1.0 + 0.002 * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * f0 * np.cumsum(drift) / sample_rate
    out = np.zeros(n_samples)
    for k in range(1, _HUM_HARMONICS + 1):
        if k * f0 >= sample_rate / 2:
            break
        level = rng.uniform(0.2, 1.0) / k ** rng.uniform(0.5, 1.5)
        out += level * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return _unit_rms(out)


def make_noise(kind: str, n_samples: int, rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """``n_samples`` of noise of ``kind`` (white, pink, brown, hum, hum50, hum60), unit RMS, float32."""
    if n_samples < 1:
        raise InputError(f"noise length must be at least 1 sample, got {n_samples}")
    if kind in _COLOUR_EXPONENT:
        return coloured_noise(_COLOUR_EXPONENT[kind], n_samples, rng, sample_rate)
    if kind == "hum":
        return mains_hum(n_samples, rng, None, sample_rate)
    if kind in ("hum50", "hum60"):
        return mains_hum(n_samples, rng, float(kind[3:]), sample_rate)
    raise InputError(f"unknown noise kind {kind!r}; choose one of {', '.join(_ALL_KINDS)}")


def make_babble(speech: Sequence[np.ndarray], n_samples: int, rng: np.random.Generator,
                talkers: tuple[int, int] = (4, 8), reverse_prob: float = 0.5) -> np.ndarray:
    """Babble: several streams of speech clips, each clip maybe reversed, overlapped at random offsets.

    Reversed speech keeps the spectrum and rhythm of speech without being words,
    so babble built from keyword clips does not contain keywords when
    ``reverse_prob`` is 1.
    """
    pool = [np.asarray(s, np.float64) for s in speech if len(s) > 0]
    if not pool:
        raise InputError("babble needs at least one non-empty speech clip")
    out = np.zeros(n_samples)
    for _ in range(int(rng.integers(talkers[0], talkers[1] + 1))):
        out += _talker_stream(pool, n_samples, rng, reverse_prob)
    return _unit_rms(out)


def _talker_stream(pool: list[np.ndarray], n_samples: int, rng: np.random.Generator,
                   reverse_prob: float) -> np.ndarray:
    """One talker: clips back to back with short random gaps, from a random start."""
    stream = np.zeros(n_samples)
    pos = -int(rng.integers(0, max(1, n_samples // 2)))
    while pos < n_samples:
        clip = pool[int(rng.integers(len(pool)))]
        clip = clip[::-1] if rng.random() < reverse_prob else clip
        clip = clip / (np.sqrt(np.mean(clip**2)) + _EPS) * 10 ** (rng.uniform(-6, 6) / 20)
        lo, hi = max(pos, 0), min(pos + len(clip), n_samples)
        if hi > lo:
            stream[lo:hi] += clip[lo - pos : hi - pos]
        pos += len(clip) + int(rng.integers(0, n_samples // 8 + 1))
    return stream


def at_rms_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale a signal to an RMS level in dB relative to full scale (0 dBFS = RMS 1.0)."""
    rms = float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2)))
    if rms < _EPS:
        return np.asarray(x, np.float32)
    return (np.asarray(x, np.float64) * (10 ** (dbfs / 20) / rms)).astype(np.float32)
