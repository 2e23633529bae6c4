import numpy as np
import pytest

from tinykws.audio.io import load_clip
from tinykws.config import FeatureConfig, Normalisation
from tinykws.audio.mfcc import compute_normalisation, mfcc, normalise, quantize_input


def tf_mfcc(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """An independent reference: tf.signal with the MLPerf Tiny KWS parameters."""
    import tensorflow as tf

    stft = tf.signal.stft(audio.astype(np.float32), cfg.window_samples, cfg.hop_samples, fft_length=cfg.fft_size)
    mel_w = tf.signal.linear_to_mel_weight_matrix(cfg.n_mels, cfg.n_bins, cfg.sample_rate, cfg.fmin_hz, cfg.fmax_hz)
    log_mel = tf.math.log(tf.tensordot(tf.abs(stft), mel_w, 1) + cfg.log_offset)
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : cfg.n_mfcc].numpy()


def test_shape_is_49_by_10():
    cfg = FeatureConfig()
    assert cfg.shape == (49, 10)
    assert mfcc(np.zeros((3, 16000))).shape == (3, 49, 10)


def test_matches_tf_signal_on_real_clips(real_data_dir):
    paths = sorted(real_data_dir.glob("*/*.wav"))[::60][:40]
    x = np.stack([load_clip(p) for p in paths])
    diff = np.abs(mfcc(x) - tf_mfcc(x, FeatureConfig()))
    assert diff.max() < 1e-3


def test_matches_tf_signal_on_synthetic_audio():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    noise = 0.01 * rng.standard_normal(16000)  # a pure tone leaves mel bands empty: float32 log noise in TF
    x = np.stack([0.5 * np.sin(2 * np.pi * 440 * t) + noise, 0.1 * rng.standard_normal(16000), np.zeros(16000)])
    assert np.abs(mfcc(x) - tf_mfcc(x, FeatureConfig())).max() < 1e-3


def test_batch_equals_single():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 16000))
    np.testing.assert_array_equal(mfcc(x)[2], mfcc(x[2]))


def test_wrong_length_rejected():
    with pytest.raises(ValueError, match="16000"):
        mfcc(np.zeros(100))


def test_normalisation_centres_each_coefficient():
    f = np.random.default_rng(2).normal(5.0, 3.0, (20, 49, 10)) * np.arange(1, 11)
    norm = compute_normalisation(f)
    z = normalise(f, norm)
    np.testing.assert_allclose(z.reshape(-1, 10).mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.reshape(-1, 10).std(axis=0), 1, atol=1e-3)


def test_quantize_input_rounds_half_away_and_clamps():
    q = quantize_input(np.array([0.5, -0.5, 1.49, 1000.0, -1000.0]), 1.0, 0)
    assert q.tolist() == [1, -1, 1, 127, -128]
    assert quantize_input(np.array([0.0]), 0.5, -10).tolist() == [-10]
    assert normalise(np.ones((1, 2)), Normalisation((1.0, 0.0), (1.0, 2.0))).tolist() == [[0.0, 0.5]]
