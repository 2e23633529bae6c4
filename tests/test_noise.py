"""Noise generators: level, determinism, and spectra checked with scipy's Welch estimate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from tinykws.data.noise import NOISE_KINDS, at_rms_dbfs, make_babble, make_noise
from tinykws.errors import InputError

SR = 16000


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _power_slope(x: np.ndarray, lo: float = 100.0, hi: float = 4000.0) -> float:
    """Slope of log10 power against log10 frequency: 0 white, -1 pink, -2 brown."""
    f, p = welch(x, fs=SR, nperseg=4096)
    band = (f >= lo) & (f <= hi)
    return float(np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0])


@pytest.mark.parametrize("kind", NOISE_KINDS + ("hum50", "hum60"))
def test_unit_rms_zero_mean_float32(kind: str) -> None:
    x = make_noise(kind, SR, _rng())
    assert x.dtype == np.float32 and x.shape == (SR,)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    assert abs(float(x.mean())) < 1e-3


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_deterministic_for_a_generator_state(kind: str) -> None:
    assert np.array_equal(make_noise(kind, 4000, _rng(7)), make_noise(kind, 4000, _rng(7)))
    assert not np.array_equal(make_noise(kind, 4000, _rng(7)), make_noise(kind, 4000, _rng(8)))


@pytest.mark.parametrize("kind, slope", [("white", 0.0), ("pink", -1.0), ("brown", -2.0)])
def test_spectral_slope(kind: str, slope: float) -> None:
    x = make_noise(kind, 8 * SR, _rng(1))
    assert _power_slope(x) == pytest.approx(slope, abs=0.15)


@pytest.mark.parametrize("kind, f0", [("hum50", 50.0), ("hum60", 60.0)])
def test_hum_power_sits_on_mains_harmonics(kind: str, f0: float) -> None:
    x = make_noise(kind, 4 * SR, _rng(2))
    f, p = welch(x, fs=SR, nperseg=SR)  # 1 Hz bins
    near = np.abs(f / f0 - np.round(f / f0)) * f0 <= 2.0
    near &= np.round(f / f0) >= 1
    assert p[near].sum() / p.sum() > 0.95
    assert f[np.argmax(p)] % f0 == pytest.approx(0.0, abs=2.0)


def test_plain_hum_is_50_or_60_hz() -> None:
    for seed in range(4):
        f, p = welch(make_noise("hum", 4 * SR, _rng(seed)), fs=SR, nperseg=SR)
        peak = f[np.argmax(p)]
        assert min(peak % 50, peak % 60) <= 2.0


def test_bad_kind_and_length_are_input_errors() -> None:
    with pytest.raises(InputError, match="unknown noise kind 'purple'"):
        make_noise("purple", 100, _rng())
    with pytest.raises(InputError, match="at least 1 sample"):
        make_noise("white", 0, _rng())


def test_babble_overlaps_talkers_at_unit_rms() -> None:
    rng = _rng(3)
    t = np.arange(4000) / SR
    words = [np.sin(2 * np.pi * f * t) * np.hanning(4000) for f in (200.0, 350.0, 500.0)]
    x = make_babble(words, SR, rng)
    assert x.shape == (SR,) and x.dtype == np.float32
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    frames = np.sqrt(np.mean(x.reshape(-1, 400).astype(np.float64) ** 2, axis=1))
    assert (frames > 0.05).mean() > 0.8  # several talkers fill the second, few gaps


def test_babble_reverses_clips() -> None:
    ramp = np.linspace(0.0, 1.0, 2000)  # rising within a clip; a reversed clip falls

    def falling_share(reverse_prob: float) -> float:
        x = make_babble([ramp], 8000, _rng(4), talkers=(1, 1), reverse_prob=reverse_prob).astype(np.float64)
        d = np.diff(x)
        d = d[np.abs(d) > 1e-7]
        return float((d < 0).mean())

    assert falling_share(1.0) > 0.95
    assert falling_share(0.0) < 0.05
    with pytest.raises(InputError, match="at least one non-empty"):
        make_babble([np.zeros(0)], 100, _rng())


def test_at_rms_dbfs_sets_the_level() -> None:
    x = at_rms_dbfs(make_noise("pink", SR, _rng()), -40.0).astype(np.float64)
    assert 20 * np.log10(np.sqrt(np.mean(x**2))) == pytest.approx(-40.0, abs=0.01)
    assert np.array_equal(at_rms_dbfs(np.zeros(10), -20.0), np.zeros(10, np.float32))
