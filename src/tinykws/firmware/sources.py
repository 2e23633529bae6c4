"""The C sources every bundle is made of, as {relative path: bytes}.

Each function returns the files of one part (engine, front end, application,
golden vectors, platform, TFLite Micro array) under a folder name the caller
chooses, so a target can lay them out in folders or flat (Arduino's src/).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tinykws import __version__
from tinykws.export.artifacts import render_model_data, render_settings, QuantParams
from tinykws.audio.frontend import c_float, render_frontend
from tinykws.run import Run
from tinykws.templates import render, templates_dir
from tinykws.firmware.golden import GoldenSet
from tinykws.firmware.model_facts import ModelFacts, label_macros

Files = dict[str, bytes]
ENGINE_PREFIX = "tinykws"
APP_STATIC = ("tk_app.h", "tk_app.c", "tk_detector.h", "tk_detector.c", "tk_self_test.h", "tk_self_test.c",
              "tk_wav.h", "tk_wav.c", "main.c")
VALUES_PER_LINE = 16


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def engine_files(facts: ModelFacts, folder: str) -> tuple[Files, object]:
    """The generated C engine and its kernel library; also returns the GeneratedEngine. With
    incremental inference for the --stream mode where the model allows it (VALID in time,
    tinykws.codegen.incremental), else the full window only (``engine.incremental`` is None)."""
    from tinykws.codegen import IncrementalError, generate_engine

    try:
        engine = generate_engine(facts.data, prefix=ENGINE_PREFIX, source="int8.tflite",
                                 incremental_hop=facts.stream_hop_frames or None)
    except IncrementalError:
        engine = generate_engine(facts.data, prefix=ENGINE_PREFIX, source="int8.tflite")
    return {_join(folder, n): t.encode() for n, t in sorted(engine.files.items())}, engine


def frontend_files(run: Run, facts: ModelFacts, folder: str) -> Files:
    with tempfile.TemporaryDirectory(prefix="tinykws-frontend-") as tmp:
        written = render_frontend(Path(tmp), run.config.features, run.config.normalisation, facts.input_scale,
                                  facts.input_zero_point)
        return {_join(folder, p.name): p.read_bytes() for p in sorted(written)}


def tflite_files(run: Run, facts: ModelFacts, folder: str) -> Files:
    """The .tflite as a C array and model_settings.h, for TensorFlow Lite Micro users."""
    header, source = render_model_data(facts.data, "int8.tflite")
    qp = QuantParams(facts.input_scale, facts.input_zero_point, facts.output_scale, facts.output_zero_point)
    return {_join(folder, "model_data.h"): header.encode(), _join(folder, "model_data.c"): source.encode(),
            _join(folder, "model_settings.h"): render_settings(run.config, qp).encode()}


def model_glue_files(run: Run, facts: ModelFacts, folder: str, with_engine: bool) -> Files:
    labels = run.config.labels
    ctx = dict(version=__version__, run_name=run.path.name, input_size=facts.input_size,
               output_size=facts.output_size, output_scale=c_float(facts.output_scale),
               output_zero_point=facts.output_zero_point, labels=labels, label_macros=label_macros(labels),
               engine_header=f"{ENGINE_PREFIX}.h" if with_engine else "", engine_prefix=ENGINE_PREFIX,
               engine_macro=ENGINE_PREFIX.upper(),
               backend_comment=("the generated C engine (model/)" if with_engine
                                else "TensorFlow Lite Micro (tk_model_invoke is in main.cc)"))
    return {_join(folder, "tk_model.h"): render("app/tk_model.h.j2", **ctx).encode(),
            _join(folder, "tk_model.c"): render("app/tk_model.c.j2", **ctx).encode()}


def app_files(folder: str, names: tuple[str, ...] = APP_STATIC) -> Files:
    root = templates_dir() / "app"
    return {_join(folder, n): (root / n).read_bytes() for n in names}


def _lines(values: list[str], per_line: int = VALUES_PER_LINE) -> list[str]:
    return [", ".join(values[i:i + per_line]) + "," for i in range(0, len(values), per_line)]


def _clip_context(clip, labels: tuple[str, ...]) -> dict:
    return dict(
        name=clip.name, label=clip.label, label_name=labels[clip.label],
        pcm=_lines([str(int(v)) for v in clip.pcm]),
        mfcc=_lines([c_float(v) for v in np.asarray(clip.mfcc).reshape(-1)], 8),
        input=_lines([str(int(v)) for v in clip.input]),
        input_alt=_lines([str(int(v)) for v in clip.input_alt]),
        n_ties=int(np.sum(clip.input != clip.input_alt)),
        output=", ".join(str(int(v)) for v in clip.output),
    )


def golden_files(run: Run, golden: GoldenSet, folder: str) -> Files:
    clips = [_clip_context(c, run.config.labels) for c in golden.clips]
    ctx = dict(version=__version__, run_name=run.path.name, n_clips=len(clips), clips=clips,
               source_comment=golden.source, tolerance=c_float(golden.tolerance))
    return {_join(folder, "tk_golden.h"): render("app/tk_golden.h.j2", **ctx).encode(),
            _join(folder, "tk_golden.c"): render("app/tk_golden.c.j2", **ctx).encode()}


def platform_files(platform: str, folder: str) -> Files:
    """tk_platform.h for the host, or startup + semihosting + counter + linker scripts + stack probe
    for a Cortex-M."""
    root = templates_dir() / "platform"
    if platform == "host":
        names = [root / "host" / "tk_platform.h"]
    else:
        probe = templates_dir() / "targets" / "cortex-m"
        names = sorted((root / "cortex-m").iterdir()) + sorted((root / platform).iterdir()) + [
            probe / "tk_stack_probe.h", probe / "tk_stack_probe.c"]
    return {_join(folder, p.name): p.read_bytes() for p in names if p.is_file()}
