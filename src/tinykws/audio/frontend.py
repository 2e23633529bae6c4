"""The C feature front end: tables computed in Python, C sources rendered into a bundle.

The C code in ``firmware_templates/frontend/`` computes the MFCC of
``audio/mfcc.py`` in float32 (our own 512-point real FFT, sparse mel filters,
DCT), then normalises and quantizes each frame to the model's int8 input
exactly as ``features.normalise`` and ``features.quantize_input`` do. Every
constant it needs (window, twiddles, bit-reversal swaps and permutation, mel runs, DCT,
normalisation, input scale and zero point) is computed here from the run's
``FeatureConfig`` and rendered with Jinja2 into ``tk_feature_tables.{h,c}``.

``prefix`` renames every public C identifier (``tk_`` / ``TK_``) and file so
that two front ends can live in one firmware image.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinykws.config import FeatureConfig, Normalisation
from tinykws.errors import InputError
from tinykws.audio.mfcc import dct_matrix, hann_window, mel_matrix
from tinykws.fsutil import atomic_write_text
from tinykws.templates import C_RESERVED, c_float, environment, templates_dir

#: Sources copied as they are (after the prefix rename).
STATIC_SOURCES: tuple[str, ...] = ("tk_features.h", "tk_features.c")
#: Jinja2 templates rendered from the run's configuration.
GENERATED_SOURCES: tuple[str, ...] = ("tk_feature_tables.h.j2", "tk_feature_tables.c.j2")

_PCM_SCALE = 32768.0  # audio/mfcc.py works on int16 / 32768


def frontend_dir() -> Path:
    return templates_dir() / "frontend"


@dataclass(frozen=True)
class MelRuns:
    """The nonzero run of each triangular mel filter: first FFT bin, length, weights (flat)."""

    start: tuple[int, ...]
    length: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def bin_range(self) -> tuple[int, int]:
        """[lo, hi): the FFT bins any filter touches (the only magnitudes the C computes)."""
        used = [(s, s + n) for s, n in zip(self.start, self.length) if n > 0]
        if not used:
            return (0, 0)
        return (min(s for s, _ in used), max(e for _, e in used))


def mel_runs(cfg: FeatureConfig) -> MelRuns:
    matrix = mel_matrix(cfg)
    starts: list[int] = []
    lengths: list[int] = []
    weights: list[float] = []
    for m in range(cfg.n_mels):
        nonzero = np.flatnonzero(matrix[:, m])
        if nonzero.size == 0:
            starts.append(0)
            lengths.append(0)
            continue
        lo, hi = int(nonzero[0]), int(nonzero[-1]) + 1
        starts.append(lo)
        lengths.append(hi - lo)
        weights.extend(float(w) for w in matrix[lo:hi, m])
    return MelRuns(tuple(starts), tuple(lengths), tuple(weights))


def fft_swaps(n: int) -> tuple[int, ...]:
    """Bit-reversal permutation of n points as flat (i, j) pairs with i < j."""
    bits = n.bit_length() - 1
    pairs: list[int] = []
    for i in range(n):
        j = int(format(i, f"0{bits}b")[::-1], 2) if bits else 0
        if i < j:
            pairs.extend((i, j))
    return tuple(pairs)


def bit_reversal(n: int) -> tuple[int, ...]:
    """Position of point i after the bit-reversal permutation of n points."""
    bits = n.bit_length() - 1
    return tuple(int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(n))


def twiddles(fft_size: int) -> np.ndarray:
    """exp(-2 pi i k / fft_size) for k < 3 fft_size / 4, interleaved (re, im).

    k < fft_size / 2 serve the real-FFT split; the radix-4 stages of the
    half-length complex FFT use W^k, W^2k and W^3k, up to 3 fft_size / 4.
    """
    k = np.arange(3 * fft_size // 4)
    angle = 2.0 * np.pi * k / fft_size
    return np.stack([np.cos(angle), -np.sin(angle)], axis=1).reshape(-1)


def check_features(cfg: FeatureConfig) -> None:
    """The front end's limits on a FeatureConfig; raises InputError naming the field."""
    n = cfg.fft_size
    if n < 8 or n > 65536 or n & (n - 1):
        raise InputError(f"fft_size must be a power of two from 8 to 65536 (uint16 tables), got {n}")
    if not 0 < cfg.hop_samples < cfg.window_samples <= n:
        raise InputError(
            "the C front end needs 0 < hop_samples < window_samples <= fft_size, got "
            f"hop {cfg.hop_samples}, window {cfg.window_samples}, fft {n}"
        )
    if cfg.clip_samples < cfg.window_samples:
        raise InputError(f"clip_samples {cfg.clip_samples} is shorter than one window")
    if not 0 < cfg.n_mfcc <= cfg.n_mels:
        raise InputError(f"n_mfcc must be in 1..n_mels ({cfg.n_mels}), got {cfg.n_mfcc}")
    if cfg.log_offset <= 0:
        raise InputError(f"log_offset must be positive, got {cfg.log_offset}")


def check_quantization(cfg: FeatureConfig, norm: Normalisation | None, scale: float, zero_point: int) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"input scale must be a positive finite number, got {scale!r}")
    if int(zero_point) != zero_point or not -128 <= zero_point <= 127:
        raise InputError(f"input zero point must be an int8 value, got {zero_point!r}")
    if norm is None:
        return
    if len(norm.mean) != cfg.n_mfcc or len(norm.std) != cfg.n_mfcc:
        raise InputError(
            f"normalisation has {len(norm.mean)} means and {len(norm.std)} stds, expected {cfg.n_mfcc} each"
        )
    if not all(math.isfinite(s) and s > 0 for s in norm.std):
        raise InputError("normalisation std must be positive and finite for every coefficient")


def check_prefix(prefix: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9]*", prefix) or prefix in C_RESERVED or keyword.iskeyword(prefix):
        raise InputError(f"C prefix must be lower-case letters and digits, starting with a letter, got {prefix!r}")


def frontend_context(
    features: FeatureConfig, norm: Normalisation | None, input_scale: float, input_zero_point: int
) -> dict[str, Any]:
    """Every value the table templates use, as C-ready strings and ints."""
    runs = mel_runs(features)
    if not runs.weights:
        raise InputError(f"no mel filter between {features.fmin_hz} and {features.fmax_hz} Hz covers an FFT bin")
    bin_lo, bin_hi = runs.bin_range
    window = hann_window(features.window_samples) / _PCM_SCALE
    mean = norm.mean if norm is not None else (0.0,) * features.n_mfcc
    std = norm.std if norm is not None else (1.0,) * features.n_mfcc
    dct = dct_matrix(features.n_mels, features.n_mfcc).T  # (n_mfcc, n_mels): one row per coefficient
    return {
        "cfg": features,
        "overlap_samples": features.window_samples - features.hop_samples,
        "fft_log2_points": (features.fft_size // 2).bit_length() - 1,
        "bin_lo": bin_lo,
        "bin_hi": bin_hi,
        "normalised": norm is not None,
        "input_scale": c_float(input_scale),
        "input_zero_point": int(input_zero_point),
        "log_offset": c_float(features.log_offset),
        "window": [c_float(v) for v in window],
        "twiddles": [c_float(v) for v in twiddles(features.fft_size)],
        "swaps": list(fft_swaps(features.fft_size // 2)),
        "bit_reversal": list(bit_reversal(features.fft_size // 2)),
        "mel_start": list(runs.start),
        "mel_length": list(runs.length),
        "mel_weights": [c_float(v) for v in runs.weights],
        "dct": [[c_float(v) for v in row] for row in dct],
        "norm_mean": [c_float(v) for v in mean],
        "norm_std": [c_float(v) for v in std],
    }


def apply_prefix(text: str, prefix: str) -> str:
    """Rename the tk_/TK_ identifiers (and #include names) to prefix_/PREFIX_."""
    if prefix == "tk":
        return text
    text = re.sub(r"\btk_", f"{prefix}_", text)
    return re.sub(r"\bTK_", f"{prefix.upper()}_", text)


def _output_name(name: str, prefix: str) -> str:
    name = name.removesuffix(".j2")
    return f"{prefix}_{name.removeprefix('tk_')}"


def render_frontend(
    out_dir: Path,
    features: FeatureConfig,
    norm: Normalisation | None,
    input_scale: float,
    input_zero_point: int,
    prefix: str = "tk",
) -> list[Path]:
    """Write the front end's C sources and generated tables into out_dir; returns the files written."""
    check_features(features)
    check_quantization(features, norm, input_scale, input_zero_point)
    check_prefix(prefix)
    out_dir = Path(out_dir)
    context = frontend_context(features, norm, input_scale, input_zero_point)
    env = environment(str(frontend_dir()))
    written: list[Path] = []
    for name in STATIC_SOURCES:
        text = (frontend_dir() / name).read_text()
        written.append(_write(out_dir / _output_name(name, prefix), apply_prefix(text, prefix)))
    for name in GENERATED_SOURCES:
        text = env.get_template(name).render(**context)
        written.append(_write(out_dir / _output_name(name, prefix), apply_prefix(text, prefix)))
    return written


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path
