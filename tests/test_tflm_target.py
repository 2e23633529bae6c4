"""The tflm bundle as a Cortex-M target: TFLite Micro built for the chip, run in QEMU.

Tests that build TFLM need a TensorFlow Lite Micro tree in TFLM_DIR (`make tflm-tree` makes one)
and skip without it; the rest check the bundle's build files with the cross compiler alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinykws.bench_tflm import batch_pcm, kernel_sources, text_parts
from tinykws.firmware import make_bundle
from tinykws.firmware.model_facts import read_model_facts
from tinykws.run import open_run
from tinykws.toolchain import toolchain_available

MODEL = Path(__file__).resolve().parents[1] / "models" / "ds-cnn-s-kws12"
TFLM_DIR = os.environ.get("TFLM_DIR", "")
needs_cross = pytest.mark.skipif(not toolchain_available("cortex-m4")[0], reason="no arm-none-eabi-gcc or QEMU")
needs_tflm = pytest.mark.skipif(not TFLM_DIR, reason="TFLM_DIR (a TensorFlow Lite Micro tree) is not set")


def make(bundle: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(["nice", "-n", "10", "make", "-C", str(bundle), "--no-print-directory", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def tflm_bundle(tmp_path_factory) -> Path:
    return make_bundle(MODEL, "tflm", tmp_path_factory.mktemp("tflm") / "tflm", golden_count=2).path


def test_bundle_carries_the_cortex_m_platforms(tflm_bundle: Path) -> None:
    for arch, script in (("cortex-m4", "mps2_an386.ld"), ("cortex-m55", "mps3_an547.ld")):
        names = {p.name for p in (tflm_bundle / "platform" / arch).iterdir()}
        assert {"startup.c", "tk_semihost.c", "tk_platform.c", "sections.ld", script} <= names
    assert (tflm_bundle / "platform" / "tk_platform.h").is_file()  # the host stub stays where it was


@pytest.mark.parametrize("args, message", [
    (["TFLM_ARCH=cortex-m7"], "choose host, cortex-m4, cortex-m55"),
    (["TFLM_KERNELS=fast"], "choose reference or cmsis_nn"),
    (["TFLM_KERNELS=cmsis_nn"], "needs a Cortex-M TFLM_ARCH"),
])
def test_bad_configuration_is_refused(tflm_bundle: Path, args: list[str], message: str) -> None:
    done = make(tflm_bundle, "TFLM_DIR=/nonexistent", *args, timeout=60)
    assert done.returncode == 2 and message in done.stderr


@needs_cross
@pytest.mark.parametrize("arch", ["cortex-m4", "cortex-m55"])
def test_c_objects_build_warning_free_for_the_chip(tflm_bundle: Path, arch: str) -> None:
    """The app, front end and platform objects, -Werror, with the chip's flags (main.cc needs TFLM)."""
    flags = make(tflm_bundle, "-s", "TFLM_DIR=/nonexistent", f"TFLM_ARCH={arch}", "-p", "flags", timeout=60).stdout
    objects = next(line for line in flags.splitlines() if line.startswith("OBJECTS :=")).split()[2:]
    c_objects = [o for o in objects if not o.endswith("/main.o")]
    assert any("/platform/" in o and o.endswith("startup.o") for o in c_objects)
    done = make(tflm_bundle, "TFLM_DIR=/nonexistent", f"TFLM_ARCH={arch}", *c_objects, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


def _tflm_vars(arch: str, kernels: str) -> list[str]:
    ops = read_model_facts(open_run(MODEL)).ops
    return [f"TFLM_DIR={TFLM_DIR}", f"TFLM_ARCH={arch}", f"TFLM_KERNELS={kernels}", f"TFLM_PYTHON={sys.executable}",
            "TFLM_KERNEL_SOURCES=" + " ".join(kernel_sources(Path(TFLM_DIR), ops, kernels))]


def _batch(bundle: Path, make_vars: list[str], pcm: np.ndarray) -> bytes:
    pcm.astype("<i2").tofile(bundle / "in.raw")
    done = make(bundle, *make_vars, "run", "ARGS=--batch in.raw out.raw")
    assert done.returncode == 0, done.stdout + done.stderr
    return (bundle / "out.raw").read_bytes()


@pytest.fixture(scope="module")
def engine_outputs(tmp_path_factory) -> bytes:
    """The tinykws engine's outputs (cortex-m4 bundle in QEMU) on the bench's clips."""
    bundle = make_bundle(MODEL, "cortex-m4", tmp_path_factory.mktemp("m4") / "cortex-m4", golden_count=2).path
    return _batch(bundle, [], batch_pcm(MODEL))


@needs_cross
@needs_tflm
@pytest.mark.parametrize("arch", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize("kernels", ["reference", "cmsis_nn"])
def test_tflm_on_the_chip_passes_and_matches_the_engine(tflm_bundle: Path, engine_outputs: bytes, arch: str,
                                                        kernels: str) -> None:
    """Built for the chip against the real tree, in QEMU: self-test, counters, and the same int8
    outputs as the tinykws engine on the Cortex-M4 (bit-exact across cores and kernel libraries)."""
    if not toolchain_available(arch)[0]:
        pytest.skip(toolchain_available(arch)[1])
    make_vars = _tflm_vars(arch, kernels)
    built = make(tflm_bundle, *make_vars)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "text" in built.stdout and f"tinykws-app-{arch}-{kernels}" in built.stdout  # `make` prints the size
    done = make(tflm_bundle, *make_vars, "run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self_test=pass" in done.stdout
    metrics = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line and " " not in line)
    assert int(metrics["instructions_per_inference"]) > 0 and int(metrics["tflm_arena_used_bytes"]) > 0
    assert int(metrics["stack_used_bytes"]) > 0
    assert _batch(tflm_bundle, make_vars, batch_pcm(MODEL)) == engine_outputs  # bit-identical int8 outputs
    flags = dict(line.split("=", 1) for line in make(tflm_bundle, *make_vars, "-s", "flags").stdout.splitlines())
    text = text_parts((tflm_bundle / flags["map"]).read_text(), {"library": r"libtensorflow-microlite\.a",
                                                                   "model": r"tflite/model_data\.o"})
    assert text["model"] >= MODEL.joinpath("int8.tflite").stat().st_size  # the model array is in .text
    assert text["library"] > 0
