"""FLAC and OGG/Vorbis reading, against files made by independent encoders (the `flac` and
`oggenc` command-line tools) from WAVs the project wrote; corrupt files are clear errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinykws.audio.io import read_audio, to_int16, write_wav
from tinykws.cli import app
from tinykws.errors import AudioError

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "ds-cnn-s-kws12"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (make setup installs flac and vorbis-tools)")
    return path


def _speech(seed: int = 0, n: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.4 * np.sin(2 * np.pi * 440 * t) * np.hanning(n) + 0.02 * rng.standard_normal(n)).astype(np.float32)


@pytest.fixture
def flac_file(tmp_path) -> tuple[Path, np.ndarray]:
    samples = to_int16(_speech())
    wav = tmp_path / "clip.wav"
    write_wav(wav, samples)
    flac = tmp_path / "clip.flac"
    subprocess.run([_tool("flac"), "--silent", "--best", "-o", str(flac), str(wav)], check=True)
    return flac, samples


def test_flac_reads_back_bit_exact(flac_file):
    flac, samples = flac_file
    audio, info = read_audio(flac)
    assert info.sample_rate == 16000 and info.channels == 1 and info.bits == 16
    assert np.array_equal(to_int16(audio), samples)


def test_flac_at_another_rate_is_resampled(tmp_path):
    wav = tmp_path / "c44.wav"
    write_wav(wav, _speech(1, 44100), sample_rate=44100)
    flac = tmp_path / "c44.flac"
    subprocess.run([_tool("flac"), "--silent", "-o", str(flac), str(wav)], check=True)
    audio, info = read_audio(flac, 16000)
    reference, _ = read_audio(wav, 16000)
    assert info.sample_rate == 44100 and len(audio) == 16000
    assert np.array_equal(audio, reference)


def test_ogg_vorbis_reads_back_close(tmp_path):
    samples = to_int16(_speech(2))
    wav = tmp_path / "clip.wav"
    write_wav(wav, samples)
    ogg = tmp_path / "clip.ogg"
    subprocess.run([_tool("oggenc"), "--quiet", "-q", "8", "-o", str(ogg), str(wav)], check=True)
    audio, info = read_audio(ogg)
    reference = samples.astype(np.float64) / 32768.0
    n = min(len(audio), len(reference))
    assert info.sample_rate == 16000 and abs(len(audio) - len(reference)) < 2048
    error = audio[:n] - reference[:n]
    snr_db = 10 * np.log10(np.sum(reference[:n] ** 2) / np.sum(error**2))
    assert snr_db > 20  # lossy, but the same signal


def test_truncated_and_corrupt_flac_name_the_file(flac_file, tmp_path):
    flac, _ = flac_file
    data = flac.read_bytes()
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(200))
    for path in (truncated, corrupt):
        with pytest.raises(AudioError, match=str(path)):
            read_audio(path)


def test_predict_flac_and_truncated_flac_exit_2(flac_file, tmp_path):
    flac, _ = flac_file
    runner = CliRunner()
    ok = runner.invoke(app, ["predict", str(SHIPPED), str(flac)])
    assert ok.exit_code == 0, ok.output
    assert "clip.flac" in ok.output
    truncated = tmp_path / "cut.flac"
    truncated.write_bytes(flac.read_bytes()[:300])
    bad = runner.invoke(app, ["predict", str(SHIPPED), str(truncated)])
    assert bad.exit_code == 2 and "cut.flac" in bad.output, bad.output


def test_nan_samples_and_absurd_rates_are_rejected(tmp_path):
    import struct

    def float_wav(path: Path, samples: np.ndarray, rate: int) -> None:
        payload = samples.astype("<f4").tobytes()
        fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4 % 2**32, 4, 32)
        path.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
                         + fmt + b"data" + struct.pack("<I", len(payload)) + payload)

    nan = tmp_path / "nan.wav"
    float_wav(nan, np.array([0.1, np.nan, 0.2] * 100, np.float32), 16000)
    with pytest.raises(AudioError, match="NaN"):
        read_audio(nan)
    fast = tmp_path / "fast.wav"
    float_wav(fast, np.zeros(300, np.float32), 4_294_967_295)
    with pytest.raises(AudioError, match="implausible sample rate"):
        read_audio(fast)


def test_data_folder_of_flac_clips_is_discovered(flac_file, tmp_path):
    from tinykws.config import DEFAULT_LABELS
    from tinykws.data.speech_commands import discover

    flac, _ = flac_file
    root = tmp_path / "full"
    for word, speaker in (("yes", "aaaa1111"), ("seven", "bbbb2222"), ("yes", "cccc3333")):
        (root / word).mkdir(parents=True, exist_ok=True)
        shutil.copy(flac, root / word / f"{speaker}_nohash_0.flac")
    (root / "_background_noise_").mkdir()
    shutil.copy(flac, root / "_background_noise_" / "noise.flac")
    data = discover([root], DEFAULT_LABELS)
    assert sorted(c.label for c in data.clips) == ["_unknown_", "yes", "yes"]
    assert [p.name for p in data.noise_files] == ["noise.flac"]


def test_file_names_that_are_not_utf8_are_read_or_named(run_copy, tone_data, tmp_path):
    import os

    data = tmp_path / "data"
    shutil.copytree(tone_data, data)
    clip = next((data / "yes").glob("*.wav"))
    os.rename(clip, os.path.join(os.fsencode(data / "yes"), b"caf\xe9_nohash_0.wav"))
    with open(os.path.join(os.fsencode(data / "no"), b"b\xffd_nohash_9.wav"), "wb") as fh:
        fh.write(b"not audio")
    import json

    report = tmp_path / "check.json"
    result = CliRunner().invoke(app, ["check", str(run_copy), "--data-dir", str(data), "--engines", "float,int8",
                                      "--json", str(report)])
    assert result.exit_code in (0, 1), result.output  # a verdict, not a traceback
    skipped = json.loads(report.read_text())["skipped_files"]
    assert len(skipped) == 1 and "b\\xffd_nohash_9.wav" in skipped[0]
    assert json.loads(report.read_text())["n_clips"] == 12 * 12  # the clip named caf\xe9 was read
