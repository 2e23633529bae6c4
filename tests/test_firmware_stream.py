"""Streaming detection in the firmware bundles (`tinykws-app --stream WAV`).

The bundle's detector (app/tk_detector.c: feature provider + model + the C
recognizer) runs over a long stream made of the tone clips and compares with
``tinykws.stream.detect`` on the host, in QEMU Cortex-M4 (and M55) and against the
``tinykws stream`` command. The feature provider starts from silence, so
the bundle's detections on the audio are Python's on the same audio with
``window - hop`` (160) zero samples in front: the same hop indices, and times
10 ms earlier than ``hop_time`` (the app reports the end of the audio a hop
consumed in the file: ``(hop + 1) * hop_samples``).

The run is the tone run with the small classifier of test_firmware.py
(distinct, confident labels), so that detections actually occur, and a
StreamConfig other than the defaults in its config.json (the bundle must
render the run's values): with the classifier's confident scores, a high
threshold and a short refractory time give many detections whose hops depend
on the exact scores (the comparison fails without the 160-sample shift).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from test_firmware import fit_tone_classifier, make, metrics, tone_wavs
from tinykws.audio.io import load_clip, read_wav, write_wav
from tinykws.cli import app
from tinykws.config import StreamConfig, save_config
from tinykws.firmware import make_bundle
from tinykws.toolchain import run_firmware, toolchain_available
from tinykws.run import open_run

M4_OK, M4_WHY = toolchain_available("cortex-m4")
M55_OK, M55_WHY = toolchain_available("cortex-m55")
MIN_DETECTIONS = 4
STREAM = StreamConfig(infer_every_hops=4, average_results=3, threshold=100, min_count=2, refractory_hops=20)
DETECTION_LINE = re.compile(r"^detection label=(\S+) time_ms=(\d+) score=(-?\d+) hop=(\d+)$")


@dataclass(frozen=True)
class Found:
    label: str
    hop: int
    time_ms: int
    score: int


def parse_app(stdout: str) -> list[Found]:
    """The detection lines of `tinykws-app --stream`; the count line must agree."""
    found = [Found(m[1], int(m[4]), int(m[2]), int(m[3]))
             for m in map(DETECTION_LINE.match, stdout.splitlines()) if m]
    assert int(metrics(stdout)["detections"]) == len(found), stdout
    return found


def python_detections(run_dir: Path, audio: np.ndarray, pad: bool = True) -> list[Found]:
    """tinykws.stream.detect on the audio with window - hop zero samples in front, in the app's terms."""
    from tinykws.stream.detect import detect_audio, hop_time, open_engine

    run = open_run(run_dir)
    f = run.config.features
    overlap = f.window_samples - f.hop_samples
    engine, quant = open_engine(run.int8_tflite)
    padded = np.concatenate([np.zeros(overlap if pad else 0, np.float32), np.asarray(audio, np.float32)])
    detections, _ = detect_audio(padded, engine, quant, run.config)
    out = []
    for d in detections:
        time_ms = (d.hop + 1) * f.hop_samples * 1000 // f.sample_rate
        assert time_ms == round(1000 * float(hop_time(d.hop, f))) - overlap * 1000 // f.sample_rate
        out.append(Found(run.config.labels[d.label], d.hop, time_ms, d.score))
    return out


def assert_same_detections(got: list[Found], want: list[Found]) -> None:
    """Label, hop and time exactly; the smoothed score within one step (C and numpy features may
    differ by one int8 step where a value sits at a rounding tie)."""
    assert [(g.label, g.hop, g.time_ms) for g in got] == [(w.label, w.hop, w.time_ms) for w in want]
    assert all(abs(g.score - w.score) <= 1 for g, w in zip(got, want)), (got, want)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stream_run(trained_run: Path, tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tone run with STREAM in its config.json and the small fitted classifier as its int8 model."""
    run_dir = tmp_path_factory.mktemp("stream") / "run"
    shutil.copytree(trained_run, run_dir)
    save_config(open_run(run_dir).config.replace(stream=STREAM), run_dir / "config.json")
    (run_dir / "int8.tflite").write_bytes(fit_tone_classifier(run_dir, tone_data))
    return run_dir


def tone_recording(tone_data: Path, per_label: int, rng: np.random.Generator) -> np.ndarray:
    """``per_label`` clips of every label in a shuffled order, 0.25-1 s of a _silence_ clip after each."""
    clips = tone_wavs(tone_data, per_label=per_label)
    silence = [load_clip(p) for p in sorted((tone_data / "_silence_").glob("*.wav"))]
    parts = []
    for i in rng.permutation(len(clips)):
        gap = silence[int(rng.integers(len(silence)))][:int(rng.integers(4000, 16000))]
        parts += [load_clip(clips[i]), gap]
    return np.concatenate(parts).astype(np.float32)


@pytest.fixture(scope="module")
def tone_stream(tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """~40 s: two clips of every label in a shuffled order, 0.25-1 s of a _silence_ clip after each."""
    audio = tone_recording(tone_data, 2, np.random.default_rng(5))
    path = tmp_path_factory.mktemp("stream_wav") / "long.wav"
    write_wav(path, audio)
    return path, read_wav(path)[0]  # what the file holds (int16-rounded)


@pytest.fixture(scope="module")
def expected(stream_run: Path, tone_stream: tuple[Path, np.ndarray]) -> list[Found]:
    found = python_detections(stream_run, tone_stream[1])
    assert len(found) >= MIN_DETECTIONS, found
    assert len({f.label for f in found}) >= 2, found
    assert python_detections(stream_run, tone_stream[1], pad=False) != found  # the shift matters here
    return found


@pytest.fixture(scope="module")
def stream_host_bundle(stream_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = make_bundle(stream_run, "host", tmp_path_factory.mktemp("host") / "bundle", golden_count=1)
    built = make(bundle.path)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr.lower(), built.stderr
    return bundle.path


def run_app(exe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, check=False)


# ---------------------------------------------------------------- host


def test_bundle_carries_the_recognizer_and_the_run_stream_config(stream_host_bundle: Path, stream_run: Path) -> None:
    cfg = open_run(stream_run).config.stream
    assert cfg == STREAM != StreamConfig()
    header = (stream_host_bundle / "recognizer" / "tk_recognizer_config.h").read_text()
    assert f"#define TK_RECOGNIZER_THRESHOLD ({cfg.threshold})" in header
    assert f"#define TK_RECOGNIZER_INFER_EVERY_HOPS {cfg.infer_every_hops}" in header
    for name in ("recognizer/tk_recognizer.c", "recognizer/tk_recognizer_config.c", "app/tk_detector.h"):
        assert (stream_host_bundle / name).is_file(), name
    assert "recognizer/tk_recognizer.c" in (stream_host_bundle / "Makefile").read_text()
    readme = (stream_host_bundle / "README.md").read_text()
    assert "./tinykws-app --stream long.wav" in readme and "tk_detector_push" in readme


def test_host_stream_mode_equals_python(stream_host_bundle: Path, tone_stream: tuple[Path, np.ndarray],
                                        expected: list[Found]) -> None:
    path, audio = tone_stream
    done = run_app(stream_host_bundle / "tinykws-app", "--stream", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_same_detections(parse_app(done.stdout), expected)
    m = metrics(done.stdout)
    assert int(m["hops"]) == len(audio) // 320 and "instructions_per_second_of_audio" not in m
    assert done.stdout.rstrip().splitlines()[-1] == f"detections={len(expected)}"


def test_tinykws_stream_command_agrees_with_the_host_app(stream_host_bundle: Path, stream_run: Path,
                                                         tone_stream: tuple[Path, np.ndarray],
                                                         tmp_path: Path) -> None:
    """`tinykws stream` on the file with 160 zeros in front = the app on the file, 10 ms later."""
    path, audio = tone_stream
    padded = tmp_path / "padded.wav"
    write_wav(padded, np.concatenate([np.zeros(160, np.float32), audio]))
    result = CliRunner().invoke(app, ["stream", str(stream_run), str(padded)])
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\s*(\d+\.\d\d) s\s+(\S+)\s+score [\d.]+ \(int8 (-?\d+)\)$", result.output, re.MULTILINE)
    cli = [(label, round(float(t) * 1000) - 10, int(score)) for t, label, score in rows]
    done = run_app(stream_host_bundle / "tinykws-app", "--stream", str(path))
    found = parse_app(done.stdout)
    assert len(cli) >= MIN_DETECTIONS and f"{len(cli)} detection(s) in" in result.output
    assert [(f.label, f.time_ms) for f in found] == [(c[0], c[1]) for c in cli]
    assert all(abs(f.score - c[2]) <= 1 for f, c in zip(found, cli))


def sanitized_stream_detections(host_bundle: Path, wav: Path, tmp_path: Path) -> list[Found]:
    """`--stream wav` of a copy of the host bundle built with ASan and UBSan, which must stay silent."""
    copy = tmp_path / "asan"
    shutil.copytree(host_bundle, copy, ignore=shutil.ignore_patterns("tinykws-app*"))
    built = make(copy, "tinykws-app-sanitized")
    assert built.returncode == 0, built.stderr[-3000:]
    done = run_app(copy / "tinykws-app-sanitized", "--stream", str(wav))
    assert done.returncode == 0 and "runtime error" not in done.stderr, done.stderr[-3000:]
    return parse_app(done.stdout)


def test_host_stream_mode_clean_under_sanitizers(stream_host_bundle: Path, tone_stream: tuple[Path, np.ndarray],
                                                 expected: list[Found], tmp_path: Path) -> None:
    assert_same_detections(sanitized_stream_detections(stream_host_bundle, tone_stream[0], tmp_path), expected)


@pytest.mark.parametrize(("samples", "hops"), [(319, 0), (15999, 49), (16320, 51)])
def test_host_stream_mode_on_short_streams(stream_host_bundle: Path, stream_run: Path, tmp_path: Path,
                                           samples: int, hops: int) -> None:
    """Only whole hops are processed; no inference before the window is full; silence fires nothing."""
    path = tmp_path / "short.wav"
    write_wav(path, np.zeros(samples, np.float32))
    done = run_app(stream_host_bundle / "tinykws-app", "--stream", str(path))
    assert done.returncode == 0, done.stderr
    m = metrics(done.stdout)
    every = open_run(stream_run).config.stream.infer_every_hops
    assert int(m["hops"]) == hops and int(m["inferences"]) == (0 if hops < 49 else 1 + (hops - 49) // every)
    assert m["detections"] == "0"


def test_host_stream_mode_refuses_an_empty_data_chunk_as_read_wav_does(stream_host_bundle: Path,
                                                                       tmp_path: Path) -> None:
    from tinykws.audio.io import read_wav
    from tinykws.errors import AudioError

    path = tmp_path / "empty.wav"
    write_wav(path, np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="empty"):
        read_wav(path)
    done = run_app(stream_host_bundle / "tinykws-app", "--stream", str(path))
    assert done.returncode == 2 and str(path) in done.stderr, done.stderr


def test_host_stream_mode_refuses_other_audio(stream_host_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "text.wav").write_text("not audio")
    for path, message in ((tmp_path / "text.wav", "not a RIFF/WAVE"), (tmp_path / "none.wav", "cannot open")):
        done = run_app(stream_host_bundle / "tinykws-app", "--stream", str(path))
        assert done.returncode == 2 and str(path) in done.stderr and message in done.stderr, done.stderr
    assert run_app(stream_host_bundle / "tinykws-app", "--stream").returncode == 2  # no file: the usage


# ---------------------------------------------------------------- QEMU


def qemu_stream(stream_run: Path, target: str, wav: Path, tmp_path: Path) -> tuple[str, Path]:
    bundle = make_bundle(stream_run, target, tmp_path / target, golden_count=1)
    built = make(bundle.path)
    assert built.returncode == 0, built.stderr
    shutil.copy(wav, bundle.path / "long.wav")
    done = make(bundle.path, "run", "ARGS=--stream long.wav", timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, bundle.path


@pytest.mark.qemu
@pytest.mark.skipif(not M4_OK, reason=M4_WHY)
def test_cortex_m4_stream_mode_equals_python(stream_run: Path, tone_stream: tuple[Path, np.ndarray],
                                             expected: list[Found], tmp_path: Path) -> None:
    stdout, bundle = qemu_stream(stream_run, "cortex-m4", tone_stream[0], tmp_path)
    assert_same_detections(parse_app(stdout), expected)
    m = {k: int(v) for k, v in metrics(stdout).items()}
    seconds = m["hops"] * 320 / 16000
    # the counter's total agrees with the --bench figures: a frame every hop, the model on the schedule
    bench = run_firmware(bundle / "tinykws-app.elf", ["--bench"], timeout=120).metrics()
    predicted = (m["hops"] * bench["instructions_per_frame"]
                 + m["inferences"] * bench["instructions_per_inference"]) / seconds
    assert 0.97 * predicted < m["instructions_per_second_of_audio"] < 1.05 * predicted, (m, bench)


@pytest.mark.qemu
@pytest.mark.skipif(not M55_OK, reason=M55_WHY)
def test_cortex_m55_stream_mode_equals_python(stream_run: Path, tone_stream: tuple[Path, np.ndarray],
                                              expected: list[Found], tmp_path: Path) -> None:
    stdout, _ = qemu_stream(stream_run, "cortex-m55", tone_stream[0], tmp_path)
    assert_same_detections(parse_app(stdout), expected)
    assert int(metrics(stdout)["instructions_per_second_of_audio"]) > 0

