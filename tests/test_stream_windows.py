"""Streaming-aware training rows (data/pipeline.py, stream windows) and the VALID-time streaming preset."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinykws.config import DEFAULT_LABELS, SILENCE, UNKNOWN, FeatureConfig, StreamConfig, TrainConfig
from tinykws.data.pipeline import (COVERAGE_FRAME, KEEP_COVERAGE, NEIGHBOUR_COVERAGE, PARTIAL_COVERAGE, NoiseBank,
                                   assemble, plan_epoch, speech_coverage)
from tinykws.errors import InputError

FC = FeatureConfig()
UNKNOWN_ID = DEFAULT_LABELS.index(UNKNOWN)
SILENCE_ID = DEFAULT_LABELS.index(SILENCE)


def _burst_bank(n: int, start_s: float, length_s: float) -> np.ndarray:
    """Clips of constant-level noise bursts ("words") of a known position, silence elsewhere."""
    bank = np.zeros((n, FC.clip_samples), np.int16)
    lo, hi = int(start_s * FC.sample_rate), int((start_s + length_s) * FC.sample_rate)
    bank[:, lo:hi] = (np.random.default_rng(0).standard_normal((n, hi - lo)) * 3000).astype(np.int16)
    return bank


def _coverage_of(audio_row: np.ndarray, lo: int, hi: int) -> float:
    """Share of a burst's energy (known to lie in samples [lo, hi) of the stretched clip) in the window."""
    return float(np.sum(audio_row[lo:hi] ** 2))


def test_speech_coverage_is_the_share_of_the_word_inside_the_window():
    bank = _burst_bank(3, 0.4, 0.2)  # frames 20..29 of 50
    cov = speech_coverage(bank)
    n = FC.clip_samples // COVERAGE_FRAME
    assert cov.shape == (3, 2 * n + 1)
    k = np.arange(-n, n + 1)
    expected = np.clip(np.minimum(30, 50 - k) - np.maximum(20, -k), 0, 10) / 10.0  # frames j+k in [0, 50)
    np.testing.assert_allclose(cov[0], expected, atol=0.02)
    assert cov[0, n] == pytest.approx(1.0)
    assert speech_coverage(np.zeros((2, FC.clip_samples), np.int16)).max() == 0.0  # silent clip: never a word


def _plan(tc, y, bank, seed=0):
    return plan_epoch(y, DEFAULT_LABELS, tc, FC, NoiseBank([], FC.clip_samples), np.random.default_rng(seed),
                      speech_coverage(bank))


def test_stream_windows_keep_the_label_only_with_most_of_the_word():
    """Rows labelled with the keyword hold >= 90% of it; partial rows hold 10-50% and are _unknown_."""
    bank = _burst_bank(400, 0.4, 0.2)
    y = np.full(400, 2, np.int64)  # all "yes"
    tc = TrainConfig(stream_share=1.0, partial_share=0.25, silence_share=0.0, unknown_share=0.0,
                     balance_classes=False, noise_prob=0.0, speed_range=0.0)
    plan = _plan(tc, y, bank)
    partial = plan.label == UNKNOWN_ID
    assert partial.sum() == round(len(plan) / 1.25 * 0.25) and (plan.label[~partial] == 2).all()
    audio = assemble(plan, slice(0, len(plan)), bank, NoiseBank([], FC.clip_samples)).astype(np.float64)
    lo, hi = int(0.4 * FC.sample_rate), int(0.6 * FC.sample_rate)
    full = np.sum((bank[0, lo:hi] / 32768.0) ** 2)
    # the burst of each row sits at [lo + shift, hi + shift); its neighbour's energy adds at most 30%
    for r in range(len(plan)):
        s = int(plan.shift[r])
        a, b = max(0, lo + s), min(FC.clip_samples, hi + s)
        own = np.sum((bank[plan.clip[r], a - s:b - s] / 32768.0) ** 2) / full if a < b else 0.0
        if partial[r]:
            assert PARTIAL_COVERAGE[0] - 0.03 <= own <= PARTIAL_COVERAGE[1] + 0.03, (r, s, own)
        else:
            assert own >= KEEP_COVERAGE - 0.03, (r, s, own)
        total = np.sum(audio[r] ** 2) / full
        assert total <= own + NEIGHBOUR_COVERAGE + 0.05, (r, own, total)
    # stream rows use offsets far beyond the +-100 ms shift of ordinary rows
    assert np.abs(plan.shift[~partial]).max() > 0.25 * FC.sample_rate
    assert (plan.neighbour >= 0).sum() > len(plan) // 4


def test_without_stream_shares_the_plan_is_unchanged():
    bank = _burst_bank(50, 0.4, 0.2)
    y = np.full(50, 2, np.int64)
    plain = plan_epoch(y, DEFAULT_LABELS, TrainConfig(), FC, NoiseBank([], FC.clip_samples),
                       np.random.default_rng(3))
    with_cov = _plan(TrainConfig(), y, bank, seed=3)
    assert plain.neighbour is None and with_cov.neighbour is None
    np.testing.assert_array_equal(plain.shift, with_cov.shift)
    with pytest.raises(ValueError, match="coverage"):
        plan_epoch(y, DEFAULT_LABELS, TrainConfig(partial_share=0.1), FC, NoiseBank([], FC.clip_samples),
                   np.random.default_rng(0))


def test_a_silent_keyword_clip_gives_no_partial_row():
    bank = np.zeros((20, FC.clip_samples), np.int16)
    y = np.full(20, 2, np.int64)
    tc = TrainConfig(stream_share=1.0, partial_share=0.5, silence_share=0.0, unknown_share=0.0,
                     balance_classes=False)
    plan = _plan(tc, y, bank)
    assert (plan.label == 2).all() and len(plan) == 20


def test_streaming_preset_is_valid_in_time_and_infers_on_its_stride():
    from tinykws.model.build import check_model_config, preset, stream_config_for, time_rows, time_stride

    m = preset("ds-cnn-s-stream")
    assert m.time_padding == "valid" and time_rows(m, FC.n_frames) == [20, 18, 16, 14, 12]
    assert time_rows(preset("ds-cnn-s"), FC.n_frames) == [25, 25, 25, 25, 25]
    assert time_stride(m) == 2 and stream_config_for(m, StreamConfig()).infer_every_hops == 4
    assert stream_config_for(preset("ds-cnn-s"), StreamConfig()) == StreamConfig()
    with pytest.raises(InputError, match="time_padding"):
        check_model_config(dataclasses.replace(m, time_padding="causal"), FC)
    with pytest.raises(InputError, match="no output row"):
        check_model_config(preset("ds-cnn-s-stream", depth=30), FC)
    with pytest.raises(InputError, match="ds-cnn models only"):
        check_model_config(dataclasses.replace(preset("mobilenetv2-s"), time_padding="valid"), FC)


def test_streaming_preset_builds_a_valid_time_keras_model():
    from tinykws.model.build import build_model, preset

    model = build_model(preset("ds-cnn-s-stream", width=0.25), FC, 12)
    rows = [layer.output.shape[1] for layer in model.layers if layer.name in ("conv", "ds1_dw", "ds4_dw")]
    assert rows == [20, 18, 12]
    # an output row depends only on the input rows under the kernel: changing frames after the
    # receptive field of the first conv row leaves that row unchanged
    import keras

    conv = keras.Model(model.input, model.get_layer("conv").output)
    x = np.random.default_rng(0).standard_normal((1, 49, 10, 1)).astype(np.float32)
    x2 = x.copy()
    x2[:, 10:] += 1.0
    np.testing.assert_array_equal(conv(x).numpy()[:, 0], conv(x2).numpy()[:, 0])


def test_profile_of_the_streaming_preset_follows_its_valid_rows():
    from tinykws.model.build import build_model, preset
    from tinykws.model.profile import profile_config

    cfg = preset("ds-cnn-s-stream", width=0.25)
    model = build_model(cfg, FC, 12)
    prof = {layer.name: layer for layer in profile_config(cfg, FC, 12).layers}
    for name in ("conv", "ds1_dw", "ds1_pw", "ds4_dw", "ds4_pw"):
        assert tuple(prof[name].out_shape) == tuple(model.get_layer(name).output.shape[1:]), name
    assert profile_config(preset("ds-cnn-s-stream"), FC, 12).macs < profile_config(preset("ds-cnn-s"), FC, 12).macs
