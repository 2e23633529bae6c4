"""Ship a trained run as a model folder (models/NAME/) with a model card.

The folder holds what `predict`, `check`, `firmware` and `stream` need
(config.json, int8.tflite, float.tflite, labels.txt, manifest.json) plus
README.md, the model card, with the cross-validated figures and a confusion
matrix aggregated over the folds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tinykws.errors import InputError
from tinykws.fsutil import atomic_dir
from tinykws.run import Run

SHIPPED = ("config.json", "int8.tflite", "float.tflite", "labels.txt", "manifest.json", "training.png",
           "history.csv")


def load_cv(cv_dir: Path) -> tuple[dict, np.ndarray | None]:
    """cv.json and the int8 confusion matrix summed over the folds."""
    path = Path(cv_dir) / "cv.json"
    if not path.exists():
        raise InputError(f"{path}: missing (run tinykws cv first)")
    report = json.loads(path.read_text())
    total = None
    for fold in report["folds"]:
        fold_json = Path(cv_dir) / f"fold{fold['fold']}" / "fold.json"
        if fold_json.exists():
            conf = np.asarray(json.loads(fold_json.read_text())["engines"]["int8"]["confusion"])
            total = conf if total is None else total + conf
    return report, total


def _pct(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f}% ± {100 * stats['std']:.2f} (min {100 * stats['min']:.2f}, max {100 * stats['max']:.2f})"


def model_card(run: Run, cv: dict, confusion: np.ndarray | None, name: str, data_note: str,
               notes: str = "") -> str:
    manifest = json.loads(run.manifest.read_text())
    labels = run.config.labels
    recall = {label: np.mean([f["recall"][label] for f in cv["folds"]]) for label in labels}
    tc = run.config.train
    lines = [
        f"# {name}: keyword spotting, 12 classes, int8", "",
        f"A {run.config.model.name} (depthwise separable CNN) for the 12-class Speech Commands task "
        f"({', '.join(labels)}), int8 full-integer quantized for TensorFlow Lite Micro and the tinykws C engine.", "",
        "## Data and licence", "", data_note, "",
        "## Accuracy on speakers training never saw", "",
        f"Speaker-grouped {cv['k']}-fold cross-validation of the whole recipe (train, quantize, test on the "
        "held-out fold's speakers; checkpoints chosen on a validation split of the training speakers):", "",
        "| model | accuracy (mean ± std over folds) |", "|---|---|",
        f"| float | {_pct(cv['float_accuracy'])} |", f"| int8 | {_pct(cv['int8_accuracy'])} |", "",
        f"int8 drop: {cv['int8_drop_pp']:.2f} points. Training time for all folds: {cv['train_seconds'] / 60:.1f} min "
        "on a 2-core machine.", "",
        "Per-class recall (int8, mean over folds):", "", "| label | recall |", "|---|---|",
        *[f"| {label} | {100 * r:.1f}% |" for label, r in recall.items()], "",
        "Confusion matrix (int8, summed over folds): `confusion_cv_int8.png`." if confusion is not None else "", "",
        "## Model", "",
        "| params | MACs | int8 .tflite | TFLite Micro arena |", "|---|---|---|---|",
        f"| {manifest['params']:,} | {manifest['macs']:,} | {manifest['artifacts']['int8.tflite']['bytes']:,} B | "
        f"{manifest['tflm_arena_bytes']:,} B |", "",
        f"Operators: {', '.join(o['op'] for o in manifest['ops'])}.", "",
        "## Recipe", "",
        f"Epochs {tc.epochs}, batch {tc.batch_size}, Adam with learning rates {list(tc.learning_rates)} in equal "
        f"phases, silence {tc.silence_share:.0%} and unknown {tc.unknown_share:.0%} of the mix, time shift up to "
        f"{tc.time_shift_ms:.0f} ms, background noise in {tc.noise_prob:.0%} of clips up to {tc.noise_max}, "
        f"gain ±{tc.gain_db} dB, SpecAugment {tc.spec_time_masks} time masks (≤{tc.spec_time_width} frames) and "
        f"{tc.spec_freq_masks} mel masks (≤{tc.spec_freq_width} bins), mixup α={tc.mixup_alpha}, "
        f"label smoothing {tc.label_smoothing}. Full settings: `config.json`.", "",
        "Reproduce: `make reference-model DATA=../shared/data/speech_commands_v0.02_real`.", "",
    ]
    return "\n".join(lines) + ("\n" + notes.strip() + "\n" if notes.strip() else "")


def ship(run: Run, cv_dir: Path, out: Path, data_note: str, notes: str = "") -> Path:
    from tinykws.verify.report import plot_confusion

    for name in ("config.json", "int8.tflite", "manifest.json"):
        if not (run.path / name).exists():
            raise InputError(f"{run.path / name}: missing; export the run first")
    cv, confusion = load_cv(cv_dir)
    card = model_card(run, cv, confusion, Path(out).name, data_note, notes)
    with atomic_dir(Path(out)) as tmp:
        for name in SHIPPED:
            if (run.path / name).exists():
                shutil.copy2(run.path / name, tmp / name)
        shutil.copytree(run.c_dir, tmp / "c")
        if (run.path / "stream" / "tradeoff.png").exists():
            shutil.copy2(run.path / "stream" / "tradeoff.png", tmp / "stream_tradeoff.png")
        shutil.copy2(Path(cv_dir) / "cv.json", tmp / "cv.json")
        (tmp / "README.md").write_text(card)
        if confusion is not None:
            plot_confusion(confusion.tolist(), list(run.config.labels), "int8, all folds",
                           tmp / "confusion_cv_int8.png")
    return Path(out)
