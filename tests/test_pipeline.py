"""The training input pipeline: tf.signal features against the numpy reference, class balancing,
and what the vectorised augmentation does to a clip (against hand-computed expectations)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinykws.audio.mfcc import compute_normalisation, mfcc, model_input
from tinykws.config import DEFAULT_LABELS, FeatureConfig, TrainConfig
from tinykws.data.pipeline import (NoiseBank, TFFrontEnd, apply_masks, assemble, balanced_keywords,
                                   epoch_indices, plan_epoch, training_dataset)

FC = FeatureConfig()


def _speechlike(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(FC.clip_samples) / FC.sample_rate
    f = rng.uniform(150, 3000, size=(n, 1))
    env = np.exp(-((t - rng.uniform(0.3, 0.7, size=(n, 1))) ** 2) / 0.02)
    return (0.5 * env * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal((n, FC.clip_samples))).astype(np.float32)


def test_tf_front_end_matches_numpy_mfcc():
    audio = _speechlike(64, 0)
    norm = compute_normalisation(mfcc(audio, FC))
    ours = TFFrontEnd(FC, norm)(audio).numpy()
    reference = model_input(audio, FC, norm)
    assert ours.shape == reference.shape == (64, 49, 10, 1)
    raw = TFFrontEnd(FC, None)(audio).numpy()[..., 0]
    assert np.max(np.abs(raw - mfcc(audio, FC))) < 1e-3  # the features.py bound of the tf.signal test


def test_tf_front_end_matches_numpy_on_real_clips(real_data_dir):
    from tinykws.audio.io import load_clip

    paths = sorted(real_data_dir.glob("*/*.wav"))[::25]
    audio = np.stack([load_clip(p) for p in paths])
    assert np.max(np.abs(TFFrontEnd(FC, None)(audio).numpy()[..., 0] - mfcc(audio, FC))) < 1e-3


def test_balanced_keywords_draws_every_class_equally():
    y = np.array([2] * 1100 + [3] * 20 + [4] * 500)
    idx = balanced_keywords(y, np.array([2, 3, 4]), np.random.default_rng(0))
    counts = np.bincount(y[idx], minlength=5)[2:]
    assert list(counts) == [540, 540, 540]  # the mean of 1100, 20, 500
    assert set(np.flatnonzero(y == 3)) <= set(idx)  # a scarce class keeps every clip
    assert len(set(idx[y[idx] == 2])) == 540  # a large one is drawn without repeats


def test_epoch_mix_unbalanced_when_asked():
    y = np.array([0] * 50 + [1] * 500 + [2] * 600 + [3] * 200)
    idx = epoch_indices(y, DEFAULT_LABELS, TrainConfig(balance_classes=False), np.random.default_rng(0))
    assert np.sum(y[idx] == 2) == 600 and np.sum(y[idx] == 3) == 200
    idx = epoch_indices(y, DEFAULT_LABELS, TrainConfig(), np.random.default_rng(0))
    assert np.sum(y[idx] == 2) == np.sum(y[idx] == 3) == 400


def _plan_one(tc: TrainConfig, noise: NoiseBank, clip_ids: np.ndarray, seed: int = 0):
    y = np.full(len(clip_ids), 2, np.int32)
    plan = plan_epoch(y, DEFAULT_LABELS, dataclasses.replace(tc, silence_share=0.0, unknown_share=0.0,
                                                             balance_classes=False), FC, noise,
                      np.random.default_rng(seed))
    return plan


def test_assemble_shifts_an_impulse_within_the_recipe_and_zero_fills():
    bank = np.zeros((200, FC.clip_samples), np.int16)
    bank[:, 8000] = 16384
    tc = TrainConfig(noise_prob=0.0, time_shift_ms=100.0)
    plan = _plan_one(tc, NoiseBank([], FC.clip_samples), np.arange(200))
    audio = assemble(plan, slice(0, 200), bank, NoiseBank([], FC.clip_samples))
    peaks = np.argmax(audio, axis=1)
    assert np.allclose(audio.max(axis=1), 0.5)
    assert np.array_equal(peaks - 8000, plan.shift)  # positive shift: later
    assert np.abs(plan.shift).max() <= 1600 and len(set(plan.shift)) > 100
    assert np.count_nonzero(audio) == 200  # nothing but the impulse: zero-filled, no wrap-around


def test_assemble_mixes_noise_at_most_noise_max_and_makes_silence_from_noise():
    bank = np.zeros((50, FC.clip_samples), np.int16)
    noise = NoiseBank([np.ones(40000, np.float32)], FC.clip_samples)
    tc = TrainConfig(noise_prob=1.0, noise_max=0.1, time_shift_ms=0.0, silence_share=0.5)
    y = np.full(50, 2, np.int32)
    plan = plan_epoch(y, DEFAULT_LABELS, dataclasses.replace(tc, unknown_share=0.0, balance_classes=False),
                      FC, noise, np.random.default_rng(1))
    audio = assemble(plan, slice(0, len(plan)), bank, noise)
    speech = plan.clip >= 0
    assert np.all((audio[speech].max(axis=1) > 0) & (audio[speech].max(axis=1) <= 0.1 + 1e-6))
    silence = ~speech
    assert silence.sum() == 50 and np.all(plan.label[silence] == DEFAULT_LABELS.index("_silence_"))
    level = audio[silence].mean(axis=1)  # a constant crop at U(0, 1) plus noise at U(0, 0.1)
    assert np.allclose(level, np.minimum(plan.silence_volume[silence] + plan.noise_volume[silence], 1.0), atol=1e-5)


def test_speed_perturbation_moves_pitch_by_the_factor():
    t = np.arange(FC.clip_samples) / FC.sample_rate
    bank = (0.5 * 32767 * np.sin(2 * np.pi * 1000 * t))[None, :].repeat(20, 0).astype(np.int16)
    tc = TrainConfig(noise_prob=0.0, time_shift_ms=0.0, speed_range=0.1)
    plan = _plan_one(tc, NoiseBank([], FC.clip_samples), np.arange(20))
    audio = assemble(plan, slice(0, 20), bank, NoiseBank([], FC.clip_samples))
    centre = audio[:, 4000:12000]  # no zero fill here for factors within 10%
    peak_hz = np.argmax(np.abs(np.fft.rfft(centre, axis=1)), axis=1) * FC.sample_rate / centre.shape[1]
    assert np.all(np.abs(plan.speed - 1.0) <= 0.1) and np.std(plan.speed) > 0.02
    assert np.allclose(peak_hz, 1000 * plan.speed, atol=2.0)


def test_spec_masks_cover_the_planned_ranges():
    import tensorflow as tf

    log_mel = tf.constant(np.random.default_rng(0).normal(size=(2, 49, 40)).astype(np.float32))
    time_masks = tf.constant([[[3, 4]], [[0, 0]]], tf.int32)
    freq_masks = tf.constant([[[10, 2]], [[38, 5]]], tf.int32)
    out = apply_masks(log_mel, time_masks, freq_masks).numpy()
    fill = log_mel.numpy().mean(axis=(1, 2))
    assert np.allclose(out[0, 3:7, :], fill[0]) and np.allclose(out[0, :, 10:12], fill[0])
    assert np.array_equal(out[0, 7:, 12:], log_mel.numpy()[0, 7:, 12:])
    assert np.allclose(out[1, :, 38:], fill[1]) and np.array_equal(out[1, :, :38], log_mel.numpy()[1, :, :38])


@pytest.mark.parametrize("mixup", [0.0, 0.4])
def test_training_dataset_yields_one_epoch_of_batches(mixup):
    bank = (_speechlike(30, 1) * 32767).astype(np.int16)
    y = np.tile(np.arange(2, 12, dtype=np.int32), 3)
    tc = TrainConfig(batch_size=8, mixup_alpha=mixup, spec_time_masks=1, spec_time_width=5)
    noise = NoiseBank([_speechlike(2, 2).ravel()], FC.clip_samples)
    plan = plan_epoch(y, DEFAULT_LABELS, tc, FC, noise, np.random.default_rng(0))
    batches = list(training_dataset(plan, bank, noise, FC, tc, None, 12, 0).as_numpy_iterator())
    assert sum(len(x) for x, _ in batches) == len(plan) and batches[0][0].shape == (8, 49, 10, 1)
    labels = np.concatenate([yb for _, yb in batches])
    assert np.allclose(labels.sum(axis=1), 1.0)
    assert (labels.max(axis=1) < 1.0).any() == bool(mixup)
