"""Bit-exactness check of a generated engine against the TFLite Micro runtime."""

from __future__ import annotations

from dataclasses import dataclass

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
    from tinykws.runtimes import TFLMEngine

    ours = CEngine(model_bytes, workdir=workdir, source=source)
    reference = TFLMEngine(model_bytes, source=source)
    x = random_inputs(n, ours.input_size, seed)
    return compare_outputs(ours.run(x), reference.run(x))
