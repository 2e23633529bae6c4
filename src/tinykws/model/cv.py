"""Speaker-grouped k-fold cross-validation of the whole recipe: train, quantize, test.

Each fold holds out a disjoint set of speakers of the evaluation data as its
test set; checkpoint selection uses a validation split of the remaining
speakers, so the test fold never influences training. Extra training folders
(synthesised speech) only ever go into training.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.config import RunConfig
from tinykws.data.speech_commands import TEST, TRAIN, VALIDATION, Dataset, discover, speaker_folds
from tinykws.errors import DataError
from tinykws.fsutil import atomic_write_text


@dataclass(frozen=True)
class FoldResult:
    fold: int
    n_test: int
    float_accuracy: float
    int8_accuracy: float
    agreement: float
    recall: dict
    seconds: float


def fold_dataset(evaluation: Dataset, extra: Dataset | None, held_out: set[str]) -> Dataset:
    """Held-out speakers -> test; the other evaluation speakers keep their train/validation split."""
    clips = []
    for c in evaluation.clips:
        if c.speaker in held_out:
            clips.append(dataclasses.replace(c, split=TEST))
        else:
            clips.append(dataclasses.replace(c, split=VALIDATION if c.split == VALIDATION else TRAIN))
    if extra is not None:
        clips.extend(dataclasses.replace(c, split=TRAIN) for c in extra.clips)
    noise = evaluation.noise_files + (extra.noise_files if extra else ())
    return Dataset(tuple(clips), noise, evaluation.labels)


def evaluate_fold(run_dir: Path, dataset: Dataset) -> dict:
    from tinykws.run import open_run
    from tinykws.verify.check import CheckOptions, eval_set, run_engines, summarise

    run = open_run(run_dir)
    data = eval_set(dataset.split(TEST), run.config)
    results = run_engines(run, data, ("float", "int8"))
    return summarise(run, data, results, CheckOptions(engines=("float", "int8")))


def run_fold(cfg: RunConfig, dataset: Dataset, fold: int, out: Path, on_epoch=None) -> FoldResult:
    from tinykws.export.artifacts import write_artifacts
    from tinykws.export.quantize import quantize
    from tinykws.run import open_run
    from tinykws.model.train import train

    t0 = time.perf_counter()
    run_dir = out / f"fold{fold}"
    train(cfg, run_dir, on_epoch=on_epoch, dataset=dataset)
    run = open_run(run_dir)
    import keras

    quantized = quantize(keras.models.load_model(run.keras_model), dataset, run.config)
    write_artifacts(run, quantized.float_tflite, quantized.int8_tflite)
    report = evaluate_fold(run_dir, dataset)
    atomic_write_text(run_dir / "fold.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    recall = {label: v["recall"] for label, v in report["engines"]["int8"]["per_class"].items()}
    result = FoldResult(fold, report["n_clips"], report["engines"]["float"]["accuracy"],
                        report["engines"]["int8"]["accuracy"], report["agreement"]["float_vs_int8"], recall,
                        time.perf_counter() - t0)
    record = {"result": dataclasses.asdict(result), "config": _recipe_of(cfg)}
    atomic_write_text(run_dir / _DONE, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return result


_DONE = "fold_result.json"  # written last: a fold with it is complete and is not trained again


def _machine() -> str:
    import os
    import platform

    return f"a {platform.machine()} machine with {os.cpu_count()} cores"


def _recipe_of(cfg: RunConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def finished_fold(cfg: RunConfig, out: Path, fold: int) -> FoldResult | None:
    """The result of a fold completed by an earlier run of the same recipe, or None.

    A fold made with another recipe is an error: its folder is never overwritten."""
    path = out / f"fold{fold}" / _DONE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        result = FoldResult(**record["result"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: unreadable fold result ({exc}); remove that fold folder to train it again") from None
    if record.get("config") != _recipe_of(cfg):
        raise DataError(f"{path}: fold {fold} was trained with another recipe; use another --out")
    return result


def summary(results: list[FoldResult]) -> dict:
    f = np.array([r.float_accuracy for r in results])
    q = np.array([r.int8_accuracy for r in results])
    return {
        "folds": [dataclasses.asdict(r) for r in results],
        "float_accuracy": {"mean": float(f.mean()), "std": float(f.std(ddof=1)) if len(f) > 1 else 0.0,
                           "min": float(f.min()), "max": float(f.max())},
        "int8_accuracy": {"mean": float(q.mean()), "std": float(q.std(ddof=1)) if len(q) > 1 else 0.0,
                          "min": float(q.min()), "max": float(q.max())},
        "int8_drop_pp": float(100 * (f.mean() - q.mean())),
        "train_seconds": float(sum(r.seconds for r in results)),
    }


def cross_validate(cfg: RunConfig, eval_dirs: list[Path], extra_dirs: list[Path], k: int, out: Path,
                   folds: list[int] | None = None,
                   on_fold: Callable[[FoldResult], None] | None = None, on_epoch=None) -> dict:
    if k < 2:
        raise DataError(f"k-fold cross-validation needs k >= 2, got {k}")
    evaluation = discover(eval_dirs, cfg.labels, cfg.train.validation_share)
    extra = discover(extra_dirs, cfg.labels, cfg.train.validation_share) if extra_dirs else None
    splits = speaker_folds(evaluation.clips, k)
    wanted = list(folds) if folds is not None else list(range(k))
    # cv.json summarises every finished fold of the folder, also those an earlier `--fold` run made
    results = {j: r for j in range(k) if j not in wanted for r in (finished_fold(cfg, out, j),) if r is not None}
    report = None
    for i in wanted:
        result = finished_fold(cfg, out, i)
        if result is None:
            result = run_fold(cfg, fold_dataset(evaluation, extra, splits[i][1]), i, out, on_epoch)
        results[i] = result
        if on_fold is not None:
            on_fold(result)
        report = summary([results[j] for j in sorted(results)]) | {"k": k, "config": _recipe_of(cfg),
                                                                    "machine": _machine()}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "cv.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
