"""Bit-exactness check of a generated engine against the TFLite Micro runtime."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BitExactReport:
    n_inputs: int
    n_identical: int          # inputs whose every output byte matches
    max_abs_diff: int         # largest output difference in LSB
    first_mismatch: int | None

    @property
    def ok(self) -> bool:
        return self.n_identical == self.n_inputs


def random_inputs(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` random int8 inputs over the full range [-128, 127]."""
    return np.random.default_rng(seed).integers(-128, 128, (n, size), dtype=np.int8)


def compare_outputs(ours: np.ndarray, reference: np.ndarray) -> BitExactReport:
    a = np.asarray(ours, np.int8).reshape(len(ours), -1)
    b = np.asarray(reference, np.int8).reshape(len(reference), -1)
    same = np.all(a == b, axis=1)
    diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
    bad = np.flatnonzero(~same)
    return BitExactReport(len(a), int(same.sum()), int(diff.max()) if diff.size else 0,
                          int(bad[0]) if bad.size else None)


def verify_against_tflm(model_bytes: bytes, n: int, seed: int = 0, source: str = "<model>",
                        workdir=None) -> BitExactReport:
    """Compile the generated engine on the host and compare it with TFLite Micro on ``n`` random inputs."""
    from tinykws.codegen.host import CEngine
    from tinykws.verify.engines import TFLMEngine

    ours = CEngine(model_bytes, workdir=workdir, source=source)
    reference = TFLMEngine(model_bytes, source=source)
    x = random_inputs(n, ours.input_size, seed)
    return compare_outputs(ours.run(x), reference.run(x))


def engine_figures(model_bytes: bytes, build_dir: Path, n_inputs: int = 0, seed: int = 0) -> dict:
    """Memory figures of the generated engine beside TFLite Micro's, and optionally
    the bit-exact fraction on ``n_inputs`` random inputs."""
    from tinykws.codegen.host import CEngine, cortex_m4_flash_bytes
    from tinykws.verify.engines import TFLMEngine, tflm_arena_bytes

    engine = CEngine(model_bytes, Path(build_dir) / "host")
    tflm_arena = tflm_arena_bytes(model_bytes)
    figures = {"arena_bytes": engine.arena_bytes, "tflm_arena_bytes": tflm_arena,
               "arena_ratio": engine.arena_bytes / tflm_arena, "tflite_bytes": len(model_bytes),
               "constant_bytes": engine.engine.constant_bytes}
    if shutil.which("arm-none-eabi-gcc") and shutil.which("arm-none-eabi-size"):
        figures["flash_bytes_cortex_m4"] = cortex_m4_flash_bytes(engine.engine, Path(build_dir))
    if n_inputs:
        x = random_inputs(n_inputs, engine.input_size, seed)
        report = compare_outputs(engine.run(x), TFLMEngine(model_bytes).run(x))
        figures["bitexact"] = f"{report.n_identical}/{report.n_inputs}"
    return figures
