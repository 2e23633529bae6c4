"""The C feature front end: tables computed in Python, C sources rendered into a bundle.

The C code in ``firmware_templates/frontend/`` computes the MFCC of
``audio/mfcc.py`` in float32 (our own 512-point real FFT with the window in
its first stage, mel filters as bands of bins, a folded DCT), then normalises and quantizes each frame to the model's int8 input
exactly as ``features.normalise`` and ``features.quantize_input`` do. Every
constant it needs (window, twiddles, first-stage inputs, real-FFT split factors, mel
bands, folded DCT, normalisation, input scale and zero point) is computed here from the run's
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


def bit_reversal(n: int) -> tuple[int, ...]:
    """Position of point i after the bit-reversal permutation of n points."""
    bits = n.bit_length() - 1
    return tuple(int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(n))


def radix8_plan(points: int) -> bool:
    """True when the C FFT of `points` complex points is a radix-4 first stage and radix-8 stages
    (points = 4 * 8^a, a >= 1: 32, 256, 2048, ...); else radix-4 stages after a radix-4 or radix-2 first."""
    bits = points.bit_length() - 1
    return bits >= 5 and (bits - 2) % 3 == 0


def _digit_reversal(n: int, radix: int) -> tuple[int, ...]:
    """i with its base-`radix` digits reversed, for i < n (n a power of radix)."""
    digits = round(math.log(n, radix))
    out = []
    for i in range(n):
        r = 0
        for _ in range(digits):
            i, d = divmod(i, radix)
            r = r * radix + d
        out.append(r)
    return tuple(out)


def first_stage_inputs(points: int) -> tuple[int, ...]:
    """The first complex point read by each group of the FFT's first stage.

    The decimation-in-time FFT wants its input in digit-reversed order; the C
    window reads it there directly: group g of the first stage (radix 4, or
    radix 2 when log2 of the point count is odd and the plan is radix 4)
    writes positions radix*g .. radix*g + radix - 1 from the points
    m + q * points / radix, q < radix. m is the bit reversal of g among
    points / radix groups, or in the radix-8 plan g with its base-8 digits
    reversed.
    """
    if radix8_plan(points):
        return _digit_reversal(points // 4, 8)
    radix = 4 if (points.bit_length() - 1) % 2 == 0 else 2
    return bit_reversal(points // radix)


def first_stage_window(cfg: FeatureConfig) -> np.ndarray:
    """The Hann window / 32768, zero-padded to fft_size, in the order the first stage's groups read it:
    for each group, (re, im) of each of its points m + q * points / radix."""
    window = np.zeros(cfg.fft_size)
    window[: cfg.window_samples] = hann_window(cfg.window_samples) / _PCM_SCALE
    points = cfg.fft_size // 2
    firsts = first_stage_inputs(points)
    radix = points // len(firsts)
    order = [2 * (m + q * (points // radix)) + part for m in firsts for q in range(radix) for part in (0, 1)]
    return window[order]


def stage_twiddles(points: int) -> np.ndarray:
    """The twiddles of the FFT's stages after the first, stage after stage.

    Radix-4 plan: stages combining blocks of h = 4, 16, ... (or 2, 8, ...)
    points, each with, for 0 < k < h, W^k, W^2k and W^3k, W = exp(-2 pi i / 4h).
    Radix-8 plan: h = 4, 32, ..., W^k .. W^7k with W = exp(-2 pi i / 8h).
    Interleaved (re, im), in the order the C walks them (k = 0 needs none).
    """
    radix = 8 if radix8_plan(points) else 4
    h = 2 if radix == 4 and (points.bit_length() - 1) % 2 else 4
    values: list[np.ndarray] = []
    while h < points:
        k = np.arange(1, h)[:, None] * np.arange(1, radix)[None, :]
        w = np.exp(-2j * np.pi * k / (radix * h)).reshape(-1)
        values.append(np.stack([w.real, w.imag], axis=1).reshape(-1))
        h *= radix
    return np.concatenate(values) if values else np.zeros(0)


def split_factors(fft_size: int, bins: range) -> np.ndarray:
    """A[k] = (1 - i W^k) / 2, W = exp(-2 pi i / fft_size), interleaved (re, im), for k in bins.

    With Z the FFT of the fft_size / 2 complex points x[2n] + i x[2n+1] and
    C = conj Z[fft_size / 2 - k], the real FFT is X[k] = C + A[k] (Z[k] - C).
    """
    angle = 2.0 * np.pi * np.asarray(bins, np.float64) / fft_size
    return np.stack([(1.0 - np.sin(angle)) / 2.0, -np.cos(angle) / 2.0], axis=1).reshape(-1)


@dataclass(frozen=True)
class MelBands:
    """The mel filters as bands of consecutive FFT bins for the C front end.

    Every bin of [lo, hi) belongs to band j and adds to two filters at most,
    j - 1 (weight ``weights[2i]``) and j (``weights[2i + 1]``); band j has
    ``length[j]`` bins, j = 0 .. n_mels, so C walks the bins once, with the
    two open filters in registers.
    """

    lo: int
    length: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def hi(self) -> int:
        return self.lo + sum(self.length)


def mel_bands(cfg: FeatureConfig) -> MelBands:
    """The bands of ``mel_matrix(cfg)``; InputError if a bin feeds filters that are not neighbours."""
    matrix = mel_matrix(cfg)
    lo, hi = mel_runs(cfg).bin_range
    n_mels = matrix.shape[1]
    lengths = [0] * (n_mels + 1)
    weights: list[float] = []
    band = 0
    for k in range(lo, hi):
        used = np.flatnonzero(matrix[k])
        if used.size:
            band = max(band, int(used[-1]))
            if int(used[0]) < band - 1:
                raise InputError(f"FFT bin {k} feeds mel filters {used.tolist()}: the C front end needs neighbours")
        lengths[band] += 1
        weights.append(float(matrix[k, band - 1]) if band > 0 else 0.0)
        weights.append(float(matrix[k, band]) if band < n_mels else 0.0)
    return MelBands(lo, tuple(lengths), tuple(weights))


def mel_bin_table(fft_size: int, bands: MelBands) -> np.ndarray:
    """Per bin of the bands: its split factor (re, im) and its two filter weights, as C walks them."""
    split = split_factors(fft_size, range(bands.lo, bands.hi)).reshape(-1, 2)
    return np.hstack([split, np.asarray(bands.weights).reshape(-1, 2)]).reshape(-1)


def folded_dct(n_mels: int, n_mfcc: int) -> np.ndarray:
    """(n_mfcc, ceil(n_mels / 2)) DCT rows on the folded log-mel vector.

    DCT-II row c is symmetric (c even) or antisymmetric (c odd) about the
    middle, so sum_m D[c, m] L[m] = sum_{n < half} D[c, n] (L[n] +- L[N-1-n])
    (the middle term of an odd N alone): half the multiplies.
    """
    half = (n_mels + 1) // 2
    return dct_matrix(n_mels, n_mfcc).T[:, :half]


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
    bands = mel_bands(features)
    mean = norm.mean if norm is not None else (0.0,) * features.n_mfcc
    std = norm.std if norm is not None else (1.0,) * features.n_mfcc
    points = features.fft_size // 2
    return {
        "cfg": features,
        "overlap_samples": features.window_samples - features.hop_samples,
        "fft_log2_points": points.bit_length() - 1,
        "fft_radix8": radix8_plan(points),
        "bin_lo": bands.lo,
        "bin_hi": bands.hi,
        "state_bytes": state_bytes(features),
        "normalised": norm is not None,
        "input_scale": c_float(input_scale),
        "input_zero_point": int(input_zero_point),
        "log_offset": c_float(features.log_offset),
        "window": [c_float(v) for v in first_stage_window(features)],
        "twiddles": [c_float(v) for v in stage_twiddles(points)],
        "first_inputs": list(first_stage_inputs(points)),
        "band_length": list(bands.length),
        "mel_bins": [c_float(v) for v in mel_bin_table(features.fft_size, bands)],
        "dct": [[c_float(v) for v in term] for term in folded_dct(features.n_mels, features.n_mfcc).T],
        "norm_mean": [c_float(v) for v in mean],
        "norm_std": [c_float(v) for v in std],
    }


def state_bytes(cfg: FeatureConfig) -> int:
    """sizeof(tk_features_t): int16 samples and float FFT buffer (tk_features.c checks it)."""
    return 2 * cfg.fft_size + 4 * (cfg.fft_size + 2)


def table_bytes(cfg: FeatureConfig) -> int:
    """Flash of tk_feature_tables.c: window, stage twiddles, first-stage inputs, mel bands and bins, DCT, norm."""
    bands = mel_bands(cfg)
    points = cfg.fft_size // 2
    return (4 * cfg.fft_size + 4 * len(stage_twiddles(points)) + 2 * len(first_stage_inputs(points))
            + 4 * 4 * (bands.hi - bands.lo) + 2 * len(bands.length)
            + 4 * cfg.n_mfcc * ((cfg.n_mels + 1) // 2) + 2 * 4 * cfg.n_mfcc)


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
