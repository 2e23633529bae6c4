"""Firmware bundles (`tinykws firmware`): rendered, built and run end to end.

The host bundle is built with the bundle's own Makefile (cc, -std=c99 -Wall
-Wextra -Werror -pedantic) and its self-test and WAV classifier are run; the
cortex-m4 bundle is built with arm-none-eabi-gcc and run in QEMU (`make run`).
The self-test compares the C front end with numpy (tinykws.audio.mfcc) and the C
engine with the TFLite Micro Python runtime; here its verdict is also checked
against an independent Python pipeline (audio/mfcc.py + LiteRT / TFLite Micro).

Most tests use a "lively" copy of the session's trained run: the tone run's
config with a small conv + dense classifier fitted in seconds on the tone
clips as int8.tflite, because the 3-epoch tone model gives the same score to
every label, which would make label and output checks trivial.
"""

from __future__ import annotations

import filecmp
import io
import json
import shutil
import subprocess
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinykws.audio.io import load_clip, to_int16, write_wav
from tinykws.cli import app
from tinykws.audio.mfcc import mfcc, normalise, quantize_input
from tinykws.firmware import TARGETS, make_bundle
from tinykws.firmware.golden import FEATURE_TOLERANCE, tie_neighbours
from tinykws.toolchain import toolchain_available
from tinykws.run import open_run

M4_OK, M4_WHY = toolchain_available("cortex-m4")
M55_OK, M55_WHY = toolchain_available("cortex-m55")
HAVE_CROSS_GCC = shutil.which("arm-none-eabi-gcc") is not None
needs_m4 = pytest.mark.skipif(not M4_OK, reason=M4_WHY)


# ---------------------------------------------------------------- helpers


def make(bundle: Path, *targets: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(bundle), *targets], capture_output=True, text=True, timeout=timeout,
                          check=False)


def metrics(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and " " not in line)


def tone_wavs(tone_data: Path, per_label: int = 1) -> list[Path]:
    return [p for d in sorted(tone_data.iterdir()) if d.is_dir() for p in sorted(d.glob("*.wav"))[:per_label]]


def python_int8(run_dir: Path, audio: np.ndarray, engine: str = "tflm") -> np.ndarray:
    """The Python pipeline: audio/mfcc.py, normalise, quantize_input, then TFLite Micro or LiteRT."""
    from tinykws.verify.engines import LiteRTEngine, TFLMEngine, read_model_bytes

    run = open_run(run_dir)
    model = read_model_bytes(run.int8_tflite)
    ref = LiteRTEngine(model)
    x = normalise(mfcc(audio, run.config.features), run.config.normalisation)
    q = quantize_input(x, ref.input.scale, ref.input.zero_point)[..., None]
    runner = TFLMEngine(model) if engine == "tflm" else ref
    return runner.run(q).reshape(len(audio), -1)


def assert_self_test_passed(stdout: str, clips: int) -> dict[str, str]:
    m = metrics(stdout)
    assert m["self_test"] == "pass", stdout
    assert int(m["golden_clips"]) == clips
    assert int(m["outputs_identical"]) == clips and int(m["labels_identical"]) == clips, stdout
    assert int(m["inputs_wrong"]) == 0, stdout
    assert int(m["max_feature_error_e6"]) <= int(FEATURE_TOLERANCE * 1e6), stdout
    return m


# ---------------------------------------------------------------- fixtures


def fit_tone_classifier(run_dir: Path, tone_data: Path, hidden_layers=None) -> bytes:
    """A small conv + dense net fitted in seconds on the tone clips, as int8 .tflite (distinct labels);
    ``hidden_layers(keras, inputs)`` replaces its two SAME convolutions (e.g. layers VALID in time)."""
    from codegen_models import _keras, to_int8_tflite

    run = open_run(run_dir)
    paths = [(i, p) for i, label in enumerate(run.config.labels) for p in sorted((tone_data / label).glob("*.wav"))]
    audio = np.stack([load_clip(p) for _, p in paths])
    x = normalise(mfcc(audio, run.config.features), run.config.normalisation)[..., None]
    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((49, 10, 1))
    if hidden_layers is not None:
        hidden = hidden_layers(keras, inputs)
    else:
        hidden = keras.layers.Conv2D(16, (10, 4), strides=(2, 2), padding="same", activation="relu")(inputs)
        hidden = keras.layers.Conv2D(16, (3, 3), padding="same", activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(12)(keras.layers.GlobalAveragePooling2D()(hidden)))
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, np.array([i for i, _ in paths]), epochs=30, batch_size=32, verbose=0)
    return to_int8_tflite(model, (49, 10, 1), seed=0)


@pytest.fixture(scope="module")
def lively_run(trained_run: Path, tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained tone run with a classifier that gives the tone clips distinct labels as its int8 model."""
    run_dir = tmp_path_factory.mktemp("lively") / "run"
    shutil.copytree(trained_run, run_dir)
    (run_dir / "int8.tflite").write_bytes(fit_tone_classifier(run_dir, tone_data))
    return run_dir


@pytest.fixture(scope="module")
def host_bundle(lively_run: Path, tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("host") / "bundle"
    result = CliRunner().invoke(app, ["firmware", str(lively_run), "--target", "host", "--out", str(out),
                                      "--golden-dir", str(tone_data), "--golden-count", "12"])
    assert result.exit_code == 0, result.output
    built = make(out)
    assert built.returncode == 0, built.stderr
    assert "warning" not in built.stderr.lower(), built.stderr
    return out


# ---------------------------------------------------------------- host


def test_host_bundle_layout_and_readme(host_bundle: Path) -> None:
    for name in ("Makefile", "CMakeLists.txt", "README.md", "bundle.json", "model/tinykws.h", "model/tkw_kernels.h",
                 "features/tk_features.h", "app/tk_golden.h", "app/tk_app.h", "tflite/model_data.c",
                 "tflite/model_settings.h", "platform/tk_platform.h", "app/tk_detector.h",
                 "recognizer/tk_recognizer.h", "recognizer/tk_recognizer_config.h"):
        assert (host_bundle / name).is_file(), name
    info = json.loads((host_bundle / "bundle.json").read_text())
    assert info["target"] == "host" and len(info["golden"]) == 12
    assert [g["name"].split("_spk")[0] for g in info["golden"]] == list(info["labels"])  # one clip per label
    readme = (host_bundle / "README.md").read_text()
    arena = info["memory"]["C engine arena (all activations)"]
    assert f"{arena:,}" in readme and "./tinykws-app --self-test" in readme
    assert "./tinykws-app --stream long.wav" in readme
    assert set(info["stream"]) == {"infer_every_hops", "average_results", "threshold", "min_count",
                                   "refractory_hops"}


def test_host_self_test_passes(host_bundle: Path) -> None:
    done = subprocess.run([str(host_bundle / "tinykws-app"), "--self-test"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    m = assert_self_test_passed(done.stdout, 12)
    labels = {line.split("label=")[1].split()[0] for line in done.stdout.splitlines() if " label=" in line}
    assert len(labels) > 1, "the lively model should not give one label to every clip"
    assert int(m["inputs_off_by_one"]) <= 12 * 490 // 1000  # ties are rare


def c_array(text: str, name: str) -> np.ndarray:
    """The rows of a generated ``const int8_t name[A][B] = {{...}, ...};`` (comments dropped)."""
    import re

    block = text.split(f"{name}[")[1].split("= {", 1)[1].split("};")[0]
    block = re.sub(r"/\*.*?\*/", "", block, flags=re.S)
    return np.array([[int(v) for v in row.replace(",", " ").split()] for row in re.findall(r"\{([^{}]*)\}", block)])


def test_golden_vectors_match_independent_references(host_bundle: Path, lively_run: Path, tone_data: Path) -> None:
    """Not the path that made them (numpy MFCC + TFLite Micro): tf.signal features, quantized here, are the
    golden inputs within one LSB, and LiteRT's reference kernels map the golden inputs to the golden outputs
    within one LSB (the same top class)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from test_features import tf_mfcc

    text = (host_bundle / "app" / "tk_golden.c").read_text()
    inputs, outputs = c_array(text, "tk_golden_input"), c_array(text, "tk_golden_output")
    run = open_run(lively_run)
    it = Interpreter(model_content=run.int8_tflite.read_bytes(),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    for x, want in zip(inputs, outputs):  # LiteRT's reference kernels and TFLite Micro may differ by one LSB
        it.set_tensor(inp["index"], x.astype(np.int8).reshape(inp["shape"]))
        it.invoke()
        got = it.get_tensor(out["index"]).reshape(-1).astype(int)
        assert np.abs(got - want).max() <= 1 and want[np.argmax(got)] >= want.max() - 1, (got, want)
    labels = run.config.labels  # one clip per label, in the model's label order
    audio = np.stack([load_clip(sorted((tone_data / label).glob("*.wav"))[0]) for label in labels])
    norm = run.config.normalisation
    x = (tf_mfcc(audio, run.config.features) - np.array(norm.mean)) / np.array(norm.std)
    scale, zero_point = inp["quantization"]
    q = np.clip(np.sign(x / scale) * np.floor(np.abs(x / scale) + 0.5) + zero_point, -128, 127)
    assert np.abs(q.reshape(len(audio), -1) - inputs).max() <= 1


def test_host_app_classifies_wav_files_like_python(host_bundle: Path, lively_run: Path, tone_data: Path) -> None:
    wavs = tone_wavs(tone_data, per_label=2)
    labels = open_run(lively_run).config.labels
    expected = python_int8(lively_run, np.stack([load_clip(p) for p in wavs]), "int8").argmax(axis=1)
    for wav, want in zip(wavs, expected):
        done = subprocess.run([str(host_bundle / "tinykws-app"), str(wav)], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{wav}: {labels[want]} ("), done.stdout


def test_host_batch_mode_is_the_python_pipeline(host_bundle: Path, lively_run: Path, tone_data: Path,
                                                tmp_path: Path) -> None:
    audio = np.stack([load_clip(p) for p in tone_wavs(tone_data, per_label=3)])
    to_int16(audio).astype("<i2").tofile(tmp_path / "pcm.bin")
    done = subprocess.run([str(host_bundle / "tinykws-app"), "--batch", "pcm.bin", "out.bin"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and metrics(done.stdout)["clips"] == str(len(audio)), done.stdout + done.stderr
    got = np.fromfile(tmp_path / "out.bin", np.int8).reshape(len(audio), -1)
    want = python_int8(lively_run, audio, "tflm")
    assert np.mean(np.all(got == want, axis=1)) >= 0.95  # C features differ from numpy only at rounding ties
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def _wav(path: Path, channels: int = 1, rate: int = 16000, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x00" * (width * channels * 1600))
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("stereo", "2 channels"), ("rate", "sample rate 8000 Hz"), ("8bit", "8 bits"), ("text", "not a RIFF/WAVE"),
    ("missing", "cannot open"),
])
def test_host_app_refuses_other_audio_clearly(host_bundle: Path, tmp_path: Path, kind: str, message: str) -> None:
    path = tmp_path / f"{kind}.wav"
    if kind == "stereo":
        _wav(path, channels=2)
    elif kind == "rate":
        _wav(path, rate=8000)
    elif kind == "8bit":
        _wav(path, width=1)
    elif kind == "text":
        path.write_text("not audio")
    done = subprocess.run([str(host_bundle / "tinykws-app"), str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert str(path) in done.stderr and message in done.stderr, done.stderr


def test_short_and_long_wavs_are_padded_or_cropped(host_bundle: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for n in (4000, 24000):
        write_wav(tmp_path / f"{n}.wav", 0.1 * rng.standard_normal(n))
        done = subprocess.run([str(host_bundle / "tinykws-app"), str(tmp_path / f"{n}.wav")], capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_self_test_fails_on_a_wrong_golden_output(host_bundle: Path, tmp_path: Path) -> None:
    """The verdict is real: one changed expected output makes the self-test fail with exit 1."""
    broken = tmp_path / "broken"
    shutil.copytree(host_bundle, broken, ignore=shutil.ignore_patterns("tinykws-app*"))
    golden = broken / "app" / "tk_golden.c"
    head, rest = golden.read_text().split("tk_golden_output[TK_GOLDEN_CLIPS][TK_MODEL_OUTPUT_SIZE] = {\n    { ")
    first, tail = rest.split(",", 1)
    golden.write_text(head + "tk_golden_output[TK_GOLDEN_CLIPS][TK_MODEL_OUTPUT_SIZE] = {\n    { "
                      + str(int(first) ^ 1) + "," + tail)
    assert make(broken).returncode == 0
    done = subprocess.run([str(broken / "tinykws-app"), "--self-test"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "outputs=DIFFERENT" in done.stdout and "self_test=fail" in done.stdout


def test_host_bundle_runs_clean_under_sanitizers(host_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "asan"
    shutil.copytree(host_bundle, copy, ignore=shutil.ignore_patterns("tinykws-app*"))
    done = make(copy, "sanitize")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "self_test=pass" in done.stdout and "runtime error" not in done.stderr


PROVIDER_DRIVER = r"""
#include <stdio.h>
#include "tk_app.h"
static int16_t pcm[TK_FEATURES_CLIP_SAMPLES];
static int8_t window[TK_APP_WINDOW_BYTES];
static tk_feature_provider_t provider;
int main(int argc, char **argv)
{
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    int hop, ready = 0;
    (void)argc;
    if (in == NULL || out == NULL || fread(pcm, 2, TK_FEATURES_CLIP_SAMPLES, in) != TK_FEATURES_CLIP_SAMPLES) {
        return 2;
    }
    tk_feature_provider_init(&provider, window);
    for (hop = 0; hop < TK_FEATURES_CLIP_SAMPLES / TK_FEATURES_HOP_SAMPLES; ++hop) {
        ready = tk_feature_provider_push(&provider, pcm + hop * TK_FEATURES_HOP_SAMPLES);
        if (hop + 1 < TK_FEATURES_N_FRAMES && ready != 0) {
            return 3;
        }
    }
    fwrite(window, 1, sizeof window, out);
    fclose(in);
    fclose(out);
    return ready == 1 ? 0 : 4;
}
"""


def test_feature_provider_streams_like_numpy(host_bundle: Path, lively_run: Path, tone_data: Path,
                                             tmp_path: Path) -> None:
    """Hop by hop from silence, the caller's window holds numpy's frames of the stream.

    Push k yields the window of samples [320 k - 160, 320 k + 320): after 50 hops
    the window is frames 1..49, i.e. numpy's frames of the clip delayed by 160
    samples of silence."""
    run = open_run(lively_run)
    sources = [str(p) for d in ("model", "features", "app", "recognizer")
               for p in sorted((host_bundle / d).glob("*.c")) if p.name != "main.c"]
    (tmp_path / "driver.c").write_text(PROVIDER_DRIVER)
    exe = tmp_path / "driver"
    done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2",
                           *[f"-I{host_bundle / d}" for d in ("model", "features", "app", "recognizer", "platform")],
                           *sources, str(tmp_path / "driver.c"), "-lm", "-o", str(exe)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    clip = load_clip(sorted((tone_data / "yes").glob("*.wav"))[0])
    to_int16(clip).astype("<i2").tofile(tmp_path / "pcm.bin")
    done = subprocess.run([str(exe), str(tmp_path / "pcm.bin"), str(tmp_path / "window.bin")], check=False)
    assert done.returncode == 0
    got = np.fromfile(tmp_path / "window.bin", np.int8).reshape(49, 10)
    delayed = np.concatenate([np.zeros(160), to_int16(clip) / 32768.0, np.zeros(160)])[320:]
    from tinykws.verify.engines import LiteRTEngine, read_model_bytes

    ref = LiteRTEngine(read_model_bytes(run.int8_tflite))
    want = quantize_input(normalise(mfcc(delayed, run.config.features), run.config.normalisation),
                          ref.input.scale, ref.input.zero_point)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert np.mean(got == want) > 0.99


def test_tie_neighbours_only_near_a_tie(lively_run: Path) -> None:
    run = open_run(lively_run)
    scale, zp = 0.5, 3
    std = np.asarray(run.config.normalisation.std, np.float64)
    mean = np.asarray(run.config.normalisation.mean, np.float64)
    q = np.array([[2.5, 2.2, -1.5, 300.0, 1.0, 0.0, 0.49999, 7.0, -7.5, 2.0]])
    mfcc_values = (q * scale * std + mean).astype(np.float32)
    alt = tie_neighbours(mfcc_values, run.config, scale, zp, 1e-6)
    nominal = quantize_input(normalise(mfcc_values, run.config.normalisation), scale, zp)
    differs = (alt != nominal)[0].tolist()
    assert differs == [True, False, True, False, False, False, True, False, True, False]
    assert np.all(np.abs(alt.astype(int) - nominal.astype(int)) <= 1)


# ---------------------------------------------------------------- bad input, determinism


def test_unknown_target_is_exit_2_and_writes_nothing(lively_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "fw"
    result = CliRunner().invoke(app, ["firmware", str(lively_run), "--target", "esp32", "--out", str(out)])
    assert result.exit_code == 2
    assert "unknown target 'esp32'" in result.output and "cortex-m4" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_run_without_int8_model_is_exit_2_and_keeps_the_old_bundle(lively_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(lively_run, run_dir)
    (run_dir / "int8.tflite").unlink()
    out = tmp_path / "fw"
    out.mkdir()
    (out / "bundle.json").write_text("{}")  # a previous bundle
    result = CliRunner().invoke(app, ["firmware", str(run_dir), "--target", "host", "--out", str(out)])
    assert result.exit_code == 2
    assert "int8.tflite" in result.output and "tinykws export" in result.output
    assert [p.name for p in out.iterdir()] == ["bundle.json"]  # untouched, nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fw", "run"]  # no temporary siblings left


def test_bad_golden_dir_is_exit_2(lively_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["firmware", str(lively_run), "--target", "host", "--out",
                                      str(tmp_path / "fw"), "--golden-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "nope" in result.output
    assert not (tmp_path / "fw").exists()


def test_too_many_golden_clips_for_the_m55_code_memory_is_exit_2(lively_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["firmware", str(lively_run), "--target", "cortex-m55", "--out",
                                      str(tmp_path / "fw"), "--golden-count", "20"])
    assert result.exit_code == 2 and "do not fit the 512 KB code memory" in result.output
    assert not (tmp_path / "fw").exists()


def test_out_must_not_replace_the_run_or_foreign_files(lively_run: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["firmware", str(lively_run), "--target", "host", "--out", str(lively_run)])
    assert result.exit_code == 2 and "would replace the run directory" in result.output
    assert (lively_run / "int8.tflite").is_file()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["firmware", str(lively_run), "--target", "host", "--out", str(foreign)])
    assert result.exit_code == 2 and "not a tinykws bundle" in result.output
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    first = runner.invoke(app, ["firmware", str(lively_run), "--target", "host", "--out", str(tmp_path / "fw")])
    again = runner.invoke(app, ["firmware", str(lively_run), "--target", "host", "--out", str(tmp_path / "fw")])
    assert first.exit_code == 0 and again.exit_code == 0  # an old bundle is replaced


@pytest.mark.parametrize("target", ["host", "arduino"])
def test_bundles_are_deterministic(lively_run: Path, tmp_path: Path, target: str) -> None:
    a = make_bundle(lively_run, target, tmp_path / "a")
    b = make_bundle(lively_run, target, tmp_path / "b")
    assert a.files == b.files
    _, mismatch, errors = filecmp.cmpfiles(a.path, b.path, list(a.files), shallow=False)
    assert mismatch == [] and errors == []


# ---------------------------------------------------------------- cortex-m4 in QEMU


@pytest.mark.qemu
@needs_m4
def test_cortex_m4_bundle_make_run_passes_in_qemu(lively_run: Path, tone_data: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "cortex-m4", tmp_path / "m4", golden_dir=tone_data, golden_count=4)
    built = make(bundle.path)
    assert built.returncode == 0, built.stderr
    assert "tinykws-app.elf" in built.stdout and "text" in built.stdout  # arm-none-eabi-size ran
    done = make(bundle.path, "run", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    m = assert_self_test_passed(done.stdout, 4)
    assert 10_000 < int(m["instructions_per_frame"]) < 60_000
    assert int(m["instructions_per_inference"]) > 100_000
    assert 256 < int(m["stack_used_bytes"]) < 16_384  # painted high-water mark
    assert [line for line in done.stdout.splitlines() if "=" in line][-1] == "self_test=pass"  # the last word
    assert list((bundle.path / "build" / "app").glob("*.su")), "-fstack-usage output missing"


@pytest.mark.qemu
@needs_m4
def test_cortex_m4_self_test_failure_is_the_exit_status(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "cortex-m4", tmp_path / "m4", golden_count=1)
    golden = bundle.path / "app" / "tk_golden.c"
    text = golden.read_text()
    marker = "tk_golden_label[TK_GOLDEN_CLIPS] = {\n    "
    head, tail = text.split(marker)
    label = int(tail.split(" ")[0])
    golden.write_text(head + marker + str((label + 1) % 12) + tail[len(str(label)):])
    assert make(bundle.path).returncode == 0
    done = make(bundle.path, "run", timeout=120)
    assert done.returncode != 0 and "self_test=fail" in done.stdout


@pytest.mark.qemu
@pytest.mark.skipif(not M55_OK, reason=M55_WHY)
def test_cortex_m55_bundle_make_run_passes_in_qemu(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "cortex-m55", tmp_path / "m55", golden_count=2)
    assert make(bundle.path).returncode == 0
    done = make(bundle.path, "run", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    m = assert_self_test_passed(done.stdout, 2)
    assert int(m["instructions_per_inference"]) > 100_000


@pytest.mark.qemu
@needs_m4
def test_qemu_engine_agrees_with_the_python_int8_pipeline(lively_run: Path, tone_data: Path) -> None:
    from tinykws.verify.qemu_engine import QemuEngine

    audio = np.stack([load_clip(p) for p in tone_wavs(tone_data, per_label=2)])
    engine = QemuEngine(open_run(lively_run))
    try:
        got = engine.run_pcm(audio)
    finally:
        engine.close()
    want = python_int8(lively_run, audio, "tflm")
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
    assert np.mean(np.all(got == want, axis=1)) >= 0.95


@pytest.mark.qemu
@needs_m4
def test_check_runs_the_qemu_engine(lively_run: Path, tone_data: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "check.json"
    result = CliRunner().invoke(app, ["check", str(lively_run), "--data-dir", str(tone_data), "--engines",
                                      "int8,tflm,qemu", "--json", str(report_path)])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(report_path.read_text())
    assert "qemu" in report["engines"] and "qemu_vs_tflm" not in report.get("bitexact", {})
    agreement = report["pcm_agreement"]
    assert agreement["qemu_vs_int8"]["top1_agreement"] >= 0.95
    assert agreement["qemu_vs_tflm"]["identical_outputs"] >= 0.9
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- tflm and arduino

TFLM_STUBS = {
    "tensorflow/lite/c/common.h": """
#pragma once
#include <cstddef>
#include <cstdint>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteNoType = 0, kTfLiteInt8 = 9 } TfLiteType;
typedef union { int8_t *int8; float *f; } TfLitePtrUnion;
typedef struct { TfLiteType type; TfLitePtrUnion data; size_t bytes; } TfLiteTensor;
""",
    "tensorflow/lite/schema/schema_generated.h": """
#pragma once
#include <cstdint>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model { uint32_t version() const; };
const Model *GetModel(const void *buffer);
}
""",
    "tensorflow/lite/micro/system_setup.h": "#pragma once\nnamespace tflite { void InitializeTarget(); }\n",
    "tensorflow/lite/micro/micro_interpreter.h": """
#pragma once
#include <cstddef>
#include <cstdint>
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
namespace tflite {
class MicroInterpreter {
 public:
  MicroInterpreter(const Model *model, const MicroOpResolver &resolver, uint8_t *arena, size_t arena_size);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor *input(size_t index);
  TfLiteTensor *output(size_t index);
  size_t arena_used_bytes() const;
};
}
""",
}
# The MicroMutableOpResolver<N> methods of TFLite Micro (micro_mutable_op_resolver.h), by hand.
TFLM_RESOLVER_API = ("AddAdd AddAveragePool2D AddConcatenation AddConv2D AddDepthwiseConv2D AddDequantize "
                     "AddFullyConnected AddHardSwish AddLogistic AddMaxPool2D AddMean AddMul AddPad AddQuantize "
                     "AddRelu AddRelu6 AddReshape AddSoftmax AddSqueeze AddStridedSlice").split()


def write_tflm_stubs(root: Path) -> Path:
    for name, text in TFLM_STUBS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    methods = "\n".join(f"  TfLiteStatus {m}();" for m in TFLM_RESOLVER_API)
    (root / "tensorflow/lite/micro/micro_mutable_op_resolver.h").write_text(
        "#pragma once\n#include \"tensorflow/lite/c/common.h\"\nnamespace tflite {\nclass MicroOpResolver {};\n"
        f"template <unsigned int N>\nclass MicroMutableOpResolver : public MicroOpResolver {{\n public:\n{methods}\n}};\n}}\n")
    return root


def tflm_method(op: str) -> str:
    """TFLite Micro's naming rule for MicroMutableOpResolver: CONV_2D -> AddConv2D, RELU6 -> AddRelu6."""
    return "Add" + "".join(p.upper() if p[0].isdigit() else p.capitalize() for p in op.split("_"))


def litert_ops(path: Path) -> set[str]:
    """The operators of a .tflite as LiteRT lists them (not our flatbuffer reader)."""
    from ai_edge_litert.interpreter import Interpreter

    return {d["op_name"] for d in Interpreter(model_path=str(path))._get_ops_details()}


def tflm_runs_in(model: bytes, arena: int) -> None:
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(model, arena_size=arena)
    it.set_input(np.zeros(it.get_input_details(0)["shape"], np.int8), 0)
    it.invoke()


def test_tflm_bundle_compiles_against_stub_headers(lively_run: Path, tmp_path: Path) -> None:
    from tinykws.verify.engines import read_model_bytes, tflm_arena_bytes
    from tinykws.export.tflite_info import read_model_info

    bundle = make_bundle(lively_run, "tflm", tmp_path / "tflm", golden_count=1)
    main = (bundle.path / "main.cc").read_text()
    ops = read_model_info(read_model_bytes(lively_run / "int8.tflite"), "m").ops
    assert f"constexpr int kOperatorCount = {len(ops)};" in main
    assert sorted(line.split("resolver.")[1].split("(")[0] for line in main.splitlines() if "resolver.Add" in line) \
        == sorted(tflm_method(name) for name in litert_ops(lively_run / "int8.tflite"))
    arena = int(main.split("constexpr size_t kArenaBytes = ")[1].split(";")[0])
    model = read_model_bytes(lively_run / "int8.tflite")
    tflm_runs_in(model, arena)  # enough: TFLite Micro itself allocates and invokes in that arena
    assert arena <= 1.5 * tflm_arena_bytes(model) + 4096  # and not wasteful
    stubs = write_tflm_stubs(tmp_path / "stubs")
    includes = [f"-I{bundle.path / d}" for d in ("features", "app", "recognizer", "tflite", "platform")]
    done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", f"-I{stubs}",
                           *includes, str(bundle.path / "main.cc")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    c_sources = sorted(str(p) for d in ("features", "app", "recognizer", "tflite")
                       for p in (bundle.path / d).glob("*.c"))
    done = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                           "-DTK_APP_MAIN=tk_app_main", *includes, *c_sources], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "make TFLM_DIR=" in (bundle.path / "README.md").read_text()


def test_tflm_makefile_asks_for_tflm_dir(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "tflm", tmp_path / "tflm", golden_count=1)
    done = make(bundle.path)
    assert done.returncode != 0 and "TFLM_DIR" in done.stderr


def test_arduino_library_zip_layout(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "arduino", tmp_path / "arduino", golden_count=1)
    lib = "TinyKWSModel"
    archive = zipfile.ZipFile(io.BytesIO((bundle.path / f"{lib}.zip").read_bytes()))
    names = archive.namelist()
    assert names == sorted(names)
    assert {f"{lib}/library.properties", f"{lib}/src/{lib}.h", f"{lib}/src/tinykws.h", f"{lib}/src/tk_features.h",
            f"{lib}/src/tk_detector.h", f"{lib}/src/tk_recognizer.h", f"{lib}/src/tk_recognizer_config.h",
            f"{lib}/examples/KeywordSpotting/KeywordSpotting.ino"} <= set(names)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in archive.infolist())
    lowered = [n.lower() for n in names]
    assert len(lowered) == len(set(lowered)), "file names collide on case-insensitive file systems"
    for name in names:  # the zip is the library folder of the bundle, byte for byte
        assert archive.read(name) == (bundle.path / name).read_bytes()
    props = dict(line.split("=", 1) for line in archive.read(f"{lib}/library.properties").decode().splitlines())
    assert props["name"] == lib and props["includes"] == f"{lib}.h" and props["version"]
    sketch = archive.read(f"{lib}/examples/KeywordSpotting/KeywordSpotting.ino").decode()
    assert "#include <PDM.h>" in sketch and "PDM.begin(1, kSampleRate)" in sketch
    assert "tk_detector_push(&g_detector, g_hop, &detection)" in sketch


@pytest.mark.skipif(not HAVE_CROSS_GCC, reason="arm-none-eabi-gcc not found on PATH")
def test_arduino_library_compiles_with_arm_gcc(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "arduino", tmp_path / "arduino", golden_count=1)
    done = make(bundle.path)
    assert done.returncode == 0, done.stderr
    assert (bundle.path / "build" / "libTinyKWSModel.a").is_file()


ARDUINO_STUB = """
#pragma once
#include <cstddef>
#include <cstdint>
struct SerialStub { void begin(long); void println(const char *); explicit operator bool() const; };
extern SerialStub Serial;
"""
PDM_STUB = """
#pragma once
struct PDMClass { void onReceive(void (*)(void)); int begin(int, long); int available(); int read(void *, int); };
extern PDMClass PDM;
"""


def test_arduino_sketch_compiles_against_stub_core(lively_run: Path, tmp_path: Path) -> None:
    bundle = make_bundle(lively_run, "arduino", tmp_path / "arduino", golden_count=1)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "Arduino.h").write_text(ARDUINO_STUB)
    (stubs / "PDM.h").write_text(PDM_STUB)
    sketch = bundle.path / "TinyKWSModel" / "examples" / "KeywordSpotting" / "KeywordSpotting.ino"
    done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-x", "c++",
                           "-include", str(stubs / "Arduino.h"), f"-I{stubs}",
                           f"-I{bundle.path / 'TinyKWSModel' / 'src'}", str(sketch)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_target_is_listed() -> None:
    assert TARGETS == ("host", "cortex-m4", "cortex-m55", "tflm", "arduino")
