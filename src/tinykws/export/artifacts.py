"""Export artifacts of a run: .tflite files, C array, settings header, manifest.

Everything is computed first and written last, each file atomically, so a
failure leaves no half-written artifact behind. Exporting twice gives
byte-identical files (no time stamps, sorted keys).
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tinykws import __version__
from tinykws.config import RunConfig
from tinykws.errors import InputError
from tinykws.fsutil import atomic_write_bytes, atomic_write_text
from tinykws.run import Run
from tinykws.templates import render, unique_macro_names
from tinykws.export.tflite_info import read_model_info

MODEL_SYMBOL = "g_tinykws_model_data"
BYTES_PER_LINE = 12
_VERSIONED = ("tensorflow", "keras", "numpy", "ai-edge-litert", "tflite-micro", "tflite", "jinja2")


@dataclass(frozen=True)
class QuantParams:
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int


@dataclass(frozen=True)
class ExportResult:
    files: dict[str, Path]
    float_bytes: int
    int8_bytes: int
    arena_bytes: int


def c_array_lines(data: bytes, per_line: int = BYTES_PER_LINE) -> list[str]:
    return [", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + ","
            for i in range(0, len(data), per_line)]


def render_model_data(data: bytes, source: str, symbol: str = MODEL_SYMBOL,
                      header: str = "model_data.h") -> tuple[str, str]:
    ctx = dict(name=symbol, version=__version__, source=source, sha256=hashlib.sha256(data).hexdigest(),
               symbol=symbol, length=len(data), guard=f"{symbol.upper()}_H", len_macro=f"{symbol.upper()}_LEN",
               header=header, lines=c_array_lines(data))
    return render("export/model_data.h.j2", **ctx), render("export/model_data.c.j2", **ctx)


def quant_params(int8_model: bytes) -> QuantParams:
    from tinykws.verify.engines import LiteRTEngine

    engine = LiteRTEngine(int8_model, source="int8.tflite")
    return QuantParams(engine.input.scale, engine.input.zero_point, engine.output.scale, engine.output.zero_point)


def render_settings(cfg: RunConfig, qp: QuantParams, prefix: str = "TINYKWS") -> str:
    norm = cfg.normalisation
    n = cfg.features.n_mfcc
    return render(
        "export/model_settings.h.j2", prefix=prefix, model_name=cfg.model.name,
        version=__version__, f=cfg.features, n_frames=cfg.features.n_frames,
        norm_mean=norm.mean if norm else (0.0,) * n, norm_std=norm.std if norm else (1.0,) * n,
        input_scale=qp.input_scale, input_zero_point=qp.input_zero_point,
        output_scale=qp.output_scale, output_zero_point=qp.output_zero_point,
        labels=cfg.labels, label_macros=unique_macro_names(cfg.labels),
    )


def _versions() -> dict[str, str]:
    out = {"tinykws": __version__, "python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build_manifest(run: Run, int8_model: bytes, arena_bytes: int, artifacts: dict[str, bytes]) -> dict:
    from tinykws.model.profile import profile_config

    info = read_model_info(int8_model, str(run.int8_tflite))
    prof = profile_config(run.config.model, run.config.features, len(run.config.labels))
    return {
        "versions": _versions(),
        "model": run.config.model.name,
        "labels": list(run.config.labels),
        "params": prof.params,
        "macs": prof.macs,
        "ops": [{"op": name, "version": version} for name, version in info.ops],
        "layers": list(info.op_sequence),
        "tflm_arena_bytes": arena_bytes,
        "artifacts": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                      for name, data in sorted(artifacts.items())},
    }


def c_artifacts(run: Run, int8_model: bytes) -> dict[str, bytes]:
    header, source = render_model_data(int8_model, "int8.tflite")
    settings = render_settings(run.config, quant_params(int8_model))
    return {"c/model_data.h": header.encode(), "c/model_data.c": source.encode(),
            "c/model_settings.h": settings.encode()}


def write_artifacts(run: Run, float_model: bytes | None, int8_model: bytes) -> ExportResult:
    """Write .tflite files, C sources and manifest.json into the run directory."""
    from tinykws.verify.engines import tflm_arena_bytes

    artifacts: dict[str, bytes] = {"int8.tflite": int8_model}
    if float_model is not None:
        artifacts["float.tflite"] = float_model
    artifacts.update(c_artifacts(run, int8_model))
    arena = tflm_arena_bytes(int8_model)
    manifest = json.dumps(build_manifest(run, int8_model, arena, artifacts), indent=2, sort_keys=True) + "\n"
    files = {}
    for name, data in artifacts.items():
        files[name] = run.path / name
        atomic_write_bytes(files[name], data)
    atomic_write_text(run.manifest, manifest)
    files["manifest.json"] = run.manifest
    return ExportResult(files, len(float_model or b""), len(int8_model), arena)


def export_run(run: Run) -> ExportResult:
    """Quantize the run's Keras model to int8 and write every export artifact."""
    import keras

    from tinykws.data.speech_commands import discover
    from tinykws.export.quantize import quantize

    if not run.keras_model.exists():
        raise InputError(f"{run.keras_model}: missing; train the run first (tinykws train ... --out {run.path})")
    if run.config.normalisation is None:
        raise InputError(f"{run.path / 'config.json'}: no normalisation constants (was the run trained?)")
    model = keras.models.load_model(run.keras_model)
    dataset = discover([Path(d) for d in run.config.data_dirs], run.config.labels,
                       run.config.train.validation_share)
    quantized = quantize(model, dataset, run.config)
    return write_artifacts(run, quantized.float_tflite, quantized.int8_tflite)
