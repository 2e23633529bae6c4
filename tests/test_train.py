import numpy as np

from tinykws.config import DEFAULT_LABELS, FeatureConfig, TrainConfig
from tinykws.data.augment import augment_audio as augment
from tinykws.data.pipeline import epoch_indices
from tinykws.model.train import lr_for_epoch


def test_epoch_mix_has_configured_shares():
    y = np.array([0] * 50 + [1] * 500 + [2] * 400 + [3] * 400)  # silence, unknown, two keywords
    tc = TrainConfig(silence_share=0.1, unknown_share=0.1)
    idx = epoch_indices(y, DEFAULT_LABELS, tc, np.random.default_rng(0))
    labels = y[idx]
    assert np.mean(labels == 0) == np.float64(100 / 1000)
    assert np.mean(labels == 1) == np.float64(100 / 1000)
    assert np.sum(labels >= 2) == 800


def test_generated_silence_when_no_silence_clips():
    y = np.array([1] * 10 + [2] * 80)
    idx = epoch_indices(y, DEFAULT_LABELS, TrainConfig(), np.random.default_rng(0))
    assert np.sum(idx == -1) == 10


def test_learning_rate_three_equal_phases():
    tc = TrainConfig(epochs=36)
    assert [lr_for_epoch(e, tc) for e in (0, 11, 12, 23, 24, 35)] == [5e-4, 5e-4, 1e-4, 1e-4, 2e-5, 2e-5]


def test_augment_shifts_within_100ms_and_adds_noise():
    fc = FeatureConfig()
    clip = np.zeros((1, 16000), np.float32)
    clip[0, 8000] = 1.0
    tc = TrainConfig(noise_prob=0.0)
    rng = np.random.default_rng(3)
    positions = [int(np.argmax(augment(clip, [], tc, fc, rng)[0])) for _ in range(50)]
    assert max(abs(p - 8000) for p in positions) <= 1600 and len(set(positions)) > 10
    noisy = augment(clip, [np.ones(20000, np.float32)], TrainConfig(noise_prob=1.0, time_shift_ms=0), fc, rng)
    assert 0 < noisy[0, 0] <= 0.1
