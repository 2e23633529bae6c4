"""Ship a trained run as a model folder (models/NAME/) with a model card.

The folder holds what `predict`, `check`, `firmware` and `stream` need
(config.json, int8.tflite, float.tflite, labels.txt, manifest.json) plus
README.md, the model card, and the results files it quotes: cv.json (the
cross-validation of the recipe), check.json (`tinykws check` of the shipped
model) and stream_eval.json (`tinykws stream-eval`) when the run has them.
Every figure and fact of the card comes from those files and the run's
config: classes, architecture, data, recipe. A cv.json made from another
recipe is refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tinykws.config import RunConfig, config_from_dict, config_to_dict
from tinykws.errors import InputError
from tinykws.fsutil import atomic_dir
from tinykws.run import Run

SHIPPED = ("config.json", "int8.tflite", "float.tflite", "labels.txt", "manifest.json", "training.png",
           "history.csv")
#: Results of the shipped model copied beside it (run path -> name in the model folder).
RESULTS = {("check", "check.json"): "check.json", ("stream", "stream_eval.json"): "stream_eval.json"}
#: Config fields that differ between a cross-validation and the final run of one recipe.
NOT_RECIPE = ("data_dirs", "normalisation", "train.seed", "stream")
ARCHITECTURES = {"ds-cnn": "depthwise separable CNN",
                 "mobilenetv2": "MobileNetV2-style CNN with inverted residual bottlenecks"}
SPEECH_COMMANDS_NOTE = ("Speech Commands v0.02 (Pete Warden, arXiv:1804.03209) is licensed CC BY 4.0; "
                        "the model is released under the same licence terms.")


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


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, object] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
    return out


def recipe_differences(config: RunConfig, cv_config: dict) -> list[str]:
    """Dotted names of the recipe fields (all but NOT_RECIPE) in which the two configs differ."""
    ours = _flatten(config_to_dict(config))
    theirs = _flatten(config_to_dict(config_from_dict(cv_config)))
    ignored = lambda name: any(name == f or name.startswith(f + ".") for f in NOT_RECIPE)  # noqa: E731
    return sorted(k for k in ours.keys() | theirs.keys() if not ignored(k) and ours.get(k) != theirs.get(k))


def check_same_recipe(run: Run, cv: dict, cv_path: Path) -> None:
    if not isinstance(cv.get("config"), dict):
        raise InputError(f"{cv_path}: has no 'config'; it cannot show that it cross-validated this run's recipe")
    try:
        differing = recipe_differences(run.config, cv["config"])
    except (InputError, TypeError) as exc:
        raise InputError(f"{cv_path}: its config is not readable ({exc})") from None
    if differing:
        raise InputError(f"{cv_path}: cross-validates another recipe than {run.path / 'config.json'}; "
                         f"differing fields: {', '.join(differing)}")


def _pct(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f}% ± {100 * stats['std']:.2f} (min {100 * stats['min']:.2f}, max {100 * stats['max']:.2f})"


def architecture(config: RunConfig) -> str:
    return f"{config.model.name} ({ARCHITECTURES.get(config.model.kind, config.model.kind)})"


def data_note(config: RunConfig, cv: dict) -> str:
    """Where the clips came from, as the config records it; the clip count as the cross-validation saw it."""
    dirs = ", ".join(f"`{d}`" for d in config.data_dirs) or "(no data folder recorded in config.json)"
    clips = sum(int(f.get("n_test", 0)) for f in cv.get("folds", ()))
    counted = f" ({clips:,} clips in the {len(cv['folds'])} cross-validated folds)" if clips else ""
    note = f"Trained on the clips in {dirs}{counted}."
    if any("speech_commands" in d.lower() for d in config.data_dirs):
        note += " " + SPEECH_COMMANDS_NOTE
    return note


def _machine(cv: dict, manifest: dict) -> str:
    machine = cv.get("machine") or manifest.get("machine")
    return f" on {machine}" if machine else ""


def _accuracy_section(cv: dict, labels: tuple[str, ...], confusion: np.ndarray | None, machine: str) -> list[str]:
    recall = {label: np.mean([f["recall"][label] for f in cv["folds"]]) for label in labels}
    return [
        "## Accuracy on speakers training never saw", "",
        f"Speaker-grouped {cv['k']}-fold cross-validation of the whole recipe (train, quantize, test on the "
        "held-out fold's speakers; checkpoints chosen on a validation split of the training speakers), "
        f"{len(cv['folds'])} of {cv['k']} folds run:", "",
        "| model | accuracy (mean ± std over folds) |", "|---|---|",
        f"| float | {_pct(cv['float_accuracy'])} |", f"| int8 | {_pct(cv['int8_accuracy'])} |", "",
        f"int8 drop: {cv['int8_drop_pp']:.2f} points. Training time for all folds: {cv['train_seconds'] / 60:.1f} min"
        f"{machine}.", "",
        "Per-class recall (int8, mean over folds):", "", "| label | recall |", "|---|---|",
        *[f"| {label} | {100 * r:.1f}% |" for label, r in recall.items()], "",
        "Confusion matrix (int8, summed over folds): `confusion_cv_int8.png`." if confusion is not None else "", "",
    ]


def check_lines(check: dict | None) -> list[str]:
    """The shipped model's own `tinykws check` (check.json), or a note that there is none."""
    if not check:
        return ["No `tinykws check` of the shipped model was shipped (check.json missing).", ""]
    engines = check.get("engines", {})
    lines = [f"`tinykws check` on {check['n_clips']:,} held-out clips (check.json):", "",
             "| engine | accuracy |", "|---|---|",
             *[f"| {name} | {100 * e['accuracy']:.2f}% |" for name, e in engines.items()], ""]
    facts = []
    if "float_vs_int8" in check.get("agreement", {}):
        facts.append(f"float/int8 top-1 agreement {100 * check['agreement']['float_vs_int8']:.2f}%")
    if "int8_drop_pp" in check:
        facts.append(f"int8 drop {check['int8_drop_pp']:.2f} points")
    if "identical_outputs" in check.get("litert_vs_tflm", {}):
        facts.append(f"LiteRT and TFLite Micro outputs bit-identical for "
                     f"{100 * check['litert_vs_tflm']['identical_outputs']:.2f}% of clips")
    return lines + ([", ".join(facts) + ".", ""] if facts else [])


def stream_lines(stream: dict | None) -> list[str]:
    """The streaming operating point from stream_eval.json, or a note that there is none."""
    if not stream:
        return ["No `tinykws stream-eval` of the shipped model was shipped (stream_eval.json missing).", ""]
    latency = stream.get("latency_ms", {})
    chosen = stream.get("operating_point", {}).get("chosen_on")
    speakers = stream.get("speakers", {})
    where = (f" Threshold chosen on a validation stream of {speakers.get('validation', '?')} other held-out "
             f"speakers; test stream of {speakers.get('test', '?')} speakers." if chosen == "validation stream"
             else f" Threshold: {chosen}." if chosen else "")
    clean = stream.get("clean")
    return [f"`tinykws stream-eval`: {stream['minutes']:g} min of test stream at {stream['snr_db']:g} dB SNR "
            f"({stream['events']['keyword']:,} keywords, {stream['events']['unknown']:,} unknown words). "
            f"Threshold int8 {stream['threshold']} "
            f"(p = {stream['threshold_probability']:.2f}): {100 * stream['false_reject_rate']:.1f}% false "
            f"rejections at {stream['false_accepts_per_hour']:.1f} false accepts per hour"
            + (f", median latency {latency['median']:.0f} ms" if latency.get("median") is not None else "")
            + (f"; clean: {100 * clean['false_reject_rate']:.1f}% at {clean['false_accepts_per_hour']:.1f} per hour"
               if clean else "")
            + "." + where + " Trade-off curve: `stream_tradeoff.png`.", ""]


def _recipe_lines(config: RunConfig) -> list[str]:
    tc = config.train
    return [
        "## Recipe", "",
        f"Epochs {tc.epochs}, batch {tc.batch_size}, Adam with learning rates {list(tc.learning_rates)} in equal "
        f"phases, silence {tc.silence_share:.0%} and unknown {tc.unknown_share:.0%} of the mix, time shift up to "
        f"{tc.time_shift_ms:.0f} ms, background noise in {tc.noise_prob:.0%} of clips up to {tc.noise_max}, "
        f"gain ±{tc.gain_db} dB, SpecAugment {tc.spec_time_masks} time masks (≤{tc.spec_time_width} frames) and "
        f"{tc.spec_freq_masks} mel masks (≤{tc.spec_freq_width} bins), mixup α={tc.mixup_alpha}, "
        f"label smoothing {tc.label_smoothing}. Full settings: `config.json`.", "",
    ]


def model_card(run: Run, cv: dict, confusion: np.ndarray | None, name: str, note: str | None = None,
               notes: str = "", check: dict | None = None, stream: dict | None = None) -> str:
    manifest = json.loads(run.manifest.read_text())
    config = run.config
    labels = config.labels
    lines = [
        f"# {name}: keyword spotting, {len(labels)} classes, int8", "",
        f"A {architecture(config)} for {len(labels)} classes ({', '.join(labels)}), int8 full-integer quantized "
        "for TensorFlow Lite Micro and the tinykws C engine.", "",
        "## Data and licence", "", note or data_note(config, cv), "",
        *_accuracy_section(cv, labels, confusion, _machine(cv, manifest)),
        "## The shipped model", "", *check_lines(check), *stream_lines(stream),
        "## Model", "",
        "| params | MACs | int8 .tflite | TFLite Micro arena |", "|---|---|---|---|",
        f"| {manifest['params']:,} | {manifest['macs']:,} | {manifest['artifacts']['int8.tflite']['bytes']:,} B | "
        f"{manifest['tflm_arena_bytes']:,} B |", "",
        f"Operators: {', '.join(o['op'] for o in manifest['ops'])}.", "",
        *_recipe_lines(config),
        f"Reproduce: `make reference-model REF_NAME={name} DATA=../shared/data/speech_commands_v0.02_real`.", "",
    ]
    return "\n".join(lines) + ("\n" + notes.strip() + "\n" if notes.strip() else "")


def _run_results(run: Run) -> dict[str, Path]:
    """The results files of the run that the card quotes, by their name in the model folder."""
    found = {}
    for (sub, file), shipped_name in RESULTS.items():
        for candidate in (run.path / sub / file, run.path / shipped_name):
            if candidate.is_file():
                found[shipped_name] = candidate
                break
    return found


def _read_json(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable results file ({exc})") from None


def ship(run: Run, cv_dir: Path, out: Path, note: str | None = None, notes: str = "") -> Path:
    from tinykws.verify.report import plot_confusion

    for name in ("config.json", "int8.tflite", "manifest.json"):
        if not (run.path / name).exists():
            raise InputError(f"{run.path / name}: missing; export the run first")
    cv, confusion = load_cv(cv_dir)
    check_same_recipe(run, cv, Path(cv_dir) / "cv.json")
    results = _run_results(run)
    card = model_card(run, cv, confusion, Path(out).name, note, notes, _read_json(results.get("check.json")),
                      _read_json(results.get("stream_eval.json")))
    with atomic_dir(Path(out)) as tmp:
        for name in SHIPPED:
            if (run.path / name).exists():
                shutil.copy2(run.path / name, tmp / name)
        shutil.copytree(run.c_dir, tmp / "c")
        if (run.path / "stream" / "tradeoff.png").exists():
            shutil.copy2(run.path / "stream" / "tradeoff.png", tmp / "stream_tradeoff.png")
        for shipped_name, source in results.items():
            shutil.copy2(source, tmp / shipped_name)
        shutil.copy2(Path(cv_dir) / "cv.json", tmp / "cv.json")
        (tmp / "README.md").write_text(card)
        if confusion is not None:
            plot_confusion(confusion.tolist(), list(run.config.labels), "int8, all folds",
                           tmp / "confusion_cv_int8.png")
    return Path(out)
