"""Read audio files (WAV, FLAC, OGG/Vorbis) and write WAV, validated, with errors that name the file.

``read_audio`` (alias ``read_wav``) parses PCM 8/16/24/32-bit and IEEE
float32/64 WAV itself, and reads FLAC, OGG/Vorbis and every other WAV
encoding (mu-law, A-law, ADPCM, ...) through ``soundfile`` (libsndfile,
shipped in its wheel). Any number of channels is down-mixed to mono and any
plausible sample rate is resampled with a polyphase filter. ``load_clip``
further pads or crops to one clip length.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.errors import AudioError
from tinykws.fsutil import atomic_write_bytes

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
MIN_RATE_HZ = 1000
MAX_RATE_HZ = 384_000  # the highest rate of common audio interfaces; beyond it a header is corrupt
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga")


class _Unsupported(AudioError):
    """A valid WAV container whose encoding our own parser does not decode (soundfile may)."""


@dataclass(frozen=True)
class WavInfo:
    sample_rate: int
    channels: int
    bits: int
    format_tag: int
    frames: int


def _chunks(path: Path, data: bytes) -> dict[bytes, bytes]:
    if len(data) == 0:
        raise AudioError(f"{path}: empty file")
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    if data[:4] == b"RIFX":
        raise AudioError(f"{path}: big-endian RIFX WAV is not supported")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            if cid == b"data":
                raise AudioError(
                    f"{path}: truncated: the data chunk declares {size} bytes but only {len(body)} are present"
                )
            raise AudioError(f"{path}: truncated inside the {cid.decode('latin-1')!r} chunk")
        chunks.setdefault(cid, body)
        pos += 8 + size + (size & 1)
    if b"fmt " not in chunks:
        raise AudioError(f"{path}: no 'fmt ' chunk (truncated or not a WAV file)")
    if b"data" not in chunks:
        raise AudioError(f"{path}: no 'data' chunk (truncated file?)")
    return chunks


def _parse_fmt(path: Path, fmt: bytes) -> tuple[int, int, int, int]:
    if len(fmt) < 16:
        raise AudioError(f"{path}: 'fmt ' chunk is {len(fmt)} bytes, expected at least 16")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE:
        if len(fmt) < 40:
            raise AudioError(f"{path}: WAVE_FORMAT_EXTENSIBLE header too short")
        (tag,) = struct.unpack("<H", fmt[24:26])
    if tag not in (_PCM, _FLOAT):
        raise _Unsupported(f"{path}: unsupported WAV encoding (format tag {tag})")
    if channels < 1:
        raise AudioError(f"{path}: WAV declares {channels} channels")
    _check_rate(path, rate)
    valid = {_PCM: (8, 16, 24, 32), _FLOAT: (32, 64)}[tag]
    if bits not in valid:
        raise AudioError(f"{path}: {bits}-bit {'PCM' if tag == _PCM else 'float'} is not supported")
    if block_align != channels * bits // 8:
        raise AudioError(f"{path}: inconsistent block align {block_align} for {channels} x {bits}-bit")
    return tag, channels, rate, bits


def _decode(raw: bytes, tag: int, bits: int) -> np.ndarray:
    if tag == _FLOAT:
        return np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
    if bits == 8:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float64) / float(1 << 23)
    return np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)


def _check_rate(path: Path, rate: int) -> None:
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise AudioError(f"{path}: implausible sample rate {rate} Hz (expected {MIN_RATE_HZ} to {MAX_RATE_HZ})")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a directory, not an audio file") from None
    except PermissionError:
        raise AudioError(f"{path}: permission denied") from None


def read_audio(path: Path | str, target_rate: int | None = 16000) -> tuple[np.ndarray, WavInfo]:
    """Read a WAV, FLAC or OGG file as mono float32 in [-1, 1], resampled to ``target_rate``."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) == 0:
        raise AudioError(f"{path}: empty file")
    if data[:4] in (b"RIFF", b"RIFX") or path.suffix.lower() == ".wav":
        try:
            samples, info = _parse_wav(path, data)
        except _Unsupported:
            samples, info = _read_soundfile(path, data)
    else:
        samples, info = _read_soundfile(path, data)
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{path}: samples are NaN or infinite")
    if target_rate is not None and info.sample_rate != target_rate:
        samples = resample(samples, info.sample_rate, target_rate)
    return samples.astype(np.float32), info


read_wav = read_audio


def _read_soundfile(path: Path, data: bytes) -> tuple[np.ndarray, WavInfo]:
    """FLAC, OGG/Vorbis and the WAV encodings libsndfile knows; truncation and corruption are errors."""
    import io

    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            rate, channels, frames, subtype = f.samplerate, f.channels, f.frames, f.subtype
            _check_rate(path, rate)
            samples = f.read(dtype="float64", always_2d=True)
    except soundfile.LibsndfileError as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc.error_string})") from None
    except (RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from None
    if len(samples) == 0:
        raise AudioError(f"{path}: no samples")
    if frames > 0 and len(samples) < frames:
        raise AudioError(f"{path}: truncated: the header declares {frames} frames but only {len(samples)} decode")
    bits = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}
    info = WavInfo(rate, channels, bits.get(subtype, 0), 0, len(samples))
    return samples.mean(axis=1), info


def _parse_wav(path: Path, data: bytes) -> tuple[np.ndarray, WavInfo]:
    chunks = _chunks(path, data)
    tag, channels, rate, bits = _parse_fmt(path, chunks[b"fmt "])
    raw = chunks[b"data"]
    frame_bytes = channels * bits // 8
    if len(raw) % frame_bytes:
        raise AudioError(f"{path}: truncated: data length {len(raw)} is not a multiple of {frame_bytes}")
    if len(raw) == 0:
        raise AudioError(f"{path}: the data chunk is empty (no samples)")
    samples = _decode(raw, tag, bits).reshape(-1, channels).mean(axis=1)
    return samples, WavInfo(rate, channels, bits, tag, len(samples))


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (Kaiser-windowed FIR anti-aliasing filter)."""
    from scipy.signal import resample_poly

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(samples, rate_out // g, rate_in // g)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad a short clip at the end, crop a long one."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def load_clip(path: Path | str, sample_rate: int = 16000, clip_samples: int = 16000) -> np.ndarray:
    samples, _ = read_audio(path, sample_rate)
    return fit_length(samples, clip_samples).astype(np.float32)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] to int16, rounding to nearest and clipping."""
    return np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def wav_bytes(samples: np.ndarray, sample_rate: int = 16000) -> bytes:
    """16-bit PCM mono WAV file contents; float input is converted with ``to_int16``."""
    pcm = samples if samples.dtype == np.int16 else to_int16(samples)
    payload = pcm.astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, _PCM, 1, sample_rate, sample_rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(payload)) + payload


def write_wav(path: Path | str, samples: np.ndarray, sample_rate: int = 16000) -> None:
    """Write mono 16-bit PCM atomically."""
    atomic_write_bytes(Path(path), wav_bytes(np.asarray(samples), sample_rate))
