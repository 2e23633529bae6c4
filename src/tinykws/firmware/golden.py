"""Golden vectors of a bundle's self-test: clips and what every stage must make of them.

Per clip: int16 PCM, the numpy MFCC (before normalisation), the int8 model
input (``features.normalise`` + ``features.quantize_input``), the int8 output
of TensorFlow Lite Micro (Python runtime) on that input, and its label. The C
front end is float32 and numpy float64, so an int8 input may differ by one
step where the float sits at a rounding tie: ``input_alt`` holds that
neighbour wherever the tie is within the feature tolerance (else the input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.audio.io import load_clip, to_int16
from tinykws.config import FeatureConfig, RunConfig
from tinykws.errors import DataError
from tinykws.audio.mfcc import mfcc, normalise, quantize_input, round_to_int8

#: Largest |C MFCC - numpy MFCC| the self-test allows. The C front end's
#: float32 error is 2.7e-4 at most over the 3,174 real clips (tests/test_frontend.py).
FEATURE_TOLERANCE = 5e-4
DEFAULT_COUNT = 4
MAX_COUNT = 64  # golden clips are compiled into the firmware's flash


@dataclass(frozen=True)
class GoldenClip:
    name: str
    pcm: np.ndarray  # (clip_samples,) int16
    mfcc: np.ndarray  # (frames, n_mfcc) float32
    input: np.ndarray  # (frames * n_mfcc,) int8
    input_alt: np.ndarray  # (frames * n_mfcc,) int8
    output: np.ndarray  # (n_outputs,) int8
    label: int


@dataclass(frozen=True)
class GoldenSet:
    clips: tuple[GoldenClip, ...]
    source: str  # where the clips came from, for the header comment
    tolerance: float = FEATURE_TOLERANCE


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:48] or "clip"


def _envelope(n: int, start: int, length: int) -> np.ndarray:
    env = np.zeros(n)
    env[start:start + length] = np.hanning(length)
    return env


def synthesise_clips(cfg: FeatureConfig, count: int) -> list[tuple[str, np.ndarray]]:
    """Deterministic broadband test signals (int16): noise floor, bursts, a chirp and a vowel in noise.

    Pure tones are avoided on purpose: the float32 FFT's round-off is then as
    large as the signal in distant mel bins, far above the speech tolerance."""
    rng = np.random.default_rng(20240501)
    n, rate = cfg.clip_samples, cfg.sample_rate
    t = np.arange(n) / rate
    floor = 0.003 * rng.standard_normal(n)
    bursts = 0.25 * rng.standard_normal(n) * (np.sin(2 * np.pi * 2.5 * t) > 0.3)
    chirp = 0.35 * _envelope(n, n // 8, n // 2) * np.sin(2 * np.pi * (200 * t + 900 * t ** 2))
    vowel = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 25))
    vowel = 0.08 * _envelope(n, n // 4, n // 2) * vowel
    signals = [("noise_floor", floor), ("noise_bursts", bursts + floor), ("chirp", chirp + floor),
               ("vowel", vowel + floor), ("white_noise", 0.1 * rng.standard_normal(n)),
               ("loud_noise", np.clip(0.6 * rng.standard_normal(n), -1, 1))]
    out = []
    for i in range(count):
        name, signal = signals[i % len(signals)]
        name = name if i < len(signals) else f"{name}_{i // len(signals)}"
        out.append((name, to_int16(np.roll(signal, 997 * (i // len(signals))))))
    return out


def clips_from_dir(data_dir: Path, cfg: RunConfig, count: int) -> list[tuple[str, np.ndarray]]:
    """Up to `count` clips of a data folder, one label after the other (first clips by path).

    The folder is read as training reads it (Speech Commands layouts; other
    words count as _unknown_)."""
    from tinykws.data.speech_commands import discover

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: golden clip folder not found")
    clips = discover([data_dir], cfg.labels, cfg.train.validation_share).clips
    per_label = [sorted((c.path for c in clips if c.label == label), key=str) for label in cfg.labels]
    picked: list[tuple[str, np.ndarray]] = []
    depth = 0
    while len(picked) < count and any(len(paths) > depth for paths in per_label):
        for label, paths in zip(cfg.labels, per_label):
            if len(picked) < count and len(paths) > depth:
                audio = load_clip(paths[depth], cfg.features.sample_rate, cfg.features.clip_samples)
                picked.append((_safe_name(f"{label}/{paths[depth].name}"), to_int16(audio)))
        depth += 1
    return picked



def tie_neighbours(mfcc_values: np.ndarray, cfg: RunConfig, scale: float, zero_point: int,
                   tolerance: float) -> np.ndarray:
    """The int8 value on the other side of a rounding tie within `tolerance` of the MFCC, else the input."""
    std = np.asarray(cfg.normalisation.std if cfg.normalisation else (1.0,) * cfg.features.n_mfcc)
    q = normalise(mfcc_values, cfg.normalisation).astype(np.float64) / scale
    margin = tolerance / (std * scale) + 1e-5 * (np.abs(q) + 1.0)  # + float32 arithmetic in C
    nominal = round_to_int8(q, zero_point)
    low, high = round_to_int8(q - margin, zero_point), round_to_int8(q + margin, zero_point)
    return np.where(low != nominal, low, high).astype(np.int8)


def compute_golden(named_pcm: list[tuple[str, np.ndarray]], cfg: RunConfig, model: bytes,
                   source: str) -> GoldenSet:
    """Features, int8 inputs, TFLite Micro outputs and labels of each clip."""
    from tinykws.verify.engines import TFLMEngine

    engine = TFLMEngine(model, source=source)
    scale, zero_point = engine.input.scale, engine.input.zero_point
    pcm = np.stack([p for _, p in named_pcm]).astype(np.int16)
    feats = mfcc(pcm.astype(np.float64) / 32768.0, cfg.features)
    q_in = quantize_input(normalise(feats, cfg.normalisation), scale, zero_point)
    outputs = engine.run(q_in[..., None]).reshape(len(pcm), -1).astype(np.int8)
    clips = []
    for i, (name, _) in enumerate(named_pcm):
        alt = tie_neighbours(feats[i], cfg, scale, zero_point, FEATURE_TOLERANCE)
        clips.append(GoldenClip(name, pcm[i], feats[i], q_in[i].reshape(-1), alt.reshape(-1), outputs[i],
                                int(np.argmax(outputs[i]))))
    return GoldenSet(tuple(clips), source)
