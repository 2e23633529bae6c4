"""The typer app's top-level commands; the sub-CLIs register themselves at the end.

Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input, 3 the environment failed
(see cli/common.py and README.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

from tinykws import tfquiet  # noqa: E402

tfquiet.install()
# oneDNN kernels: training runs about 2x faster on x86 CPUs than with TensorFlow's default here
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import typer

from tinykws.cli.common import console, err_console, guarded, progress as _progress

app = typer.Typer(
    help="tinykws: keyword spotting for microcontrollers (train, quantize, export, verify).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _run_training(cfg, out: Path, distribute: str = "none"):
    from tinykws.model.train import train

    with _progress() as bar:
        load_task = bar.add_task("loading clips", total=None)
        epoch_task = bar.add_task("training", total=cfg.train.epochs)

        def on_load(done: int, total: int) -> None:
            bar.update(load_task, completed=done, total=total)

        def on_epoch(epoch: int, total: int, row: dict) -> None:
            bar.update(epoch_task, completed=epoch,
                       description=f"training (loss {row['loss']:.3f}, val acc {row['val_accuracy']:.3f})")

        result = train(cfg, out, load_progress=on_load, on_epoch=on_epoch, distribute=distribute,
                       on_counts=_print_counts)
    for message in result.skipped:
        err_console.print(f"[yellow]skipped:[/] {message}", highlight=False)
    if result.skipped:
        err_console.print(f"[yellow]{len(result.skipped)} unreadable file(s) skipped[/]")
    console.print(f"trained {cfg.model.name} on {result.n_train} clips, validated on {result.n_val} "
                  f"(speaker-disjoint): best val accuracy {result.best_val_accuracy:.4f} at epoch "
                  f"{result.best_epoch}; {result.train_clips_per_s:.0f} clips/s")
    console.print(f"run directory: {out}")
    return result


def _print_counts(counts: dict[str, dict[str, int]]) -> None:
    """Per-label clip counts of each split, as loaded (the keywords are balanced per epoch)."""
    from rich.table import Table

    table = Table(title="clips per label")
    table.add_column("label")
    for split in counts:
        table.add_column(split, justify="right")
    labels = next(iter(counts.values())).keys() if counts else ()
    for label in labels:
        table.add_row(label, *(f"{counts[split][label]:,}" for split in counts))
    err_console.print(table)


def _train_config(data_dir: list[Path], preset_name: str, epochs: int | None, seed: int, width: float,
                  depth: int | None, batch_size: int | None):
    import dataclasses

    from tinykws.config import RunConfig
    from tinykws.model.build import preset

    from tinykws.model.build import stream_config_for

    model = preset(preset_name, width, depth)
    cfg = RunConfig(model=model, data_dirs=tuple(str(d) for d in data_dir))
    cfg = cfg.replace(stream=stream_config_for(model, cfg.stream))
    changes = {"seed": seed}
    if epochs is not None:
        changes["epochs"] = epochs
    if batch_size is not None:
        changes["batch_size"] = batch_size
    return cfg.replace(train=dataclasses.replace(cfg.train, **changes))


DataDirOpt = Annotated[list[Path], typer.Option("--data-dir", help="data folder (repeat to merge several)")]
PresetOpt = Annotated[str, typer.Option(help="model preset: ds-cnn-s, ds-cnn-m, ds-cnn-l, mobilenetv2-s, "
                                                     "ds-cnn-s-stream (VALID in time, for the incremental stream engine)")]
MAX_EPOCHS, MAX_BATCH = 100_000, 65_536
EpochsOpt = Annotated[Optional[int], typer.Option(min=1, max=MAX_EPOCHS,
                                                  help="epochs (default 36, the reference schedule)")]
SeedOpt = Annotated[int, typer.Option(help="random seed")]
WidthOpt = Annotated[float, typer.Option(help="channel width multiplier")]
DepthOpt = Annotated[Optional[int], typer.Option(help="number of depthwise separable blocks")]
BatchOpt = Annotated[Optional[int], typer.Option(min=1, max=MAX_BATCH, help="batch size (default 100)")]
OutOpt = Annotated[Path, typer.Option("--out", help="run directory to write")]
ForceOpt = Annotated[bool, typer.Option("--force", help="retrain an existing run directory: first removes "
                                                         "everything tinykws wrote into it")]


RecipeOpt = Annotated[Optional[Path], typer.Option(help="JSON of training settings (TrainConfig fields)")]
DistributeOpt = Annotated[str, typer.Option(
    help="none | mirrored (tf.distribute.MirroredStrategy over all local GPUs) | multiworker "
         "(MultiWorkerMirroredStrategy, cluster from TF_CONFIG); the batch size is global")]


@app.command()
@guarded
def train(data_dir: DataDirOpt, out: OutOpt, preset: PresetOpt = "ds-cnn-s", epochs: EpochsOpt = None,
          seed: SeedOpt = 0, width: WidthOpt = 1.0, depth: DepthOpt = None, batch_size: BatchOpt = None,
          recipe: RecipeOpt = None, distribute: DistributeOpt = "none", force: ForceOpt = False) -> None:
    """Train a DS-CNN on Speech Commands-style folders; writes a run directory."""
    from tinykws.run import prepare_run_dir

    prepare_run_dir(out, force)
    cfg = _apply_recipe(_train_config(data_dir, preset, None, seed, width, depth, batch_size), recipe)
    _run_training(_with_epochs(cfg, epochs), out, distribute)


def _with_epochs(cfg, epochs: Optional[int]):
    import dataclasses

    return cfg if epochs is None else cfg.replace(train=dataclasses.replace(cfg.train, epochs=epochs))


@app.command()
@guarded
def profile(
    model_file: Annotated[Optional[Path], typer.Argument(help="a run's config.json or run directory")] = None,
    preset: Annotated[Optional[str], typer.Option(help="a preset name instead of a model")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Params, MACs and int8 activation bytes per layer; separable vs standard convolution."""
    import json

    from tinykws.config import FeatureConfig
    from tinykws.errors import InputError
    from tinykws.model.build import preset as get_preset
    from tinykws.model.profile import profile_config, profile_to_dict, separable_rows

    if (model_file is None) == (preset is None):
        raise InputError("give exactly one of --preset NAME or MODEL_FILE")
    if preset is not None:
        mcfg, fcfg, n_classes = get_preset(preset), FeatureConfig(), 12
    else:
        from tinykws.run import open_run

        run = open_run(model_file.parent if model_file.is_file() else model_file)
        mcfg, fcfg, n_classes = run.config.model, run.config.features, len(run.config.labels)
    prof = profile_config(mcfg, fcfg, n_classes)
    if as_json:
        console.print_json(json.dumps(profile_to_dict(prof)))
        return
    _print_profile(prof, separable_rows(prof))


def _print_profile(prof, sep_rows) -> None:
    from rich.table import Table

    table = Table(title=f"{prof.name}: {prof.params:,} params, {prof.macs:,} MACs")
    for col in ("layer", "operator", "output", "params", "MACs", "int8 act bytes"):
        table.add_column(col, justify="right" if col not in ("layer", "operator") else "left")
    for l in prof.layers:
        table.add_row(l.name, l.op, "x".join(map(str, l.out_shape)), f"{l.params:,}", f"{l.macs:,}",
                      f"{l.act_bytes:,}")
    console.print(table)
    sep = Table(title="depthwise separable vs standard convolution")
    for col in ("block", "separable MACs", "standard MACs", "ratio", "1/Cout + 1/K^2"):
        sep.add_column(col, justify="right")
    for block, macs, std, ratio, formula in sep_rows:
        sep.add_row(block, f"{macs:,}", f"{std:,}", f"{ratio:.4f}", f"{formula:.4f}")
    console.print(sep)
    console.print(f"peak int8 activations (input + output of one layer): {prof.peak_act_bytes:,} bytes")


@app.command()
@guarded
def predict(
    run_dir: Annotated[Path, typer.Argument(help="run directory or shipped model folder")],
    wavs: Annotated[list[Path], typer.Argument(help="WAV files")],
    engine: Annotated[str, typer.Option(help="int8 (the .tflite that runs on the MCU) or float")] = "auto",
) -> None:
    """Label and top-3 scores for each WAV file."""
    from tinykws.verify.predict import predict_files

    for result in predict_files(run_dir, wavs, engine):
        top = "  ".join(f"{label} {score:.3f}" for label, score in result.top3)
        console.print(f"{result.path}: [bold]{result.label}[/]  ({top})", highlight=False)


RunArg = Annotated[Path, typer.Argument(help="run directory (or a shipped models/... folder)")]


def _export(run_dir: Path):
    from tinykws.export.artifacts import export_run
    from tinykws.run import open_run

    with err_console.status("quantizing to int8 and exporting"):
        result = export_run(open_run(run_dir))
    console.print(f"float.tflite {result.float_bytes:,} B, int8.tflite {result.int8_bytes:,} B, "
                  f"TFLite Micro arena {result.arena_bytes:,} B")
    console.print(f"C array and settings: {run_dir / 'c'}; manifest: {run_dir / 'manifest.json'}")
    return result


@app.command()
@guarded
def export(run_dir: RunArg) -> None:
    """Full-integer int8 quantization of a trained run and every export artifact."""
    _export(run_dir)


def _check(run_dir: Path, data_dir: list[Path], engines: str, max_drop: float, min_agreement: float,
           split: str, json_path: Optional[Path]) -> dict:
    from tinykws.run import open_run
    from tinykws.verify.check import CheckOptions, check_run

    opts = CheckOptions(engines=tuple(e.strip() for e in engines.split(",") if e.strip()),
                        max_drop_pp=max_drop, min_agreement=min_agreement, split=split)
    run = open_run(run_dir)
    with err_console.status(f"running {', '.join(opts.engines)} on held-out clips"):
        report = check_run(run, data_dir, opts, json_path=json_path)
    _print_check(report, run.check_dir)
    return report


def _print_check(report: dict, out_dir: Path) -> None:
    for name, e in report["engines"].items():
        console.print(f"  {name:<13} accuracy {100 * e['accuracy']:6.2f}%")
    if "int8_drop_pp" in report:
        console.print(f"  int8 drop {report['int8_drop_pp']:.2f} points, float/int8 agreement "
                      f"{100 * report['agreement']['float_vs_int8']:.2f}%")
    if "litert_vs_tflm" in report:
        console.print(f"  LiteRT vs TFLite Micro: {100 * report['litert_vs_tflm']['identical_outputs']:.2f}% "
                      "bit-identical")
    for name, share in report.get("bitexact", {}).items():
        console.print(f"  {name}: {100 * share:.2f}% bit-identical")
    for name, a in report.get("pcm_agreement", {}).items():
        console.print(f"  {name} (C features from PCM): top-1 agreement {100 * a['top1_agreement']:.2f}%, "
                      f"{100 * a['identical_outputs']:.2f}% bit-identical")
    verdict = "[bold green]PASSED[/]" if report["passed"] else "[bold red]FAILED[/]"
    console.print(f"check {verdict} on {report['n_clips']} clips; report: {out_dir / 'check.md'}")


EnginesOpt = Annotated[str, typer.Option(help="comma-separated engines: float,tflite-float,int8,tflm (and c, qemu)")]
MaxDropOpt = Annotated[float, typer.Option(min=0.0, max=100.0, help="largest allowed int8 accuracy drop, in points")]
AgreeOpt = Annotated[float, typer.Option(min=0.0, max=1.0, help="smallest allowed float/int8 top-1 agreement (0-1)")]
SplitOpt = Annotated[str, typer.Option(help="auto (held-out split of the run's own data, else all), validation, all")]
JsonOpt = Annotated[Optional[Path], typer.Option("--json", help="also write check.json here")]


@app.command()
@guarded
def check(run_dir: RunArg, data_dir: DataDirOpt, engines: EnginesOpt = "float,tflite-float,int8,tflm",
          max_drop: MaxDropOpt = 1.0, min_agreement: AgreeOpt = 0.95, split: SplitOpt = "auto",
          json_path: JsonOpt = None) -> None:
    """Run the same clips through every engine; exit 1 if int8 falls short."""
    from tinykws.verify.check import raise_if_failed

    raise_if_failed(_check(run_dir, data_dir, engines, max_drop, min_agreement, split, json_path))


@app.command("train-and-export")
@guarded
def train_and_export(data_dir: DataDirOpt, out: OutOpt, preset: PresetOpt = "ds-cnn-s",
                     epochs: EpochsOpt = None, seed: SeedOpt = 0, width: WidthOpt = 1.0, depth: DepthOpt = None,
                     batch_size: BatchOpt = None, recipe: RecipeOpt = None, max_drop: MaxDropOpt = 1.0,
                     min_agreement: AgreeOpt = 0.95, force: ForceOpt = False) -> None:
    """Train, quantize to int8, export (TFLite, C array) and check, in one go."""
    from tinykws.run import prepare_run_dir
    from tinykws.verify.check import raise_if_failed

    prepare_run_dir(out, force)
    cfg = _apply_recipe(_train_config(data_dir, preset, None, seed, width, depth, batch_size), recipe)
    _run_training(_with_epochs(cfg, epochs), out)
    exported = _export(out)
    report = _check(out, data_dir, "float,tflite-float,int8,tflm", max_drop, min_agreement, "auto", None)
    console.print(f"[bold]summary[/]: float {100 * report['engines']['float']['accuracy']:.2f}%, "
                  f"int8 {100 * report['engines']['int8']['accuracy']:.2f}% "
                  f"(drop {report['int8_drop_pp']:.2f} pp), int8.tflite {exported.int8_bytes:,} B, "
                  f"arena {exported.arena_bytes:,} B; files in {out}")
    raise_if_failed(report)


@app.command()
@guarded
def cv(data_dir: DataDirOpt, out: OutOpt,
       extra_train_dir: Annotated[Optional[list[Path]], typer.Option(
           "--extra-train-dir", help="folders used for training only (e.g. synthesised speech)")] = None,
       folds: Annotated[int, typer.Option("--folds", "-k", min=2, max=100,
                                          help="number of speaker-grouped folds")] = 5,
       only_fold: Annotated[Optional[list[int]], typer.Option("--fold", help="run only these folds")] = None,
       preset: PresetOpt = "ds-cnn-s", epochs: EpochsOpt = None, seed: SeedOpt = 0, width: WidthOpt = 1.0,
       depth: DepthOpt = None, batch_size: BatchOpt = None, recipe: RecipeOpt = None) -> None:
    """Speaker-grouped k-fold cross-validation: float and int8 accuracy on unseen speakers."""
    from tinykws.model.cv import cross_validate

    cfg = _apply_recipe(_train_config(data_dir, preset, None, seed, width, depth, batch_size), recipe)
    cfg = _with_epochs(cfg, epochs)

    def on_fold(r) -> None:
        console.print(f"fold {r.fold}: {r.n_test} clips, float {100 * r.float_accuracy:.2f}%, "
                      f"int8 {100 * r.int8_accuracy:.2f}%, agreement {100 * r.agreement:.2f}% ({r.seconds:.0f} s)")

    with _progress() as bar:
        task = bar.add_task("cross-validation", total=None)

        def on_epoch(epoch: int, total: int, row: dict) -> None:
            bar.update(task, completed=epoch, total=total,
                       description=f"fold training (val acc {row['val_accuracy']:.3f})")

        report = cross_validate(cfg, data_dir, extra_train_dir or [], folds, out, only_fold, on_fold, on_epoch)
    f, q = report["float_accuracy"], report["int8_accuracy"]
    console.print(f"{len(report['folds'])} folds: float {100 * f['mean']:.2f}% +- {100 * f['std']:.2f}, "
                  f"int8 {100 * q['mean']:.2f}% +- {100 * q['std']:.2f} (drop {report['int8_drop_pp']:.2f} pp); "
                  f"{out / 'cv.json'}")


def _apply_recipe(cfg, recipe: Optional[Path]):
    import dataclasses
    import json

    from tinykws.errors import InputError

    if recipe is None:
        return cfg
    try:
        overrides = json.loads(recipe.read_text())
        train = dataclasses.replace(cfg.train, **{k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in overrides.items()})
    except (OSError, json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise InputError(f"{recipe}: not a usable recipe ({exc})") from None
    for name in ("epochs", "batch_size"):
        value = getattr(train, name)
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{recipe}: {name} must be a whole number of at least 1, got {value!r}")
    return cfg.replace(train=train)


@app.command()
@guarded
def ship(run_dir: RunArg, cv_dir: Annotated[Path, typer.Option("--cv", help="the tinykws cv output folder")],
         out: Annotated[Path, typer.Option("--out", help="model folder to write, e.g. models/ds-cnn-s-kws12")],
         data_note: Annotated[Optional[str], typer.Option(
             help="data and licence paragraph of the model card (default: made from the run's config.json, "
                  "its data folders, and the clip count of cv.json)")] = None,
         notes: Annotated[Optional[Path], typer.Option(help="markdown appended to the model card")] = None) -> None:
    """Copy an exported run into a model folder with a model card (cross-validated figures).

    Refuses (exit 2) a cv.json made from another recipe than the run's config.json."""
    from tinykws.errors import InputError
    from tinykws.model.card import ship as ship_model
    from tinykws.run import open_run

    try:
        extra = notes.read_text() if notes else ""
    except OSError as exc:
        raise InputError(f"{notes}: cannot read the notes ({exc.strerror})") from None
    path = ship_model(open_run(run_dir), cv_dir, out, data_note, extra)
    console.print(f"model folder: {path} (model card: {path / 'README.md'})")


# --- sub-apps registered by their modules (keep one line each) ---
from tinykws.cli.data import data_app as _data_app; app.add_typer(_data_app, name="data")  # noqa: E402,E702
from tinykws.cli.codegen import register as _register_codegen; _register_codegen(app)  # noqa: E402,E702
from tinykws.cli.stream import register as _register_stream; _register_stream(app)  # noqa: E402,E702
from tinykws.cli.firmware import register as _register_firmware; _register_firmware(app)  # noqa: E402,E702
