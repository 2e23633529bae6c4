"""RAM and flash figures of a bundle, computed at generation time from what is generated."""

from __future__ import annotations

from tinykws.config import FeatureConfig
from tinykws.audio.frontend import state_bytes as frontend_state_bytes  # noqa: F401 (the bundle's figures)
from tinykws.audio.frontend import table_bytes as frontend_table_bytes  # noqa: F401


def recognizer_state_bytes(n_classes: int, average_results: int) -> int:
    """sizeof(tk_recognizer_t): params, int8 ring (padded to 4), int32 sums and counters, 4 words."""
    return 5 * 4 + (average_results * n_classes + 3) // 4 * 4 + 8 * n_classes + 4 * 4


def golden_bytes(ctx) -> int:
    f = ctx.run.config.features
    count = f.n_frames * f.n_mfcc
    per_clip = 2 * f.clip_samples + 4 * count + 2 * count + ctx.facts.output_size + 1
    return len(ctx.golden.clips) * per_clip


def memory_rows(ctx, engine) -> list[tuple[str, int, str]]:
    """(what, bytes, where) rows for the README and bundle.json."""
    f = ctx.run.config.features
    count = f.n_frames * f.n_mfcc
    rows: list[tuple[str, int, str]] = []
    if engine is not None:
        rows += [("C engine arena (all activations)", engine.arena_bytes, "RAM, static"),
                 ("C engine constants (weights, biases, requantization)", engine.constant_bytes, "flash")]
        if engine.incremental is not None:
            rows.append(("C engine incremental inference state (row buffers, MEAN sums; --stream)",
                         engine.incremental.state_bytes, "RAM, static"))
    rows += [("TFLite Micro arena, measured (Python runtime, 64-bit host)", ctx.tflm_arena_bytes,
              "RAM, for the tflm target"),
             ("int8.tflite flatbuffer", len(ctx.facts.data), "flash, for the tflm target"),
             ("feature front end state (tk_features_t)", frontend_state_bytes(f), "RAM"),
             ("feature front end tables", frontend_table_bytes(f), "flash"),
             ("feature window (caller-owned, int8)", count, "RAM"),
             ("streaming recognizer state (tk_recognizer_t)",
              recognizer_state_bytes(len(ctx.run.config.labels), ctx.run.config.stream.average_results), "RAM"),
             ("golden vectors (self-test only)", golden_bytes(ctx), "flash")]
    return rows
