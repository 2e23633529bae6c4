import numpy as np
import pytest

from tinykws.audio.io import write_wav
from tinykws.config import DEFAULT_LABELS
from tinykws.data.loading import load_clips
from tinykws.data.speech_commands import (TEST, TRAIN, VALIDATION, discover, speaker_folds, speaker_of)
from tinykws.errors import DataError

from conftest import make_tone_dataset


def _clip(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, np.zeros(16000, np.float32))


def make_full_layout(root):
    words = ["yes", "no", "marvin", "bed"]
    for w in words:
        for spk in ("aaaa1111", "bbbb2222", "cccc3333"):
            _clip(root / w / f"{spk}_nohash_0.wav")
    noise = root / "_background_noise_"
    noise.mkdir()
    write_wav(noise / "white.wav", np.random.default_rng(0).uniform(-0.1, 0.1, 48000).astype(np.float32))
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nmarvin/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/cccc3333_nohash_0.wav\n")
    return root


def test_full_layout_official_split_and_unknown_mapping(tmp_path):
    ds = discover([make_full_layout(tmp_path / "sc")], DEFAULT_LABELS)
    by_name = {(c.path.parent.name, c.speaker): c for c in ds.clips}
    assert by_name[("yes", "bbbb2222")].split == VALIDATION
    assert by_name[("marvin", "bbbb2222")].split == VALIDATION
    assert by_name[("marvin", "bbbb2222")].label == "_unknown_"
    assert by_name[("no", "cccc3333")].split == TEST
    assert by_name[("bed", "aaaa1111")].split == TRAIN and by_name[("bed", "aaaa1111")].label == "_unknown_"
    assert [p.name for p in ds.noise_files] == ["white.wav"]
    assert not any(c.path.parent.name == "_background_noise_" for c in ds.clips)


def test_twelve_folder_layout_split_by_speaker(tone_data):
    ds = discover([tone_data], DEFAULT_LABELS, validation_share=0.3)
    train_speakers = {c.speaker for c in ds.split(TRAIN)}
    val_speakers = {c.speaker for c in ds.split(VALIDATION)}
    assert val_speakers and train_speakers and not train_speakers & val_speakers
    assert set(ds.counts()) == set(DEFAULT_LABELS)


def test_split_is_never_by_clip(real_data_dir):
    ds = discover([real_data_dir], DEFAULT_LABELS)
    assert not {c.speaker for c in ds.split(TRAIN)} & {c.speaker for c in ds.split(VALIDATION)}
    assert 0.05 < len(ds.split(VALIDATION)) / len(ds.clips) < 0.15


def test_speaker_of_unknown_files_drops_word_prefix(tmp_path):
    assert speaker_of(tmp_path / "_unknown_" / "backward_0cb74144_nohash_2.wav") == "0cb74144"
    assert speaker_of(tmp_path / "yes" / "0cb74144_nohash_2.wav") == "0cb74144"


def test_several_dirs_merge(tmp_path):
    a = make_tone_dataset(tmp_path / "a", speakers=2, takes=1)
    b = make_full_layout(tmp_path / "b")
    ds = discover([a, b], DEFAULT_LABELS)
    assert len(ds.clips) == 24 + 12


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no audio clips"):
        discover([tmp_path / "empty"], DEFAULT_LABELS)
    with pytest.raises(DataError, match="not a folder"):
        discover([tmp_path / "missing"], DEFAULT_LABELS)


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    root = make_tone_dataset(tmp_path / "d", speakers=2, takes=1)
    (root / "yes" / "broken_nohash_0.wav").write_bytes(b"RIFF....WAVEjunk")
    ds = discover([root], DEFAULT_LABELS)
    loaded = load_clips(ds.clips, __import__("tinykws.config").config.FeatureConfig())
    assert len(loaded.skipped) == 1 and "broken_nohash_0.wav" in loaded.skipped[0]
    assert len(loaded.clips) == len(ds.clips) - 1


def test_speaker_folds_partition_speakers(tone_data):
    ds = discover([tone_data], DEFAULT_LABELS)
    folds = speaker_folds(ds.clips, 3)
    held = [h for _, h in folds]
    assert set().union(*held) == {c.speaker for c in ds.clips}
    assert sum(len(h) for h in held) == len({c.speaker for c in ds.clips})
