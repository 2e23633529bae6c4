"""Shared fixtures: small data sets built by the tests themselves, and one tiny trained run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

#: `.ci/run` sets this: a test skipped because a tool below is missing FAILS instead (CI must not go green
#: by skipping the Cortex-M, QEMU and 32-bit tests). The tools are named in every such skip reason.
REQUIRE_TOOLCHAIN = os.environ.get("TINYKWS_REQUIRE_TOOLCHAIN", "") == "1"
TOOLCHAIN_WORDS = ("arm-none-eabi-gcc", "qemu-system-arm", "libnewlib-arm-none-eabi", "rdimon", "gcc-multilib")

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech_commands_v0.02_real"
LABELS = ("_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not REAL_DATA.is_dir():
        pytest.skip(f"real speech clips not present at {REAL_DATA}")
    return REAL_DATA


def tone_clip(label_index: int, speaker: int, take: int, rng: np.random.Generator) -> np.ndarray:
    """A 1 s clip whose pitch pattern identifies the label; speakers shift pitch slightly."""
    t = np.arange(16000) / 16000.0
    if label_index == 0:
        return 0.01 * rng.standard_normal(16000)
    f0 = 180.0 * (1.0 + 0.04 * speaker) * (1.25 ** (label_index % 6))
    f1 = f0 * (1.5 if label_index >= 6 else 0.75)
    start = rng.integers(1000, 4000)
    env = np.zeros(16000)
    env[start : start + 8000] = np.hanning(8000)
    sweep = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / 2))
    return 0.4 * env * sweep + 0.005 * rng.standard_normal(16000)


def make_tone_dataset(root: Path, speakers: int = 6, takes: int = 2, seed: int = 0) -> Path:
    from tinykws.audio.io import write_wav

    rng = np.random.default_rng(seed)
    for li, label in enumerate(LABELS):
        (root / label).mkdir(parents=True, exist_ok=True)
        for s in range(speakers):
            for k in range(takes):
                write_wav(root / label / f"spk{s:02d}x_nohash_{k}.wav", tone_clip(li, s, k, rng))
    return root


@pytest.fixture(scope="session")
def tone_data(tmp_path_factory) -> Path:
    return make_tone_dataset(tmp_path_factory.mktemp("tones") / "data")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tone_data) -> Path:
    """A DS-CNN (narrow) trained 3 epochs on the tone data, exported to int8."""
    from typer.testing import CliRunner

    from tinykws.cli import app

    out = tmp_path_factory.mktemp("runs") / "tones"
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data-dir", str(tone_data), "--out", str(out), "--epochs", "3",
                                 "--width", "0.25", "--batch-size", "32"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def run_copy(trained_run, tmp_path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(trained_run, dst)
    return dst


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under TINYKWS_REQUIRE_TOOLCHAIN=1 a skip for a missing cross compiler, QEMU or multilib is a failure."""
    outcome = yield
    report = outcome.get_result()
    if not (REQUIRE_TOOLCHAIN and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if any(word in reason for word in TOOLCHAIN_WORDS):
        report.outcome = "failed"
        report.longrepr = f"TINYKWS_REQUIRE_TOOLCHAIN=1 but this test would skip: {reason}"


#: Settings under which the tone data is learnt in a few epochs (the default recipe needs thousands of steps).
FAST_RECIPE = {"learning_rates": [0.005, 0.002, 0.0005], "noise_prob": 0.0, "label_smoothing": 0.0}


@pytest.fixture(scope="session")
def learned_run(tmp_path_factory) -> tuple[Path, Path]:
    """(run, data): a DS-CNN trained 12 epochs on 6 tone speakers x 4 takes (it learns them), exported."""
    import json

    from typer.testing import CliRunner

    from tinykws.cli import app

    root = tmp_path_factory.mktemp("learned")
    data = make_tone_dataset(root / "data", speakers=6, takes=4, seed=3)
    recipe = root / "recipe.json"
    recipe.write_text(json.dumps(FAST_RECIPE))
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data-dir", str(data), "--out", str(root / "run"), "--epochs", "12",
                                 "--width", "0.5", "--batch-size", "16", "--seed", "1", "--recipe", str(recipe)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root / "run", data
