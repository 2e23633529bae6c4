"""The host-side accuracy and fidelity check: the same clips through every engine.

Engines: ``float`` (Keras), ``tflite-float`` (LiteRT), ``int8`` (LiteRT
reference kernels, no XNNPACK) and ``tflm`` (TFLite Micro runtime), plus any
engine registered in ``EXTRA_ENGINES`` (the generated C engine, QEMU).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws.data.loading import load_clips
from tinykws.data.speech_commands import VALIDATION, discover
from tinykws.errors import CheckFailed, DataError, InputError, ModelError
from tinykws.audio.mfcc import model_input, quantize_input
from tinykws.fsutil import atomic_write_text
from tinykws.verify.metrics import confusion, identical_rows, lsb_histogram, per_class, score_errors
from tinykws.run import Run

DEFAULT_ENGINES = ("float", "tflite-float", "int8", "tflm")
INT8_ENGINES = {"int8", "tflm", "c", "qemu"}


@dataclass(frozen=True)
class CheckOptions:
    engines: tuple[str, ...] = DEFAULT_ENGINES
    max_drop_pp: float = 1.0
    min_agreement: float = 0.95
    split: str = "auto"  # auto | validation | all


@dataclass(frozen=True)
class EvalSet:
    paths: tuple[Path, ...]
    y: np.ndarray
    audio: np.ndarray
    skipped: tuple[str, ...]


def select_clips(run: Run, data_dirs: list[Path], split: str) -> EvalSet:
    """Held-out clips: the validation split of the run's own data, every clip of other data."""
    cfg = run.config
    trained_on = {str(Path(d).resolve()) for d in cfg.data_dirs}
    dataset = discover(data_dirs, cfg.labels, cfg.train.validation_share)
    if split == "auto":
        split = "validation" if any(str(Path(d).resolve()) in trained_on for d in data_dirs) else "all"
    if split not in ("validation", "all"):
        raise InputError(f"unknown split {split!r}: use auto, validation or all")
    clips = dataset.split(VALIDATION) if split == "validation" else dataset.clips
    if not clips:
        raise DataError(f"{', '.join(map(str, data_dirs))}: no clips in the {split} split")
    return eval_set(clips, cfg)


def eval_set(clips, cfg) -> EvalSet:
    loaded = load_clips(clips, cfg.features)
    index = {label: i for i, label in enumerate(cfg.labels)}
    y = np.array([index[c.label] for c in loaded.clips], np.int64)
    return EvalSet(tuple(c.path for c in loaded.clips), y, loaded.audio, loaded.skipped)


def _dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float64) - zero_point) * scale


def _c_engine(run: Run, model: bytes):
    """The generated C engine, compiled for the host (a shared library called through ctypes)."""
    from tinykws.codegen.host import CEngine

    return CEngine(model, source=str(run.int8_tflite))


def _qemu_engine(run: Run, model: bytes):
    """The cortex-m4 firmware bundle in QEMU: takes PCM (features are computed in C on the MCU)."""
    from tinykws.verify.qemu_engine import qemu_engine

    return qemu_engine(run, model)


# name -> factory(run, int8 model bytes) -> object with .run(int8 inputs) -> int8 outputs,
# or, for engines in PCM_ENGINES, .run_pcm(float audio clips) -> int8 outputs
EXTRA_ENGINES: dict[str, Callable] = {"c": _c_engine, "qemu": _qemu_engine}
PCM_ENGINES = {"qemu"}


def _make_int8_engine(name: str, run: Run, model: bytes):
    from tinykws.verify.engines import LiteRTEngine, TFLMEngine

    if name == "int8":
        return LiteRTEngine(model, name="int8", reference=True, source=str(run.int8_tflite))
    if name == "tflm":
        return TFLMEngine(model, source=str(run.int8_tflite))
    if name in EXTRA_ENGINES:
        return EXTRA_ENGINES[name](run, model)
    raise InputError(f"unknown engine {name!r}; available: {', '.join(available_engines())}")


def available_engines() -> list[str]:
    return list(DEFAULT_ENGINES) + sorted(EXTRA_ENGINES)


def run_engines(run: Run, data: EvalSet, engines: tuple[str, ...]) -> dict[str, dict]:
    """Scores (float, dequantized for int8) and raw int8 outputs per engine."""
    from tinykws.verify.predict import float_scores
    from tinykws.verify.engines import LiteRTEngine, read_model_bytes

    x = model_input(data.audio, run.config.features, run.config.normalisation)
    results: dict[str, dict] = {}
    int8_model = read_model_bytes(run.int8_tflite) if INT8_ENGINES & set(engines) else None
    qp = LiteRTEngine(int8_model, source=str(run.int8_tflite)) if int8_model else None
    for name in engines:
        if name == "float":
            if not run.keras_model.exists():
                raise InputError(f"{run.keras_model}: missing, cannot run engine 'float' (use tflite-float)")
            results[name] = {"scores": float_scores(run, x)}
        elif name == "tflite-float":
            engine = LiteRTEngine(read_model_bytes(run.float_tflite), name=name, source=str(run.float_tflite))
            results[name] = {"scores": engine.run(x)}
        else:
            engine = _make_int8_engine(name, run, int8_model)
            if name in PCM_ENGINES:
                raw = engine.run_pcm(data.audio).reshape(len(x), -1)
            else:
                raw = engine.run(quantize_input(x, qp.input.scale, qp.input.zero_point)).reshape(len(x), -1)
            results[name] = {"raw": raw, "scores": _dequantize(raw, qp.output.scale, qp.output.zero_point)}
        n_out = results[name]["scores"].reshape(len(x), -1).shape[1]
        if n_out != len(run.config.labels):
            raise ModelError(f"{run.path}: the model has {n_out} outputs but the run has "
                             f"{len(run.config.labels)} labels")
    return results


def _reference_float(results: dict) -> str | None:
    return next((n for n in ("float", "tflite-float") if n in results), None)


def summarise(run: Run, data: EvalSet, results: dict, opts: CheckOptions) -> dict:
    labels = run.config.labels
    report: dict = {"n_clips": int(len(data.y)), "labels": list(labels), "engines": {},
                    "skipped_files": list(data.skipped)}
    preds = {}
    for name, r in results.items():
        pred = np.argmax(r["scores"].reshape(len(data.y), -1), axis=1)
        preds[name] = pred
        conf = confusion(data.y, pred, len(labels))
        report["engines"][name] = {"accuracy": float(np.mean(pred == data.y)),
                                   "per_class": per_class(conf, labels), "confusion": conf.tolist()}
    ref = _reference_float(results)
    report["agreement"] = {}
    if ref and "int8" in results:
        report["agreement"]["float_vs_int8"] = float(np.mean(preds[ref] == preds["int8"]))
        report["int8_drop_pp"] = 100.0 * (report["engines"][ref]["accuracy"] - report["engines"]["int8"]["accuracy"])
        report["score_error_int8_vs_float"] = score_errors(results[ref]["scores"], results["int8"]["scores"])
        report["float_reference"] = ref
    if "int8" in results and "tflm" in results:
        report["litert_vs_tflm"] = {
            "identical_outputs": identical_rows(results["int8"]["raw"], results["tflm"]["raw"]),
            "identical_elements": float(np.mean(results["int8"]["raw"] == results["tflm"]["raw"])),
            "lsb_histogram": lsb_histogram(results["int8"]["raw"], results["tflm"]["raw"]),
        }
    bitexact = {f"{name}_vs_tflm": identical_rows(results[name]["raw"], results["tflm"]["raw"])
                for name in results if name in INT8_ENGINES - {"int8", "tflm"} - PCM_ENGINES and "tflm" in results}
    if bitexact:
        report["bitexact"] = bitexact
    pcm = {f"{name}_vs_{ref}": {"top1_agreement": float(np.mean(preds[name] == preds[ref])),
                                "identical_outputs": identical_rows(results[name]["raw"], results[ref]["raw"])}
           for name in results if name in PCM_ENGINES for ref in ("int8", "tflm") if ref in results}
    if pcm:
        report["pcm_agreement"] = pcm
    failures = verdict(report, opts)
    report["thresholds"] = {"max_drop_pp": opts.max_drop_pp, "min_agreement": opts.min_agreement}
    report["failures"] = failures
    report["passed"] = not failures
    return report


def verdict(report: dict, opts: CheckOptions) -> list[str]:
    failures = []
    drop = report.get("int8_drop_pp")
    if drop is not None and drop > opts.max_drop_pp:
        failures.append(f"int8 accuracy drop {drop:.2f} points exceeds --max-drop {opts.max_drop_pp}")
    agreement = report["agreement"].get("float_vs_int8")
    if agreement is not None and agreement < opts.min_agreement:
        failures.append(f"float/int8 top-1 agreement {agreement:.4f} below {opts.min_agreement}")
    for name, share in report.get("bitexact", {}).items():
        if share < 1.0:
            failures.append(f"{name}: only {share:.4f} of outputs bit-identical")
    for name, agreement in report.get("pcm_agreement", {}).items():
        if agreement["top1_agreement"] < opts.min_agreement:
            failures.append(f"{name}: top-1 agreement {agreement['top1_agreement']:.4f} below {opts.min_agreement}")
    return failures


def check_run(run: Run, data_dirs: list[Path], opts: CheckOptions, out_dir: Path | None = None,
              json_path: Path | None = None) -> dict:
    """Run the check, write check.json, check.md and plots; raise CheckFailed if it fails."""
    from tinykws.verify.report import write_report

    data = select_clips(run, data_dirs, opts.split)
    results = run_engines(run, data, opts.engines)
    report = summarise(run, data, results, opts)
    out_dir = Path(out_dir or run.check_dir)
    write_report(report, out_dir)
    if json_path is not None:
        atomic_write_text(Path(json_path), json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def raise_if_failed(report: dict) -> None:
    if not report["passed"]:
        raise CheckFailed("; ".join(report["failures"]))


