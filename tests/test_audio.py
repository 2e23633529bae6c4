import struct
import wave

import numpy as np
import pytest

from tinykws.audio.io import fit_length, load_clip, read_wav, write_wav
from tinykws.errors import AudioError


def _write_pcm(path, samples_int, rate, width, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples_int)


def _float_wav(path, samples, rate):
    payload = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    data = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    path.write_bytes(b"RIFF" + struct.pack("<I", len(data)) + data)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_widths_read_back(tmp_path, width):
    rng = np.random.default_rng(width)
    x = rng.uniform(-0.9, 0.9, 1600)
    bits = 8 * width
    if width == 1:
        raw = (np.round(x * 127) + 128).astype(np.uint8).tobytes()
    else:
        ints = np.round(x * (2 ** (bits - 1) - 1)).astype(np.int64)
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints)
    _write_pcm(tmp_path / "a.wav", raw, 16000, width)
    y, info = read_wav(tmp_path / "a.wav")
    assert info.bits == bits and info.sample_rate == 16000
    assert np.max(np.abs(y - x)) < max(4.0 / 2**bits, 1e-7)  # float32 output


def test_float32_wav(tmp_path):
    x = np.linspace(-1, 1, 800, dtype=np.float32)
    _float_wav(tmp_path / "f.wav", x, 16000)
    y, info = read_wav(tmp_path / "f.wav")
    assert info.format_tag == 3
    np.testing.assert_allclose(y, x, atol=1e-7)


def test_stereo_44k1_is_downmixed_and_resampled(tmp_path):
    rate = 44100
    t = np.arange(rate) / rate
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    stereo = np.stack([left, left], axis=1)
    _write_pcm(tmp_path / "s.wav", np.round(stereo * 32767).astype("<i2").tobytes(), rate, 2, channels=2)
    y, info = read_wav(tmp_path / "s.wav")
    assert info.channels == 2 and info.sample_rate == rate
    assert abs(len(y) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(y[:16000]))
    assert abs(np.argmax(spectrum) - 1000) <= 1  # 1 Hz bins
    assert 0.45 < np.max(np.abs(y[1000:15000])) < 0.55


def test_short_clip_padded_long_cropped(tmp_path):
    write_wav(tmp_path / "short.wav", np.full(8000, 0.25, np.float32))
    write_wav(tmp_path / "long.wav", np.full(20000, 0.25, np.float32))
    short, long = load_clip(tmp_path / "short.wav"), load_clip(tmp_path / "long.wav")
    assert short.shape == long.shape == (16000,)
    assert short[7999] == pytest.approx(0.25, abs=1e-4) and short[8000] == 0.0
    assert fit_length(np.ones(5), 3).tolist() == [1, 1, 1]


def test_truncated_file_names_file(tmp_path):
    write_wav(tmp_path / "ok.wav", np.zeros(16000, np.float32))
    data = (tmp_path / "ok.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match=r"cut\.wav.*truncated"):
        read_wav(tmp_path / "cut.wav")


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"hello world, not a wav", "not a WAV"),
                                             (b"RIFF\x04\x00\x00\x00WAVE", "fmt")])
def test_bad_files(tmp_path, content, message):
    p = tmp_path / "bad.wav"
    p.write_bytes(content)
    with pytest.raises(AudioError, match=message) as err:
        read_wav(p)
    assert "bad.wav" in str(err.value)


def test_write_is_16bit_roundtrip(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, 16000).astype(np.float32)
    write_wav(tmp_path / "x.wav", x)
    with wave.open(str(tmp_path / "x.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
    y, _ = read_wav(tmp_path / "x.wav")
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7
