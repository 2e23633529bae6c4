"""Training loop: a run's data, the model, the schedule and the best checkpoint.

Clips are decoded once and held as an int16 bank; every epoch draws a fresh,
class-balanced mix and augmentation plan (``tinykws.data.pipeline``), whose
batches are assembled in vectorised numpy and turned into MFCC by tf.signal in
parallel ``tf.data`` map calls while the model trains. ``--distribute``
trains under a ``tf.distribute`` strategy (all local GPUs, or several machines
with ``TF_CONFIG``); the batch size is then global.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.audio.mfcc import compute_normalisation, mfcc, model_input
from tinykws.config import SILENCE, RunConfig, TrainConfig, save_config
from tinykws.data.loading import LoadedClips, load_clips, load_noise
from tinykws.data.pipeline import NoiseBank, plan_epoch, speech_coverage, training_dataset
from tinykws.data.speech_commands import TRAIN, VALIDATION, Dataset, discover
from tinykws.errors import DataError, InputError
from tinykws.fsutil import atomic_write_text

DISTRIBUTE = ("none", "mirrored", "multiworker")


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_val_accuracy: float
    best_epoch: int
    train_clips_per_s: float
    n_train: int
    n_val: int
    skipped: tuple[str, ...]


@dataclass
class TrainingData:
    """Waveforms of both splits, their labels, and the noise bank for augmentation."""

    train: LoadedClips
    val: LoadedClips
    y_train: np.ndarray
    y_val: np.ndarray
    noise: list[np.ndarray]
    skipped: tuple[str, ...]


def prepare_data(dataset: Dataset, cfg: RunConfig, progress=None) -> TrainingData:
    label_index = {label: i for i, label in enumerate(cfg.labels)}
    train = load_clips(dataset.split(TRAIN), cfg.features, progress)
    val = load_clips(dataset.split(VALIDATION), cfg.features, progress)
    if len(train.clips) == 0:
        raise DataError("the training split is empty")
    noise, skipped_noise = load_noise(dataset.noise_files, cfg.features)
    silence = [a for a, c in zip(train.audio, train.clips) if c.label == SILENCE]
    noise.extend(silence)
    y_train = np.array([label_index[c.label] for c in train.clips], np.int32)
    y_val = np.array([label_index[c.label] for c in val.clips], np.int32)
    return TrainingData(train, val, y_train, y_val, noise, train.skipped + val.skipped + tuple(skipped_noise))


def lr_for_epoch(epoch: int, tc: TrainConfig) -> float:
    phases = len(tc.learning_rates)
    phase = min(phases - 1, epoch * phases // max(tc.epochs, 1))
    return tc.learning_rates[phase]


def _write_history(history: list[dict], run_dir: Path) -> None:
    keys = list(history[0].keys())
    lines = [",".join(keys)] + [",".join(f"{row[k]:.6g}" if isinstance(row[k], float) else str(row[k])
                                         for k in keys) for row in history]
    atomic_write_text(run_dir / "history.csv", "\n".join(lines) + "\n")


def plot_history(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [r["loss"] for r in history], label="train")
    ax1.plot(epochs, [r["val_loss"] for r in history], label="validation")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.plot(epochs, [r["accuracy"] for r in history], label="train")
    ax2.plot(epochs, [r["val_accuracy"] for r in history], label="validation (unseen speakers)")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


EpochCallback = Callable[[int, int, dict], None]


def distribution_strategy(name: str | None):
    """None for one device; MirroredStrategy over every local GPU (or, without one, every logical CPU device);
    MultiWorkerMirroredStrategy over the machines that ``TF_CONFIG`` names."""
    import tensorflow as tf

    if name in (None, "none"):
        return None
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise InputError("--distribute multiworker needs TF_CONFIG (the cluster and this worker's task) "
                             "in the environment; see README, 'Training on several machines'")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise InputError(f"unknown --distribute {name!r}; choose one of {', '.join(DISTRIBUTE)}")


def fit(model, data: TrainingData, cfg: RunConfig, run_dir: Path,
        on_epoch: EpochCallback | None = None) -> tuple[list[dict], float]:
    """Train; keep the weights of the best validation epoch. Returns (history, clips/s end to end)."""
    tc, fc = cfg.train, cfg.features
    bank = data.train.int16()
    noise = NoiseBank(data.noise, fc.clip_samples)
    coverage = speech_coverage(bank) if tc.stream_share or tc.partial_share else None
    x_val = model_input(data.val.audio, fc, cfg.normalisation) if len(data.val.clips) else None
    y_val = np.eye(len(cfg.labels), dtype=np.float32)[data.y_val]
    history: list[dict] = []
    best = (-1.0, 0)
    best_weights = model.get_weights()
    seen, busy = 0, 0.0
    for epoch in range(tc.epochs):
        model.optimizer.learning_rate.assign(lr_for_epoch(epoch, tc))
        epoch_seed = tc.seed * 1000 + epoch
        plan = plan_epoch(data.y_train, cfg.labels, tc, fc, noise, np.random.default_rng(epoch_seed),
                          coverage)
        ds = training_dataset(plan, bank, noise, fc, tc, cfg.normalisation, len(cfg.labels), epoch_seed)
        t0 = time.perf_counter()
        logs = model.fit(ds, epochs=1, verbose=0, shuffle=False).history
        busy += time.perf_counter() - t0
        seen += len(plan)
        row = {"epoch": epoch + 1, "lr": float(lr_for_epoch(epoch, tc)),
               "loss": float(logs["loss"][-1]), "accuracy": float(logs["accuracy"][-1])}
        if x_val is not None:
            val_loss, val_acc = model.evaluate(x_val, y_val, verbose=0, batch_size=256)
        else:
            val_loss, val_acc = row["loss"], row["accuracy"]
        row.update(val_loss=float(val_loss), val_accuracy=float(val_acc))
        history.append(row)
        if row["val_accuracy"] > best[0]:
            best = (row["val_accuracy"], epoch + 1)
            best_weights = model.get_weights()
        _write_history(history, run_dir)
        if on_epoch is not None:
            on_epoch(epoch + 1, tc.epochs, row)
    model.set_weights(best_weights)
    return history, seen / max(busy, 1e-9)


def compile_model(model, cfg: RunConfig) -> None:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(cfg.train.learning_rates[0]),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.train.label_smoothing),
                  metrics=["accuracy"])


def train(cfg: RunConfig, run_dir: Path, load_progress=None, on_epoch: EpochCallback | None = None,
          dataset: Dataset | None = None, distribute: str | None = None,
          on_counts: Callable[[dict[str, dict[str, int]]], None] | None = None) -> TrainResult:
    """Train a model on ``cfg.data_dirs`` (or an already split ``dataset``) and write the run directory."""
    import contextlib

    import keras

    from tinykws.model.build import build_model

    if dataset is None:
        dataset = discover([Path(d) for d in cfg.data_dirs], cfg.labels, cfg.train.validation_share)
    if on_counts is not None:
        on_counts({split: dataset.counts(split) for split in (TRAIN, VALIDATION)})
    data = prepare_data(dataset, cfg, load_progress)
    clean = mfcc(data.train.audio, cfg.features)
    cfg = cfg.replace(normalisation=compute_normalisation(clean))
    keras.utils.set_random_seed(cfg.train.seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.json")
    atomic_write_text(run_dir / "labels.txt", "\n".join(cfg.labels) + "\n")
    strategy = distribution_strategy(distribute)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(cfg.model, cfg.features, len(cfg.labels))
        compile_model(model, cfg)
    history, rate = fit(model, data, cfg, run_dir, on_epoch)
    tmp = run_dir / ".model.tmp.keras"
    model.save(tmp)
    tmp.replace(run_dir / "model.keras")
    plot_history(history, run_dir / "training.png")
    best = max(history, key=lambda r: r["val_accuracy"])
    return TrainResult(run_dir, best["val_accuracy"], best["epoch"], rate,
                       len(data.train.clips), len(data.val.clips), data.skipped)
