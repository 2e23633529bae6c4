"""The C feature front end against the numpy specification (tinykws.audio.mfcc).

The generated C is compiled on the host (gcc -std=c99 -Wall -Wextra -Werror
-pedantic, and once with ASan + UBSan), run on real Speech Commands clips and
synthetic signals, and compared with features.mfcc / normalise /
quantize_input on the same int16 PCM.

Measured (host, gcc -O2, the C path, float32 vs float64 numpy; the Cortex-M4
in QEMU runs the Arm FPU assembly path, rounded differently):
  real clips: max abs MFCC error 2.3e-4 on the host and 2.3e-4 on the M4 over
    all 3,174 clips of the real set (1.2e-4 / 1.5e-4 on the 48 used here)
    -> TOL_REAL = 5e-4; int8 input on the M4: 14 of 1,555,260 values one step
    off, each where the float sits at a rounding tie;
  broadband synthetic signals (noise, clipped noise, silence, impulse): <= 2.3e-5;
  full-scale pure tones: up to 0.033 (the 7.3 kHz tone here, outside the mel
    band: float32 FFT round-off, ~1e-7 of the peak, is as large as the int16
    quantization floor in the mel bins; 0.016 on the M4; earlier, 0.036 over a
    sweep of 60 frequencies) -> TOL_TONE = 0.05.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinykws.audio.io import load_clip, to_int16
from tinykws.config import FeatureConfig, Normalisation
from tinykws.errors import InputError
from tinykws.audio.mfcc import dct_matrix, mel_matrix, mfcc, normalise, quantize_input
from tinykws.audio.frontend import (
    c_float,
    first_stage_inputs,
    folded_dct,
    frontend_dir,
    mel_bands,
    mel_runs,
    radix8_plan,
    render_frontend,
    split_factors,
    stage_twiddles,
    templates_dir,
)

# The real clips beside the repository (as the Makefile's DATA); TINYKWS_REAL_DATA overrides.
DATA_DIR = Path(
    os.environ.get(
        "TINYKWS_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "speech_commands_v0.02_real"
    )
)
FEATURES = FeatureConfig()
# Per-coefficient statistics of real clips (rounded): realistic, fixed for the tests.
NORM = Normalisation(
    mean=(-22.42, 1.61, 0.03, -0.33, -0.16, -0.17, -0.14, -0.14, -0.25, -0.31),
    std=(22.48, 3.73, 2.51, 1.93, 1.61, 1.25, 1.19, 1.04, 0.96, 0.89),
)
INPUT_SCALE = 0.0421  # not a power of two: the division rounds
INPUT_ZERO_POINT = 7
TOL_REAL = 5e-4
TOL_TONE = 0.05
HOST_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")
RECORD = np.dtype([("mfcc", "<f4", (FEATURES.n_mfcc,)), ("q", "i1", (FEATURES.n_mfcc,))])


# ---------------------------------------------------------------- helpers


def cli_source() -> Path:
    return frontend_dir() / "tools" / "tk_features_cli.c"


def host_platform_dir() -> Path:
    return templates_dir() / "platform" / "host"


def build_host_cli(src_dir: Path, out: Path, extra: tuple[str, ...] = ()) -> Path:
    sources = sorted(str(p) for p in src_dir.glob("*.c"))
    cmd = ["gcc", *HOST_FLAGS, "-O2", *extra, f"-I{src_dir}", f"-I{host_platform_dir()}", *sources]
    cmd += [str(cli_source()), "-lm", "-o", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # warning-free
    return out


def run_host_cli(cli: Path, mode: str, data: np.ndarray, work: Path, record: np.dtype = RECORD) -> np.ndarray:
    src, dst = work / f"{mode}.in", work / f"{mode}.out"
    data.tofile(src)
    done = subprocess.run([str(cli), mode, str(src), str(dst)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return np.fromfile(dst, record)


def real_clips(per_label: int) -> np.ndarray:
    """The first `per_label` clips of every label folder as int16 PCM (skips without the data)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real clips not present at {DATA_DIR}")
    paths = [p for d in sorted(DATA_DIR.iterdir()) if d.is_dir() for p in sorted(d.glob("*.wav"))[:per_label]]
    if not paths:
        pytest.skip(f"no WAV clips under {DATA_DIR}")
    return np.stack([to_int16(load_clip(p)) for p in paths])


def tone(freq: float, amplitude: float, n: int = FEATURES.clip_samples) -> np.ndarray:
    t = np.arange(n) / FEATURES.sample_rate
    return np.clip(np.round(amplitude * 32767 * np.sin(2 * np.pi * freq * t + 0.3)), -32768, 32767)


def speech_like_signals() -> dict[str, np.ndarray]:
    """Broadband synthetic signals: held to the real-clip tolerance."""
    rng = np.random.default_rng(5)
    n = FEATURES.clip_samples
    t = np.arange(n) / FEATURES.sample_rate
    burst = rng.normal(0, 0.3, n) * (np.sin(2 * np.pi * 3 * t) > 0)
    signals = {
        "silence": np.zeros(n),
        "full_scale_noise": rng.integers(-32768, 32768, n),
        "clipped_noise": np.clip(np.round(rng.normal(0, 3.0, n) * 32767), -32768, 32767),
        "lsb_noise": rng.integers(-1, 2, n),
        "impulse": np.where(np.arange(n) == 8000, 32767, 0),
        "noise_bursts": np.clip(np.round(burst * 32767), -32768, 32767),
    }
    return {k: np.asarray(v).astype(np.int16) for k, v in signals.items()}


def tone_signals() -> dict[str, np.ndarray]:
    """Pure tones, DC and a clipped (square-ish) tone: held to TOL_TONE."""
    signals = {f"tone_{f}hz_{a}": tone(f, a) for f in (100, 440.3, 1000, 3500, 7268) for a in (1.0, 0.3)}
    signals["clipped_tone"] = tone(300, 3.0)
    signals["dc_max"] = np.full(FEATURES.clip_samples, 32767)
    signals["dc_min"] = np.full(FEATURES.clip_samples, -32768)
    return {k: np.asarray(v).astype(np.int16) for k, v in signals.items()}


def reference(pcm: np.ndarray, cfg: FeatureConfig = FEATURES) -> np.ndarray:
    return mfcc(pcm.astype(np.float64) / 32768.0, cfg)


def quantize_reference(values: np.ndarray, norm: Normalisation | None = NORM) -> np.ndarray:
    return quantize_input(normalise(values, norm), INPUT_SCALE, INPUT_ZERO_POINT)


def check_quantization_of_own_floats(records: np.ndarray) -> None:
    """The C int8 output is numpy's quantization of the C float MFCC (a mismatch only at a tie)."""
    expected = quantize_reference(records["mfcc"])
    diff = records["q"].astype(int) - expected.astype(int)
    assert np.abs(diff).max(initial=0) <= 1
    q = normalise(records["mfcc"], NORM).astype(np.float64) / INPUT_SCALE
    distance_to_tie = np.abs(np.abs(q - np.trunc(q)) - 0.5)
    assert np.all(distance_to_tie[diff != 0] < 1e-5), "int8 differs away from a rounding tie"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("frontend") / "src"
    render_frontend(out, FEATURES, NORM, INPUT_SCALE, INPUT_ZERO_POINT)
    return out


@pytest.fixture(scope="module")
def host_cli(rendered: Path) -> Path:
    return build_host_cli(rendered, rendered.parent / "tk_features_cli")


# ---------------------------------------------------------------- Python side


def test_render_writes_the_sources(rendered: Path) -> None:
    names = sorted(p.name for p in rendered.iterdir())
    assert names == ["tk_feature_tables.c", "tk_feature_tables.h", "tk_features.c", "tk_features.h"]
    header = (rendered / "tk_feature_tables.h").read_text()
    assert "#define TK_FEATURES_INPUT_ZERO_POINT (7)" in header
    assert "#define TK_FEATURES_N_FRAMES         49" in header


def test_mel_runs_rebuild_the_mel_matrix() -> None:
    runs = mel_runs(FEATURES)
    dense = np.zeros((FEATURES.n_bins, FEATURES.n_mels))
    offset = 0
    for m, (start, length) in enumerate(zip(runs.start, runs.length)):
        dense[start : start + length, m] = runs.weights[offset : offset + length]
        offset += length
    np.testing.assert_array_equal(dense, mel_matrix(FEATURES))
    assert runs.bin_range == (1, 128)  # 20 Hz .. 4 kHz of a 512-point FFT at 16 kHz


def test_mel_bands_rebuild_the_mel_matrix() -> None:
    bands = mel_bands(FEATURES)
    dense = np.zeros((FEATURES.n_bins, FEATURES.n_mels + 2))  # columns: filter -1 .. n_mels
    k = bands.lo
    for band, length in enumerate(bands.length):
        for _ in range(length):
            i = k - bands.lo
            dense[k, band] += bands.weights[2 * i]
            dense[k, band + 1] += bands.weights[2 * i + 1]
            k += 1
    assert (bands.lo, bands.hi) == mel_runs(FEATURES).bin_range
    assert not dense[:, 0].any() and not dense[:, -1].any()  # nothing for the filters outside 0..n_mels-1
    np.testing.assert_array_equal(dense[:, 1:-1], mel_matrix(FEATURES))


def emulate_c_fft(z: np.ndarray) -> np.ndarray:
    """The C FFT's data flow in numpy: the first stage reads tk_fft_first, the later stages walk
    tk_fft_twiddle block by block and k by k; each butterfly is a small DFT (np.fft.fft)."""
    points = len(z)
    firsts = first_stage_inputs(points)
    first_radix = points // len(firsts)
    x = np.concatenate([np.fft.fft(z[m + np.arange(first_radix) * (points // first_radix)]) for m in firsts])
    w = stage_twiddles(points)
    w = w[0::2] + 1j * w[1::2]
    radix = 8 if radix8_plan(points) else 4
    order = np.arange(8) if radix == 8 else np.array([0, 2, 1, 3])  # the radix-4 plan's sub-blocks: F0 F2 F1 F3
    h, used = first_radix, 0
    while h < points:
        for block in range(0, points, radix * h):
            for k in range(h):
                twiddle = np.ones(radix - 1) if k == 0 else w[used + (k - 1) * (radix - 1) : used + k * (radix - 1)]
                idx = block + k + h * np.arange(radix)
                f = x[idx][order]
                x[idx] = np.fft.fft(np.concatenate([f[:1], twiddle * f[1:]]))
        used += (h - 1) * (radix - 1)
        h *= radix
    assert used == len(w)
    return x


@pytest.mark.parametrize("points", [32, 128, 256, 512, 1024, 2048])
def test_first_stage_order_and_twiddles_make_the_fft(points: int) -> None:
    z = np.random.default_rng(points).normal(size=(points, 2)) @ np.array([1.0, 1j])
    np.testing.assert_allclose(emulate_c_fft(z), np.fft.fft(z), atol=1e-9 * points)
    assert radix8_plan(points) == (points in (32, 256, 2048))


def test_split_factors_make_the_real_fft() -> None:
    x = np.random.default_rng(2).normal(size=FEATURES.fft_size)
    z = np.fft.fft(x[0::2] + 1j * x[1::2])
    m = len(z)
    bins = range(0, m + 1)
    a = split_factors(FEATURES.fft_size, bins).reshape(-1, 2) @ np.array([1.0, 1j])
    mirror = np.conj(z[(m - np.asarray(bins)) % m])
    np.testing.assert_allclose(mirror + a * (z[np.asarray(bins) % m] - mirror), np.fft.rfft(x), atol=1e-9)


@pytest.mark.parametrize("n_mels", [40, 31])
def test_folded_dct_is_the_dct(n_mels: int) -> None:
    log_mel = np.random.default_rng(4).normal(size=n_mels)
    half = (n_mels + 1) // 2
    even = log_mel[:half] + log_mel[::-1][:half]
    odd = log_mel[:half] - log_mel[::-1][:half]
    if n_mels % 2:
        even[-1] = odd[-1] = log_mel[half - 1]
    folded = folded_dct(n_mels, 13)
    got = [folded[c] @ (odd if c % 2 else even) for c in range(13)]
    np.testing.assert_allclose(got, log_mel @ dct_matrix(n_mels, 13), atol=1e-12)


@pytest.mark.parametrize("value", [1.0, -0.0, 0.1, 1e-6, -22.42, 3.4e38, 1.1754944e-38, 123456789.0])
def test_c_float_round_trips_float32(value: float) -> None:
    text = c_float(value)
    assert text.endswith("f") and any(ch in text for ch in ".e")
    assert np.float32(float(text[:-1])) == np.float32(value)


@pytest.mark.parametrize(
    ("change", "args"),
    [
        ({"fft_size": 500}, {}),
        ({"hop_samples": 480}, {}),
        ({"window_samples": 600}, {}),
        ({"n_mfcc": 41}, {}),
        ({}, {"input_scale": 0.0}),
        ({}, {"input_zero_point": 128}),
        ({}, {"norm": Normalisation(mean=(0.0,), std=(1.0,))}),
        ({}, {"prefix": "Bad-Prefix"}),
        ({}, {"prefix": "int"}),
    ],
)
def test_render_rejects_what_the_c_cannot_do(tmp_path: Path, change: dict, args: dict) -> None:
    kwargs = {"norm": NORM, "input_scale": INPUT_SCALE, "input_zero_point": INPUT_ZERO_POINT, **args}
    with pytest.raises(InputError):
        render_frontend(tmp_path, replace(FEATURES, **change), **kwargs)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- host C


def test_c_matches_numpy_on_real_clips(host_cli: Path, tmp_path: Path) -> None:
    pcm = real_clips(per_label=4)
    records = run_host_cli(host_cli, "clip", pcm, tmp_path).reshape(len(pcm), FEATURES.n_frames)
    ref = reference(pcm)
    assert np.abs(records["mfcc"] - ref).max() < TOL_REAL
    check_quantization_of_own_floats(records)
    diff = records["q"].astype(int) - quantize_reference(ref).astype(int)
    assert np.abs(diff).max() <= 1
    assert np.count_nonzero(diff) <= diff.size // 1000  # measured: 0 of 23,520 here


def test_c_matches_numpy_on_broadband_signals(host_cli: Path, tmp_path: Path) -> None:
    signals = speech_like_signals()
    pcm = np.stack(list(signals.values()))
    records = run_host_cli(host_cli, "clip", pcm, tmp_path).reshape(len(pcm), FEATURES.n_frames)
    errors = np.abs(records["mfcc"] - reference(pcm)).max(axis=(1, 2))
    assert dict(zip(signals, errors.tolist())) == pytest.approx(dict.fromkeys(signals, 0.0), abs=TOL_REAL)
    check_quantization_of_own_floats(records)


def test_c_matches_numpy_on_tones(host_cli: Path, tmp_path: Path) -> None:
    signals = tone_signals()
    pcm = np.stack(list(signals.values()))
    records = run_host_cli(host_cli, "clip", pcm, tmp_path).reshape(len(pcm), FEATURES.n_frames)
    errors = np.abs(records["mfcc"] - reference(pcm)).max(axis=(1, 2))
    assert dict(zip(signals, errors.tolist())) == pytest.approx(dict.fromkeys(signals, 0.0), abs=TOL_TONE)
    check_quantization_of_own_floats(records)


def test_streaming_equals_whole_clip(host_cli: Path, tmp_path: Path) -> None:
    clip = speech_like_signals()["noise_bursts"]
    whole = run_host_cli(host_cli, "clip", clip, tmp_path)
    # A stream whose second hop completes the clip's first window: frames 1.. are the clip's frames.
    overlap = FEATURES.window_samples - FEATURES.hop_samples
    used = (FEATURES.n_frames + 1) * FEATURES.hop_samples - overlap
    stream_pcm = np.concatenate([np.zeros(overlap, np.int16), clip[:used]])
    streamed = run_host_cli(host_cli, "stream", stream_pcm, tmp_path)
    assert len(streamed) == FEATURES.n_frames + 1
    np.testing.assert_array_equal(streamed[1:]["mfcc"], whole["mfcc"])
    np.testing.assert_array_equal(streamed[1:]["q"], whole["q"])


def test_stream_from_silence_follows_numpy(host_cli: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    pcm = np.clip(np.round(rng.normal(0, 0.2, 2 * FEATURES.clip_samples) * 32767), -32768, 32767).astype(np.int16)
    streamed = run_host_cli(host_cli, "stream", pcm, tmp_path)
    # every frame's window is the 160 samples before its hop plus the hop: numpy on the zero-padded stream
    padded = np.concatenate([np.zeros(FEATURES.window_samples - FEATURES.hop_samples, np.int16), pcm])
    cfg = replace(FEATURES, clip_samples=len(padded))
    ref = reference(padded, cfg)
    assert len(streamed) == len(ref) == len(pcm) // FEATURES.hop_samples
    assert np.abs(streamed["mfcc"] - ref).max() < TOL_REAL
    check_quantization_of_own_floats(streamed)


def test_quantization_rounds_half_away_from_zero_and_clamps(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    render_frontend(out, FEATURES, None, 0.25, -3)
    cli = build_host_cli(out, tmp_path / "cli_plain")
    ties = np.arange(-1200, 1201) * 0.125  # every odd multiple is an exact tie of x / 0.25
    extremes = [0.0, -0.0, 1e30, -1e30, 3.4e38, -3.4e38, 31.37, -32.87, 32.62, 32.63]
    values = np.concatenate([ties, extremes]).astype(np.float32)
    values = np.pad(values, (0, -len(values) % FEATURES.n_mfcc), constant_values=0.375)
    records = run_host_cli(cli, "quantize", values, tmp_path)
    expected = quantize_input(normalise(values.reshape(-1, FEATURES.n_mfcc), None), 0.25, -3)
    np.testing.assert_array_equal(records["q"], expected)
    assert records["q"].min() == -128 and records["q"].max() == 127


def test_normalised_quantization_matches_numpy(host_cli: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = (rng.normal(0, 1, (5000, FEATURES.n_mfcc)) * NORM.std + NORM.mean).astype(np.float32)
    records = run_host_cli(host_cli, "quantize", values, tmp_path)
    check_quantization_of_own_floats(records)


def test_other_feature_configs_follow_numpy(tmp_path: Path) -> None:
    """A 40 ms window and a 1024-point FFT (odd power-of-two FFT: the radix-2 first stage)."""
    cfg = replace(FEATURES, window_samples=640, fft_size=1024, n_mels=32, n_mfcc=13, fmax_hz=7600.0)
    out = tmp_path / "other"
    render_frontend(out, cfg, None, 0.5, 0)
    cli = build_host_cli(out, tmp_path / "cli_other")
    pcm = np.stack(list(speech_like_signals().values()))
    data = run_host_cli(cli, "clip", pcm, tmp_path, np.dtype([("mfcc", "<f4", (13,)), ("q", "i1", (13,))]))
    ref = reference(pcm, cfg).reshape(-1, 13)
    assert len(data) == len(ref) == len(pcm) * cfg.n_frames
    assert np.abs(data["mfcc"] - ref).max() < TOL_REAL
    np.testing.assert_array_equal(data["q"], quantize_input(data["mfcc"], 0.5, 0))


def test_sanitizers_run_clean(rendered: Path, tmp_path: Path) -> None:
    cli = build_host_cli(rendered, tmp_path / "cli_asan", SANITIZE_FLAGS)
    signals = speech_like_signals()
    pcm = np.stack([signals["full_scale_noise"], signals["silence"]])
    records = run_host_cli(cli, "clip", pcm, tmp_path)
    streamed = run_host_cli(cli, "stream", pcm.reshape(-1)[: 10 * FEATURES.hop_samples], tmp_path)
    quantized = run_host_cli(cli, "quantize", np.linspace(-1e3, 1e3, 200, dtype=np.float32), tmp_path)
    assert (len(records), len(streamed), len(quantized)) == (2 * FEATURES.n_frames, 10, 20)


def test_prefix_renames_every_identifier(tmp_path: Path) -> None:
    out = tmp_path / "kws"
    files = render_frontend(out, FEATURES, NORM, INPUT_SCALE, INPUT_ZERO_POINT, prefix="kws")
    assert sorted(p.name for p in files) == [
        "kws_feature_tables.c",
        "kws_feature_tables.h",
        "kws_features.c",
        "kws_features.h",
    ]
    for path in files:
        text = path.read_text()
        assert "tk_" not in text and "TK_" not in text, path.name
    obj = tmp_path / "kws_features.o"
    cmd = ["gcc", *HOST_FLAGS, "-c", f"-I{out}", str(out / "kws_features.c"), "-o", str(obj)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_no_heap_and_only_libm_leaves(rendered: Path, tmp_path: Path) -> None:
    obj = tmp_path / "tk_features.o"
    cmd = ["gcc", *HOST_FLAGS, "-O2", "-c", f"-I{rendered}", str(rendered / "tk_features.c"), "-o", str(obj)]
    subprocess.run(cmd, check=True)
    undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout.split()
    names = {word for word in undefined if word != "U"}
    assert not names & {"malloc", "calloc", "realloc", "free"}
    allowed = {"logf", "sqrtf", "roundf", "fabsf", "memset", "memcpy"}
    assert names - allowed <= {n for n in names if n.startswith("tk_")}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize(
    "cpu",
    [("-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"), ("-mcpu=cortex-m55",)],
    ids=["cortex-m4", "cortex-m55"],
)
def test_cross_compiles_for_cortex_m(cpu: tuple[str, ...], rendered: Path, tmp_path: Path) -> None:
    flags = [*cpu, "-mthumb", "-mfloat-abi=hard", "-std=c99", "-Wall", "-Wextra"]
    for name in ("tk_features.c", "tk_feature_tables.c"):
        cmd = ["arm-none-eabi-gcc", *flags, "-Werror", "-O2", "-c", f"-I{rendered}", str(rendered / name)]
        done = subprocess.run([*cmd, "-o", str(tmp_path / f"{name}.o")], capture_output=True, text=True, check=False)
        assert done.returncode == 0 and done.stderr == "", done.stderr
