"""Mutation fuzz of the .tflite reader and the C engine generator.

Small models are built here, converted to int8, and mutated (deterministic
seed): 4-byte fields of the flatbuffer's metadata (tensor shapes, scales, zero
points, buffer and tensor indices, operator options) are overwritten with
hostile values, single bytes are changed and files truncated. Whatever the
generator makes of a mutated file, only tinykws's own errors may escape.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

import codegen_models as cm
from tinykws.codegen import generate_engine
from tinykws.errors import TinyKWSError

# float32 and int32 values that break careless readers: 0, NaN, +-inf, negatives, huge
HOSTILE_WORDS = tuple(struct.pack("<f", v) for v in (0.0, float("nan"), float("inf"), -float("inf"), -1.0,
                                                     1e-45, 3e38)) + \
    tuple(struct.pack("<i", v) for v in (0, -1, 1, 2, 3, 7, 255, 256, -128, 2 ** 31 - 1, -2 ** 31, 65536))


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {"ds_cnn": cm.to_int8_tflite(cm.ds_cnn_like(filters=4, blocks=1, input_shape=(20, 10, 1)), (20, 10, 1)),
            "kitchen_sink": cm.to_int8_tflite(cm.kitchen_sink(), (24, 12, 3), n_rep=8)}


def _data_ranges(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the constant buffers (weights): mutating them changes values, not structure."""
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    ranges = []
    for i in range(model.BuffersLength()):
        buf = model.Buffers(i)
        if buf.DataLength():
            start = buf._tab.Vector(buf._tab.Offset(4))
            ranges.append((start, start + buf.DataLength()))
    return ranges


def _metadata_offsets(data: bytes) -> np.ndarray:
    mask = np.ones(len(data), bool)
    for lo, hi in _data_ranges(data):
        mask[lo:hi] = False
    mask[:8] = False  # root offset and the identifier are checked before parsing
    return np.flatnonzero(mask)


def mutate(data: bytes, offsets: np.ndarray, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    kind = rng.integers(0, 10)
    if kind == 0:  # truncate
        return bytes(out[:int(rng.integers(8, len(out)))])
    for _ in range(int(rng.integers(1, 3))):
        at = int(offsets[rng.integers(0, len(offsets))])
        if kind <= 6:
            at -= at % 4  # flatbuffer scalars and offsets are 4-byte aligned
            out[at:at + 4] = HOSTILE_WORDS[rng.integers(0, len(HOSTILE_WORDS))]
        else:
            out[at] = int(rng.integers(0, 256))
    return bytes(out[:len(data)])


def run_campaign(models: dict[str, bytes], n: int, seed: int) -> tuple[int, list[str]]:
    """Generate engines from ``n`` mutated models; return (inputs, unexpected exceptions)."""
    rng = np.random.default_rng(seed)
    unexpected: list[str] = []
    names = sorted(models)
    offsets = {name: _metadata_offsets(models[name]) for name in names}
    for i in range(n):
        name = names[i % len(names)]
        data = mutate(models[name], offsets[name], rng)
        try:
            generate_engine(data, source=f"{name}-{i}.tflite")
        except TinyKWSError:
            pass
        except Exception as exc:  # noqa: BLE001 - the point of the test
            unexpected.append(f"{name} #{i}: {type(exc).__name__}: {exc}")
    return n, unexpected


def test_unmutated_models_generate(models):
    for name, data in models.items():
        assert generate_engine(data, source=f"{name}.tflite").arena_bytes > 0


def test_mutated_models_raise_only_tinykws_errors(models):
    n, unexpected = run_campaign(models, 300, seed=12)
    assert not unexpected, f"{len(unexpected)} of {n} mutated models escaped:\n" + "\n".join(unexpected[:20])


@pytest.mark.slow
def test_mutated_models_long_run(models):
    n, unexpected = run_campaign(models, 5000, seed=1234)
    assert not unexpected, f"{len(unexpected)} of {n} mutated models escaped:\n" + "\n".join(unexpected[:20])
