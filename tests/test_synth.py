"""`tinykws data synth`: layout, WAV format (read back with the stdlib), levels, determinism, errors."""

from __future__ import annotations

import hashlib
import json
import re
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import tinykws.data.espeak as espeak
import tinykws.data.synth as synth
from tinykws.cli import app
from tinykws.config import KEYWORDS, SILENCE, UNKNOWN
from tinykws.data.espeak import EspeakWorker, Utterance
from tinykws.data.synth import SynthSummary, synthesize, trim_silence
from tinykws.errors import DataError

LABELS = KEYWORDS + (UNKNOWN, SILENCE)
NAME = re.compile(r"^([a-z0-9-]+)_nohash_(\d+)\.wav$")


def _read(path: Path) -> tuple[np.ndarray, tuple[int, int, int]]:
    with wave.open(str(path), "rb") as w:
        params = (w.getnchannels(), w.getsampwidth(), w.getframerate())
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768.0
    return x, params


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary, list[tuple[int, int]]]:
    out = tmp_path_factory.mktemp("synth") / "data"
    calls: list[tuple[int, int]] = []
    summary = synthesize(out, per_word=3, seed=5, progress=lambda done, total: calls.append((done, total)))
    return out, summary, calls


def test_layout_names_and_summary(dataset) -> None:
    out, summary, _ = dataset
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(LABELS + (synth.BACKGROUND,))
    assert summary.counts == {label: 3 for label in LABELS} and summary.n_clips == 36
    assert summary.n_speakers == 3 and summary.seconds > 0
    for label in LABELS:
        names = sorted(p.name for p in (out / label).iterdir())
        assert len(names) == 3 and all(NAME.match(n) for n in names), names
    speakers = {NAME.match(p.name).group(1) for p in (out / "yes").iterdir()}
    assert len(speakers) == 3  # one voice setting per speaker id, never "_" inside it
    assert not [p for p in out.parent.iterdir() if p.name != "data"], "temporary folder left behind"


def test_every_clip_is_one_second_16k_mono_16bit(dataset) -> None:
    out, _, _ = dataset
    for label in LABELS:
        for path in (out / label).iterdir():
            x, params = _read(path)
            assert params == (1, 2, 16000) and len(x) == 16000, path


def test_background_noise_files_for_augmentation(dataset) -> None:
    out, _, _ = dataset
    files = sorted(p.name for p in (out / synth.BACKGROUND).iterdir())
    assert files == sorted(f"{kind}_noise.wav" for kind in synth.BACKGROUND_KINDS)
    for name in files:
        x, params = _read(out / synth.BACKGROUND / name)
        assert params == (1, 2, 16000) and len(x) == synth.BACKGROUND_SECONDS * 16000
        assert -24.0 < _dbfs(x) < -13.5 and np.abs(x).max() <= 0.91, name  # loud, never clipped


def test_speech_is_loud_and_silence_is_quiet(dataset) -> None:
    out, _, _ = dataset
    for label in KEYWORDS + (UNKNOWN,):
        for path in (out / label).iterdir():
            x, _ = _read(path)
            frames = np.sqrt(np.mean(x.reshape(100, 160) ** 2, axis=1))
            assert np.abs(x).max() > 10 ** (-25 / 20), path  # word peak between -24 and -1 dBFS
            assert frames.max() > 10 * np.median(frames), path  # a word over a faint floor (>= 20 dB)
    for path in (out / SILENCE).iterdir():
        x, _ = _read(path)
        assert -66.0 < _dbfs(x) < -24.0, path


def test_manifest_and_progress(dataset) -> None:
    out, _, calls = dataset
    doc = json.loads((out / synth.MANIFEST).read_text())
    assert doc["seed"] == 5 and doc["per_word"] == 3
    assert len(doc["clips"]) == 36 + len(synth.BACKGROUND_KINDS)
    for clip in doc["clips"]:
        assert (out / clip["path"]).is_file()
        if clip["label"] in KEYWORDS:
            assert clip["word"] == clip["label"] and clip["text"].startswith(clip["word"])
        if clip["label"] == UNKNOWN:
            assert clip["word"] in synth.UNKNOWN_WORDS and clip["word"] not in KEYWORDS
    assert calls == [(i, 36) for i in range(1, 37)]


def test_same_seed_gives_identical_bytes_other_seed_differs(dataset, tmp_path: Path) -> None:
    out, _, _ = dataset
    again = synthesize(tmp_path / "again", per_word=3, seed=5)
    assert _digests(again.out_dir) == _digests(out)
    other = synthesize(tmp_path / "other", per_word=3, seed=6)
    assert not set(_digests(other.out_dir).values()) & set(_digests(out).values())


def test_replaces_a_previous_synth_folder_but_never_a_foreign_one(tmp_path: Path) -> None:
    out = tmp_path / "d"
    synthesize(out, per_word=1, seed=0)
    synthesize(out, per_word=2, seed=0)
    assert len(list((out / "yes").iterdir())) == 2
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a synthesised data set"):
        synthesize(foreign, per_word=1)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = synth.speech_clip
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise DataError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "speech_clip", flaky)
    with pytest.raises(DataError, match="boom"):
        synthesize(tmp_path / "d", per_word=1)
    assert list(tmp_path.iterdir()) == []


def test_missing_or_broken_library_is_a_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak, "default_library_path", lambda: str(tmp_path / "missing.so"))
    with pytest.raises(DataError, match="cannot load the eSpeak NG library"):
        synthesize(tmp_path / "d", per_word=1)
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared library")
    with pytest.raises(DataError, match="cannot load the eSpeak NG library"):
        EspeakWorker(library_path=str(broken)).start()
    assert not (tmp_path / "d").exists()


def test_worker_reports_unknown_voice_and_keeps_working() -> None:
    with EspeakWorker() as tts:
        assert tts.sample_rate == 22050 and {"m1", "f1", "croak", "whisper"} <= set(tts.variants)
        with pytest.raises(DataError, match="no voice 'xx-nonexistent'"):
            tts.speak(Utterance("yes", "xx-nonexistent"))
        assert len(tts.speak(Utterance("yes", "en-us"))) > 2000


def test_breath_noise_does_not_depend_on_the_clock() -> None:
    """eSpeak seeds its noise generator from the time; whispered speech must not change with it."""
    utt = Utterance("seven", "en-us+whisper", noise_seed=123)
    with EspeakWorker() as tts:
        first = tts.speak(utt)
    time.sleep(1.1)
    with EspeakWorker() as tts:
        assert np.array_equal(tts.speak(utt), first)


def test_long_words_are_sped_up_to_fit(tmp_path: Path) -> None:
    with EspeakWorker() as tts:
        slow = Utterance("incomprehensibilities", "en-us", rate=80)
        word = synth._spoken_word(tts, slow)
    assert 0 < len(word) <= synth._MAX_WORD


def test_trim_silence_keeps_the_sound() -> None:
    x = np.zeros(16000)
    x[5000:9000] = np.sin(np.arange(4000) * 0.3) * 0.5
    y = trim_silence(x)
    assert 4000 <= len(y) <= 4000 + 3 * 160
    assert np.abs(y).max() == pytest.approx(0.5, abs=0.01)
    assert len(trim_silence(np.zeros(1600))) == 0


def test_cli_synth_and_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "d"), "--per-word", "1"])
    assert result.exit_code == 0, result.output
    assert "12 clips" in result.output and len(list((tmp_path / "d" / "go").iterdir())) == 1
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "e"), "--per-word", "0"])
    assert result.exit_code == 2
    monkeypatch.setattr(espeak, "default_library_path", lambda: str(tmp_path / "missing.so"))
    result = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "f"), "--per-word", "1"])
    assert result.exit_code == 2 and "eSpeak NG library" in result.output
