"""Streaming detection: the Python recognizer, its C mirror (host, ASan/UBSan, QEMU), the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.config import (DEFAULT_LABELS, FeatureConfig, Normalisation, RunConfig, StreamConfig, config_to_dict,
                            load_config, save_config)
from tinykws.errors import InputError
from tinykws.audio.mfcc import mfcc, normalise, quantize_input
from tinykws.stream.detect import (Detection, FeatureStream, FrameRing, Quantization, Recognizer, inference_hops,
                            keyword_mask, recognize, replay, smooth, smoothed_scores)
from tinykws.stream.c import recognizer_files, render_recognizer, render_tool

LABELS = DEFAULT_LABELS  # _silence_, _unknown_, yes, no, ...
YES, NO = LABELS.index("yes"), LABELS.index("no")
HOST_PLATFORM = Path(__file__).resolve().parents[1] / "firmware_templates" / "platform" / "host"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def quiet(n: int, n_classes: int = len(LABELS)) -> np.ndarray:
    """n results that favour _silence_."""
    out = np.full((n, n_classes), -128, np.int8)
    out[:, 0] = 127
    return out


def hops_of(n: int, every: int = 2, first: int = 48) -> np.ndarray:
    return first + every * np.arange(n, dtype=np.int64)


def with_keyword(out: np.ndarray, label: int, rows: range, score: int) -> np.ndarray:
    out = out.copy()
    out[rows.start:rows.stop, label] = score
    return out


# -------------------------------------------------------------- config


def test_stream_config_round_trips_and_old_configs_load(tmp_path):
    cfg = RunConfig(stream=StreamConfig(threshold=-5, refractory_hops=33))
    save_config(cfg, tmp_path / "config.json")
    assert load_config(tmp_path / "config.json") == cfg
    old = config_to_dict(RunConfig())
    del old["stream"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert load_config(tmp_path / "old.json").stream == StreamConfig()


# ---------------------------------------------------------- recognizer


def test_smoothing_rounds_half_up_in_integers():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        n = int(rng.integers(1, 40))
        values = rng.integers(-128, 128, n)
        expected = int(np.floor(Fraction(int(values.sum()), n) + Fraction(1, 2)))
        assert smooth(int(values.sum()), n) == expected
    assert smooth(-1, 2) == 0 and smooth(-3, 2) == -1 and smooth(-256, 2) == -128 and smooth(254, 2) == 127


def test_threshold_and_min_count():
    cfg = StreamConfig(infer_every_hops=2, average_results=1, threshold=50, min_count=3, refractory_hops=0)
    hops = hops_of(20)
    at = with_keyword(quiet(20), YES, range(5, 8), 50)
    assert recognize(at, hops, cfg, LABELS) == [Detection(YES, int(hops[7]), 50)]
    assert recognize(with_keyword(quiet(20), YES, range(5, 8), 49), hops, cfg, LABELS) == []
    assert recognize(with_keyword(quiet(20), YES, range(5, 7), 127), hops, cfg, LABELS) == []  # 2 < min_count


def test_refractory_suppresses_then_fires_again():
    cfg = StreamConfig(infer_every_hops=2, average_results=1, threshold=0, min_count=2, refractory_hops=10)
    hops = hops_of(30)
    found = recognize(with_keyword(quiet(30), NO, range(0, 30), 100), hops, cfg, LABELS)
    # fires at result 1; results 2..5 (hops < 10 later) are refractory; counting restarts at result 6
    assert [d.hop for d in found] == [int(hops[i]) for i in (1, 7, 13, 19, 25)]
    assert all(d.label == NO for d in found)


def test_silence_and_unknown_never_fire():
    cfg = StreamConfig(average_results=1, threshold=-128, min_count=1, refractory_hops=0)
    out = np.full((50, len(LABELS)), -128, np.int8)
    out[:, 0] = out[:, 1] = 127
    assert keyword_mask(LABELS).tolist() == [False, False] + [True] * 10
    found = recognize(out, hops_of(50), cfg, LABELS)
    assert found and all(LABELS[d.label] not in ("_silence_", "_unknown_") for d in found)
    high = dataclasses.replace(cfg, threshold=-127)
    assert recognize(out, hops_of(50), high, LABELS) == []


def test_highest_smoothed_score_fires_ties_to_lowest_index():
    cfg = StreamConfig(average_results=1, threshold=10, min_count=1, refractory_hops=100)
    out = with_keyword(with_keyword(quiet(3), YES, range(0, 3), 40), NO, range(0, 3), 40)
    assert recognize(out, hops_of(3), cfg, LABELS)[0].label == YES
    out[0, NO] = 41
    assert recognize(out, hops_of(3), cfg, LABELS)[0].label == NO


def test_smoothing_needs_the_mean_over_the_ring():
    cfg = StreamConfig(average_results=4, threshold=0, min_count=1, refractory_hops=0)
    out = quiet(12)
    out[4:12, YES] = [100, -128, -128, -128, 100, 100, -128, -128]  # means: -7, ..., then 100+100-256 -> -14+...
    sm = smoothed_scores(out, 4)
    want = [smooth(int(out[max(0, r - 3):r + 1, YES].astype(int).sum()), min(r + 1, 4)) for r in range(12)]
    assert sm[:, YES].tolist() == want
    found = recognize(out, hops_of(12), cfg, LABELS)
    assert [d.hop for d in found] == [int(hops_of(12)[r]) for r in range(12) if want[r] >= 0]


def random_outputs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Noise-like results with bursts of one class (keyword or not) scoring high for a few results."""
    out = rng.integers(-128, -40, (n, len(LABELS))).astype(np.int8)
    for start in rng.integers(0, n, n // 8):
        c, length = int(rng.integers(len(LABELS))), int(rng.integers(1, 12))
        out[start:start + length, c] = rng.integers(-30, 128, len(out[start:start + length]))
    return out


def random_config(rng: np.random.Generator) -> StreamConfig:
    return StreamConfig(infer_every_hops=int(rng.integers(1, 4)), average_results=int(rng.integers(1, 9)),
                        threshold=int(rng.integers(-40, 90)), min_count=int(rng.integers(1, 5)),
                        refractory_hops=int(rng.integers(0, 80)))


def test_fast_replay_equals_the_step_by_step_recognizer():
    rng = np.random.default_rng(0)
    for _ in range(25):
        cfg = random_config(rng)
        out = random_outputs(rng, 1500)
        hops = hops_of(1500, cfg.infer_every_hops)
        expected = recognize(out, hops, cfg, LABELS)
        assert replay(smoothed_scores(out, cfg.average_results), hops, cfg, keyword_mask(LABELS)) == expected


def test_stream_config_is_checked():
    with pytest.raises(InputError, match="stream.threshold"):
        Recognizer(StreamConfig(threshold=128), LABELS)
    with pytest.raises(InputError, match="stream.average_results"):
        Recognizer(StreamConfig(average_results=0), LABELS)


# ------------------------------------------------------------ features


def test_features_hop_by_hop_equal_features_py_on_every_window():
    rng = np.random.default_rng(3)
    fcfg = FeatureConfig()
    norm = Normalisation(tuple(rng.normal(size=10)), tuple(rng.uniform(1, 5, 10)))
    quant = Quantization(0.11, -5, 1 / 256, -128)
    audio = (0.2 * rng.standard_normal(3 * 16000)).astype(np.float32)
    stream = FeatureStream(fcfg, norm, quant)
    frames = np.concatenate([stream.push(b) for b in np.array_split(audio, 29)])
    assert stream.hops == len(frames) == 1 + (len(audio) - 480) // 320
    ring = FrameRing(fcfg.n_frames, fcfg.n_mfcc)
    for hop, frame in enumerate(frames):
        ring.push(frame)
        if hop in (48, 75, len(frames) - 1):
            start = (hop - 48) * 320
            ref = quantize_input(normalise(mfcc(audio[start:start + 16000], fcfg), norm), 0.11, -5)
            np.testing.assert_array_equal(ring.window(), ref)
    assert inference_hops(len(frames), 49, 3).tolist() == list(range(48, len(frames), 3))


# ------------------------------------------------------------------- C


def results_file(path: Path, outputs: np.ndarray, hops: np.ndarray) -> Path:
    with path.open("wb") as fh:
        for hop, row in zip(hops, outputs):
            fh.write(struct.pack("<I", int(hop)) + np.asarray(row, np.int8).tobytes())
    return path


def parse_detections(stdout: str) -> list[Detection]:
    rows = [line.split()[1:] for line in stdout.splitlines() if line.startswith("detection ")]
    return [Detection(int(a), int(b), int(c)) for a, b, c in rows]


def host_binary(tmp: Path, cfg: StreamConfig, labels=LABELS, flags=(), prefix: str = "tk") -> Path:
    render_recognizer(tmp, cfg, labels, prefix=prefix)
    render_tool(tmp, prefix=prefix)
    exe = tmp / "recognizer_cli"
    cmd = ["gcc", *STRICT, *(flags or ["-O2"]), f"-I{tmp}", f"-I{HOST_PLATFORM}", *map(str, sorted(tmp.glob("*.c"))),
           "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return exe


def run_c(exe: Path, outputs: np.ndarray, hops: np.ndarray, tmp: Path) -> list[Detection]:
    done = subprocess.run([str(exe), "results", str(results_file(tmp / "results.bin", outputs, hops))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"results={len(outputs)}" in done.stdout
    return parse_detections(done.stdout)


needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not found")


@needs_gcc
@pytest.mark.parametrize("sanitize", [False, True], ids=["strict", "asan-ubsan"])
def test_c_recognizer_matches_python_on_random_outputs(tmp_path, sanitize):
    rng = np.random.default_rng(7)
    for k in range(3 if sanitize else 6):
        cfg = random_config(rng)
        exe = host_binary(tmp_path / f"c{k}", cfg, flags=SANITIZE if sanitize else None)
        out = random_outputs(rng, 3000)
        hops = hops_of(3000, cfg.infer_every_hops)
        expected = recognize(out, hops, cfg, LABELS)
        assert expected, "the test sequence should produce detections"
        assert run_c(exe, out, hops, tmp_path / f"c{k}") == expected


@needs_gcc
def test_c_window_schedule_and_order_match_python(tmp_path):
    cfg = StreamConfig(infer_every_hops=3)
    exe = host_binary(tmp_path, cfg)
    n = 500
    done = subprocess.run([str(exe), "window", str(n)], capture_output=True, text=True, check=True)
    ring, checksum, inferences = FrameRing(49, 10), 0, 0
    for h in range(n):
        ring.push(np.array([(h * 7 + k * 13) % 251 - 125 for k in range(10)], np.int8))
        if h in set(inference_hops(n, 49, 3).tolist()):
            w = ring.window().reshape(-1).view(np.uint8)
            checksum = (checksum * 31 + int(w[0]) + int(w[-1])) % 2**32
            inferences += 1
    assert f"inferences={inferences}\n" in done.stdout and f"checksum={checksum}\n" in done.stdout


@needs_gcc
def test_c_prefix_and_label_checks(tmp_path):
    exe = host_binary(tmp_path / "kw", StreamConfig(), prefix="kw")
    assert (tmp_path / "kw" / "kw_recognizer_config.h").read_text().count("KW_RECOGNIZER_LABEL_YES 2") == 1
    assert "tk_" not in (tmp_path / "kw" / "kw_recognizer.c").read_text()
    assert exe.exists()
    files = recognizer_files(RunConfig(stream=StreamConfig(threshold=-7)), "recognizer")
    assert sorted(files) == [f"recognizer/tk_recognizer{s}" for s in (".c", ".h", "_config.c", "_config.h")]
    assert b"#define TK_RECOGNIZER_THRESHOLD (-7)" in files["recognizer/tk_recognizer_config.h"]
    with pytest.raises(InputError):
        render_recognizer(tmp_path / "bad", StreamConfig(), LABELS, prefix="Bad-prefix")
    with pytest.raises(InputError, match="no keyword"):
        render_recognizer(tmp_path / "bad", StreamConfig(), ("_silence_", "_unknown_"))


# ------------------------------------------------- a real model over a stream


@pytest.fixture(scope="module")
def model_stream(trained_run, tone_data):
    """int8 outputs of the tone model over a 40 s stream of held-out tone clips and noise."""
    from tinykws.run import open_run
    from tinykws.stream.detect import open_engine, run_model
    from tinykws.stream.evaluate import Background, EvalOptions, load_pool, noise_level, plan_events, stream_blocks

    run = open_run(trained_run)
    engine, quant = open_engine(run.int8_tflite)
    pool, noise, _ = load_pool(run, [tone_data])
    opts = EvalOptions(minutes=40 / 60, gap_s=(0.2, 0.8))
    rng = np.random.default_rng(0)
    total = 40 * 16000
    events = plan_events(pool, run.config.labels, opts, total, 16000, rng)
    blocks = stream_blocks(pool, events, Background(noise, opts, 16000, rng),
                           noise_level(pool, run.config.labels, 20.0), total, 16000)
    return run, run_model(blocks, engine, quant, run.config, total)


def low_threshold(outputs: np.ndarray, labels) -> StreamConfig:
    """A threshold that makes the tone model fire several times."""
    sm = smoothed_scores(outputs, 3)[:, keyword_mask(labels)]
    return StreamConfig(average_results=3, threshold=int(np.percentile(sm.max(axis=1), 70)), min_count=2,
                        refractory_hops=25)


@needs_gcc
def test_c_recognizer_matches_python_on_model_outputs(model_stream, tmp_path):
    run, result = model_stream
    cfg = low_threshold(result.outputs, run.config.labels)
    expected = recognize(result.outputs, result.hops, cfg, run.config.labels)
    assert len(expected) >= 3
    exe = host_binary(tmp_path, cfg, run.config.labels, flags=SANITIZE)
    assert run_c(exe, result.outputs, result.hops, tmp_path) == expected


@pytest.mark.qemu
def test_c_recognizer_in_qemu_cortex_m4(model_stream, tmp_path):
    from tinykws.toolchain import build_elf, get_platform, run_firmware, toolchain_available

    available, why = toolchain_available("cortex-m4")
    if not available:
        pytest.skip(why)
    run, result = model_stream
    cfg = low_threshold(result.outputs, run.config.labels)
    render_recognizer(tmp_path, cfg, run.config.labels)
    render_tool(tmp_path)
    elf = build_elf(sorted(tmp_path.glob("*.c")), tmp_path / "recognizer.elf", include_dirs=[tmp_path])
    results_file(tmp_path / "results.bin", result.outputs, result.hops)
    done = run_firmware(elf, ["results", "results.bin"], cwd=tmp_path, timeout=120)
    assert done.exit_code == 0, done.stderr
    expected = recognize(result.outputs, result.hops, cfg, run.config.labels)
    assert parse_detections(done.stdout) == expected
    metrics = done.metrics()
    assert metrics["results"] == len(result.hops)
    per_result = metrics["instructions_recognizer"] / len(result.hops)
    assert 50 < per_result < 2000, per_result
    assert get_platform("cortex-m4").machine == "mps2-an386"


# ---------------------------------------------------------------- CLI


def test_stream_eval_end_to_end(run_copy, tone_data, tmp_path):
    runner = CliRunner()
    report_path = tmp_path / "report.json"
    result = runner.invoke(app, ["stream-eval", str(run_copy), "--data-dir", str(tone_data), "--minutes", "0.5",
                                 "--snr", "20", "--json", str(report_path), "--write-config"])
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert 0.0 <= report["false_reject_rate"] <= 1.0
    assert report["false_accepts_per_hour"] >= 0.0
    assert -128 <= report["threshold"] <= 127
    assert report["events"]["keyword"] > 0 and report["curve"]
    assert set(report["false_accepts_by_context"]) == {"keyword", "unknown_word", "noise"}
    assert sum(report["false_accepts_by_context"].values()) == report["false_accepts"]
    assert (run_copy / "stream" / "tradeoff.png").stat().st_size > 1000
    assert load_config(run_copy / "config.json").stream.threshold == report["threshold"]
    assert "false accepts per hour" in result.output


def test_stream_eval_and_stream_on_a_shipped_model_folder(trained_run, tone_data, tmp_path):
    from tinykws.audio.io import write_wav

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("config.json", "int8.tflite"):
        shutil.copy(trained_run / name, shipped / name)
    runner = CliRunner()
    result = runner.invoke(app, ["stream-eval", str(shipped), "--data-dir", str(tone_data), "--minutes", "0.3",
                                 "--threshold", "-60", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["threshold"] == -60 and report["fixed_threshold"]
    assert load_config(shipped / "config.json") == load_config(trained_run / "config.json")

    clips = sorted((tone_data / "yes").glob("*.wav"))[:3]
    from tinykws.audio.io import read_wav

    audio = np.concatenate([np.concatenate([read_wav(c)[0], np.zeros(8000, np.float32)]) for c in clips])
    write_wav(tmp_path / "long.wav", audio)
    result = runner.invoke(app, ["stream", str(shipped), str(tmp_path / "long.wav"), "--threshold", "-128"])
    assert result.exit_code == 0, result.output
    assert "detection(s) in" in result.output and " s  " in result.output


def test_stream_rejects_bad_input(trained_run, tmp_path):
    from tinykws.audio.io import write_wav

    write_wav(tmp_path / "short.wav", np.zeros(8000, np.float32))
    runner = CliRunner()
    result = runner.invoke(app, ["stream", str(trained_run), str(tmp_path / "short.wav")])
    assert result.exit_code == 2 and "shorter than one model window" in result.output
    result = runner.invoke(app, ["stream", str(tmp_path / "nope"), str(tmp_path / "short.wav")])
    assert result.exit_code == 2


@pytest.mark.slow
def test_stream_eval_on_the_real_clips(trained_run, real_data_dir, tmp_path):
    """The real 12-folder layout as a folder the run did not train on (every clip is held out)."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in ("config.json", "int8.tflite"):
        shutil.copy(trained_run / name, shipped / name)
    result = CliRunner().invoke(app, ["stream-eval", str(shipped), "--data-dir", str(real_data_dir), "--minutes", "2",
                                      "--fast", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["clips"]["held_out"] > 2000 and report["events"]["unknown"] > 0
