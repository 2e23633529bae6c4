"""The `qemu` engine of `tinykws check`: PCM in, int8 model outputs out, computed
by the cortex-m4 bundle (C feature front end + generated C engine) in QEMU.

All clips go through one firmware run: their int16 PCM in one host file, read
by the firmware through semihosting (`tinykws-app --batch IN OUT`), which
writes every clip's int8 outputs to another host file.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinykws.audio.io import to_int16
from tinykws.errors import InputError, ModelError
from tinykws.toolchain import BuildError, run_firmware, toolchain_available
from tinykws.run import Run

PLATFORM = "cortex-m4"
ELF_NAME = "tinykws-app.elf"
SECONDS_PER_CLIP = 1.0  # generous: ~0.1 s per DS-CNN-S clip measured
BASE_TIMEOUT = 60.0


def build_bundle_elf(bundle_dir: Path, timeout: float = 600.0) -> Path:
    """`make -C bundle_dir` (the bundle's own Makefile); returns the ELF."""
    try:
        done = subprocess.run(["make", "-C", str(bundle_dir)], capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise BuildError("make not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"building {bundle_dir} took longer than {timeout} s") from None
    if done.returncode != 0:
        raise BuildError(f"make -C {bundle_dir} failed:\n{done.stderr.strip()[-4000:]}")
    return bundle_dir / ELF_NAME


class QemuEngine:
    """The cortex-m4 firmware of a run in QEMU; ``run_pcm`` takes audio, not model inputs."""

    takes_pcm = True

    def __init__(self, run: Run, platform: str = PLATFORM):
        from tinykws.firmware import make_bundle

        available, why_not = toolchain_available(platform)
        if not available:
            raise InputError(f"engine 'qemu' is not available here: {why_not}")
        self.name = "qemu"
        self.platform = platform
        self._tmp = tempfile.TemporaryDirectory(prefix="tinykws-qemu-")
        self.workdir = Path(self._tmp.name)
        bundle = make_bundle(run.path, platform, self.workdir / "bundle", golden_count=1)
        self.elf = build_bundle_elf(bundle.path)
        self.clip_samples = run.config.features.clip_samples
        self.n_outputs = len(run.config.labels)

    def run_pcm(self, audio: np.ndarray) -> np.ndarray:
        """(B, clip_samples) float audio in [-1, 1] -> (B, n_outputs) int8 outputs of the firmware."""
        audio = np.asarray(audio)
        if audio.ndim != 2 or audio.shape[1] != self.clip_samples:
            raise InputError(f"engine 'qemu' takes clips of {self.clip_samples} samples, got shape {audio.shape}")
        to_int16(audio).astype("<i2").tofile(self.workdir / "pcm.bin")
        out = self.workdir / "outputs.bin"
        out.unlink(missing_ok=True)
        result = run_firmware(self.elf, ["--batch", "pcm.bin", "outputs.bin"], platform=self.platform,
                              timeout=BASE_TIMEOUT + SECONDS_PER_CLIP * len(audio), cwd=self.workdir)
        if result.exit_code != 0 or result.metrics().get("clips") != len(audio):
            raise ModelError(f"the {self.platform} firmware failed in QEMU (exit {result.exit_code}): "
                             f"{(result.stdout + result.stderr).strip()[-2000:]}")
        return np.fromfile(out, np.int8).reshape(len(audio), self.n_outputs)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        raise ModelError("engine 'qemu' computes its own features: call run_pcm(audio), not run(int8 inputs)")

    def close(self) -> None:
        self._tmp.cleanup()


def qemu_engine(run: Run, model: bytes | None = None) -> QemuEngine:
    """verify.EXTRA_ENGINES factory (the model is the run's int8.tflite, read by the bundle)."""
    return QemuEngine(run)
