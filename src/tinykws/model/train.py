"""tf.data pipeline and training loop.

Clips are held in memory as waveforms; each epoch draws a training mix
(keywords plus configurable shares of silence and unknown words), augments
it on the fly (random time shift, background noise mixed in) and computes
the MFCC in numpy, batch by batch, through ``tf.data.Dataset.from_generator``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from tinykws.config import SILENCE, UNKNOWN, FeatureConfig, RunConfig, TrainConfig, save_config
from tinykws.data.loading import LoadedClips, load_clips, load_noise
from tinykws.data.speech_commands import TRAIN, VALIDATION, Dataset, discover
from tinykws.errors import DataError
from tinykws.data.augment import augment_audio, mixup, noise_crop, spec_augment
from tinykws.audio.mfcc import compute_normalisation, log_mel, mfcc, mfcc_from_log_mel, model_input, normalise
from tinykws.fsutil import atomic_write_text


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


def epoch_indices(y: np.ndarray, labels: tuple[str, ...], tc: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Indices of one epoch's mix: every keyword clip once, silence and unknown
    drawn to their configured shares (index -1 means generated silence)."""
    silence_id = labels.index(SILENCE) if SILENCE in labels else -2
    unknown_id = labels.index(UNKNOWN) if UNKNOWN in labels else -2
    keywords = np.flatnonzero((y != silence_id) & (y != unknown_id))
    base = max(len(keywords), 1)
    total = base / max(1e-6, 1.0 - tc.silence_share - tc.unknown_share)
    parts = [keywords]
    for class_id, share in ((unknown_id, tc.unknown_share), (silence_id, tc.silence_share)):
        pool = np.flatnonzero(y == class_id)
        n = int(round(total * share))
        if n == 0:
            continue
        if len(pool) == 0:
            if class_id == silence_id:
                parts.append(np.full(n, -1))
            continue
        parts.append(rng.choice(pool, size=n, replace=n > len(pool)))
    idx = np.concatenate(parts)
    rng.shuffle(idx)
    return idx


def _silence_clip(noise: list[np.ndarray], fc: FeatureConfig, rng: np.random.Generator) -> np.ndarray:
    if not noise:
        return np.zeros(fc.clip_samples, np.float32)
    return rng.uniform(0.0, 1.0) * noise_crop(noise, fc.clip_samples, rng)


def augmented_features(audio: np.ndarray, data: "TrainingData", cfg: RunConfig,
                       rng: np.random.Generator) -> np.ndarray:
    tc = cfg.train
    spec = log_mel(augment_audio(audio, data.noise, tc, cfg.features, rng), cfg.features)
    if tc.spec_time_masks or tc.spec_freq_masks:
        spec = spec_augment(spec, tc, rng)
    return normalise(mfcc_from_log_mel(spec, cfg.features), cfg.normalisation)[..., None]


def training_batches(data: TrainingData, cfg: RunConfig, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of augmented (features, one-hot labels) batches; a new mix per call."""
    rng = np.random.default_rng(seed)
    tc = cfg.train
    idx = epoch_indices(data.y_train, cfg.labels, tc, rng)
    silence_id = cfg.labels.index(SILENCE) if SILENCE in cfg.labels else 0
    eye = np.eye(len(cfg.labels), dtype=np.float32)
    for start in range(0, len(idx), tc.batch_size):
        batch = idx[start : start + tc.batch_size]
        audio = np.stack([data.train.audio[i] if i >= 0 else _silence_clip(data.noise, cfg.features, rng)
                          for i in batch])
        y = eye[[data.y_train[i] if i >= 0 else silence_id for i in batch]]
        x = augmented_features(audio, data, cfg, rng)
        if tc.mixup_alpha:
            x, y = mixup(x, y, tc.mixup_alpha, rng)
        yield x.astype(np.float32), y


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


def fit(model, data: TrainingData, cfg: RunConfig, run_dir: Path,
        on_epoch: EpochCallback | None = None) -> tuple[list[dict], float]:
    """Train; keep the weights of the best validation epoch. Returns (history, clips/s)."""
    import tensorflow as tf

    tc = cfg.train
    spec = (tf.TensorSpec((None, cfg.features.n_frames, cfg.features.n_mfcc, 1), tf.float32),
            tf.TensorSpec((None, len(cfg.labels)), tf.float32))
    x_val = model_input(data.val.audio, cfg.features, cfg.normalisation) if len(data.val.clips) else None
    history: list[dict] = []
    best = (-1.0, 0)
    best_weights = model.get_weights()
    seen, busy = 0, 0.0
    for epoch in range(tc.epochs):
        model.optimizer.learning_rate.assign(lr_for_epoch(epoch, tc))
        epoch_seed = tc.seed * 1000 + epoch
        n_clips = len(epoch_indices(data.y_train, cfg.labels, tc, np.random.default_rng(epoch_seed)))
        ds = tf.data.Dataset.from_generator(
            lambda s=epoch_seed: training_batches(data, cfg, s), output_signature=spec
        ).prefetch(2)
        t0 = time.perf_counter()
        logs = model.fit(ds, epochs=1, verbose=0, shuffle=False, steps_per_epoch=-(-n_clips // tc.batch_size)).history
        busy += time.perf_counter() - t0
        seen += n_clips
        row = {"epoch": epoch + 1, "lr": float(lr_for_epoch(epoch, tc)),
               "loss": float(logs["loss"][-1]), "accuracy": float(logs["accuracy"][-1])}
        if x_val is not None:
            y_val = np.eye(len(cfg.labels), dtype=np.float32)[data.y_val]
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
          dataset: Dataset | None = None) -> TrainResult:
    """Train a model on ``cfg.data_dirs`` (or an already split ``dataset``) and write the run directory."""
    import keras

    from tinykws.model.build import build_model

    if dataset is None:
        dataset = discover([Path(d) for d in cfg.data_dirs], cfg.labels, cfg.train.validation_share)
    data = prepare_data(dataset, cfg, load_progress)
    clean = mfcc(data.train.audio, cfg.features)
    cfg = cfg.replace(normalisation=compute_normalisation(clean))
    keras.utils.set_random_seed(cfg.train.seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.json")
    atomic_write_text(run_dir / "labels.txt", "\n".join(cfg.labels) + "\n")
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
