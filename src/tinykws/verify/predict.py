"""Classify WAV files with a run's model (int8 .tflite on LiteRT, or the float model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.audio.io import load_clip
from tinykws.errors import InputError
from tinykws.audio.mfcc import model_input, quantize_input
from tinykws.run import Run, open_run


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str
    top3: tuple[tuple[str, float], ...]


def float_scores(run: Run, x: np.ndarray) -> np.ndarray:
    if run.keras_model.exists():
        import keras

        return np.asarray(keras.models.load_model(run.keras_model).predict(x, verbose=0))
    from tinykws.verify.engines import LiteRTEngine, read_model_bytes

    engine = LiteRTEngine(read_model_bytes(run.float_tflite), source=str(run.float_tflite))
    return engine.run(x)


def int8_scores(run: Run, x: np.ndarray) -> np.ndarray:
    from tinykws.verify.engines import LiteRTEngine, read_model_bytes

    engine = LiteRTEngine(read_model_bytes(run.int8_tflite), source=str(run.int8_tflite))
    q = quantize_input(x, engine.input.scale, engine.input.zero_point)
    out = engine.run(q).astype(np.float64)
    return (out - engine.output.zero_point) * engine.output.scale


def predict_files(run_dir: Path, wavs: list[Path], engine: str = "auto") -> list[Prediction]:
    run = open_run(run_dir)
    if engine == "auto":
        engine = "int8" if run.int8_tflite.exists() else "float"
    if engine not in ("int8", "float"):
        raise InputError(f"unknown engine {engine!r}: use int8 or float")
    audio = np.stack([load_clip(w, run.config.features.sample_rate, run.config.features.clip_samples)
                      for w in wavs])
    x = model_input(audio, run.config.features, run.config.normalisation)
    scores = int8_scores(run, x) if engine == "int8" else float_scores(run, x)
    labels = run.config.labels
    out = []
    for path, s in zip(wavs, scores):
        order = np.argsort(-s)[:3]
        out.append(Prediction(Path(path), labels[order[0]], tuple((labels[i], float(s[i])) for i in order)))
    return out
