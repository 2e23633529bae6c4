"""The bundles' --stream mode runs the incremental engine (issue 13 §5).

The run's int8 model is a small classifier VALID in time (zero PAD in
frequency, VALID convolution and depthwise layers, as the ds-cnn-s-stream
preset) fitted on the tone clips, so that detections occur; its StreamConfig
infers every 4 hops, a multiple of its time stride 2. Over a 60 s recording
built here from tone clips, silence and noise, the bundle's detections
(incremental inference: only the new rows of each layer per inference) must
equal ``tinykws.stream.detect`` (LiteRT on the full window at every
inference) on the host, under ASan/UBSan, and in QEMU on the Cortex-M4 and
M55. A model SAME in time keeps the full window (test_firmware_stream.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from test_firmware import fit_tone_classifier, make, metrics
from test_firmware_stream import (M4_OK, M4_WHY, M55_OK, M55_WHY, MIN_DETECTIONS, assert_same_detections,
                                  parse_app, python_detections, qemu_stream, run_app, sanitized_stream_detections,
                                  tone_recording)
from tinykws.audio.io import read_wav, write_wav
from tinykws.config import StreamConfig, save_config
from tinykws.firmware import make_bundle
from tinykws.run import open_run

SECONDS = 60
# inference every 4 hops (the incremental hop); a threshold the small classifier's scores reach
STREAM = StreamConfig(infer_every_hops=4, average_results=3, threshold=30, min_count=2, refractory_hops=20)


def valid_in_time(keras, inputs):
    """test_firmware's classifier VALID in time, as the ds-cnn-s-stream preset: PAD (frequency) ->
    CONV 10x4 stride 2 VALID -> PAD -> CONV 3x3 VALID -> PAD -> DEPTHWISE 3x3 VALID."""
    L = keras.layers
    x = L.ZeroPadding2D(((0, 0), (1, 1)))(inputs)
    x = L.Conv2D(16, (10, 4), strides=(2, 2), activation="relu")(x)
    x = L.Conv2D(16, (3, 3), activation="relu")(L.ZeroPadding2D(((0, 0), (1, 1)))(x))
    return L.DepthwiseConv2D((3, 3), activation="relu")(L.ZeroPadding2D(((0, 0), (1, 1)))(x))


@pytest.fixture(scope="module")
def incremental_run(trained_run: Path, tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("incremental") / "run"
    shutil.copytree(trained_run, run_dir)
    save_config(open_run(run_dir).config.replace(stream=STREAM), run_dir / "config.json")
    (run_dir / "int8.tflite").write_bytes(fit_tone_classifier(run_dir, tone_data, valid_in_time))
    return run_dir


@pytest.fixture(scope="module")
def recording(tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """60 s: three clips of every label in a shuffled order, each followed by 0.25-1 s of a _silence_
    clip, noise at about -50 dBFS over all of it."""
    rng = np.random.default_rng(13)
    audio = tone_recording(tone_data, 3, rng)[:SECONDS * 16000]
    audio = np.concatenate([audio, np.zeros(SECONDS * 16000 - len(audio), np.float32)])
    audio = (audio + rng.normal(0.0, 0.003, len(audio))).astype(np.float32)
    path = tmp_path_factory.mktemp("recording") / "sixty.wav"
    write_wav(path, audio)
    return path, read_wav(path)[0]


@pytest.fixture(scope="module")
def expected(incremental_run: Path, recording: tuple[Path, np.ndarray]):
    found = python_detections(incremental_run, recording[1])
    assert len(found) >= MIN_DETECTIONS and len({f.label for f in found}) >= 2, found
    return found


@pytest.fixture(scope="module")
def host_bundle(incremental_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = make_bundle(incremental_run, "host", tmp_path_factory.mktemp("host") / "bundle", golden_count=1)
    built = make(bundle.path)
    assert built.returncode == 0 and "warning" not in built.stderr.lower(), built.stderr
    return bundle.path


def _check_incremental(stdout: str, bundle: Path) -> dict[str, str]:
    m = metrics(stdout)
    memory = json.loads((bundle / "bundle.json").read_text())["memory"]
    state = [v for k, v in memory.items() if "incremental" in k]
    assert m["stream_incremental"] == "1" and [int(m["stream_state_bytes"])] == state, m
    assert int(m["hops"]) == SECONDS * 50 and int(m["inferences"]) == 1 + (SECONDS * 50 - 49) // 4
    return m


def test_host_incremental_stream_equals_python_over_60_s(host_bundle: Path, recording, expected) -> None:
    done = run_app(host_bundle / "tinykws-app", "--stream", str(recording[0]))
    assert done.returncode == 0, done.stderr
    _check_incremental(done.stdout, host_bundle)
    assert_same_detections(parse_app(done.stdout), expected)
    assert (host_bundle / "model" / "tkw_stream.c").is_file()


def test_host_incremental_stream_clean_under_sanitizers(host_bundle: Path, recording, expected,
                                                         tmp_path: Path) -> None:
    assert_same_detections(sanitized_stream_detections(host_bundle, recording[0], tmp_path), expected)


def test_a_model_same_in_time_keeps_the_full_window(trained_run: Path, tmp_path: Path, recording) -> None:
    bundle = make_bundle(trained_run, "host", tmp_path / "same", golden_count=1)
    assert make(bundle.path).returncode == 0
    assert not (bundle.path / "model" / "tkw_stream.c").exists()
    done = run_app(bundle.path / "tinykws-app", "--stream", str(recording[0]))
    m = metrics(done.stdout)
    assert done.returncode == 0 and m["stream_incremental"] == "0" and m["stream_state_bytes"] == "0"


@pytest.mark.qemu
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55"])
def test_qemu_incremental_stream_equals_python_over_60_s(incremental_run: Path, recording, expected,
                                                          tmp_path: Path, target: str) -> None:
    ok, why = (M4_OK, M4_WHY) if target == "cortex-m4" else (M55_OK, M55_WHY)
    if not ok:
        pytest.skip(why)
    stdout, bundle = qemu_stream(incremental_run, target, recording[0], tmp_path)
    m = _check_incremental(stdout, bundle)
    assert_same_detections(parse_app(stdout), expected)
    total, model = int(m["instructions_per_second_of_audio"]), int(m["model_instructions_per_second_of_audio"])
    assert 0 < model < total
    assert int(m["model_instructions_per_inference"]) * int(m["inferences"]) <= model * SECONDS * 1.01


@pytest.mark.qemu
@pytest.mark.skipif(not M4_OK, reason=M4_WHY)
def test_stream_cost_measures_incremental_against_full_window(incremental_run: Path, recording,
                                                              tmp_path: Path) -> None:
    from tinykws.stream.bench import stream_cost

    short = tmp_path / "short.wav"
    write_wav(short, recording[1][:12 * 16000])
    cost = stream_cost(incremental_run, tmp_path / "work", wav=short)
    inc, full = cost.incremental, cost.full_window
    assert (inc.engine, full.engine) == ("incremental", "full_window") and cost.seconds == 12.0
    assert inc.state_bytes > 0 == full.state_bytes and inc.inferences == full.inferences
    assert inc.detections == full.detections  # bit-identical outputs: the same detections
    assert inc.model_per_inference < full.model_per_inference and cost.speedup > 1.0
    # the front end and the recognizer are the same in both: the difference is the model's
    assert abs((full.per_second - inc.per_second) - (full.model_per_second - inc.model_per_second)) \
        < 0.01 * full.per_second
