"""Per target: which sources go where, and the build files around them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable

from tinykws import __version__
from tinykws.errors import InputError
from tinykws.firmware import sources as src
from tinykws.firmware.golden import GoldenSet
from tinykws.firmware.memory import memory_rows
from tinykws.firmware.model_facts import ModelFacts, check_tflm_ops
from tinykws.firmware.zipfile_det import deterministic_zip
from tinykws.toolchain import get_platform
from tinykws.run import Run
from tinykws.stream.c import recognizer_files
from tinykws.templates import render

Files = src.Files
#: The TFLite Micro arena: measured (Python runtime, 64-bit host: larger than
#: on a 32-bit MCU) plus this share plus ARENA_SLACK, rounded up to 16 bytes.
TFLM_ARENA_MARGIN = 0.10
TFLM_ARENA_SLACK = 1024
ARDUINO_LIBRARY = "TinyKWSModel"  # not "TinyKWS": TinyKWS.h and tinykws.h collide on case-insensitive disks
ARDUINO_SKETCH = "KeywordSpotting"
#: Code memory of the QEMU machines where it is small (mps3-an547: 512 KB ITCM), and what the
#: program needs besides engine constants and golden vectors (measured ~62 KB, newlib included).
CODE_MEMORY = {"cortex-m55": 512 * 1024}
CODE_RESERVE = 72 * 1024


@dataclass(frozen=True)
class Context:
    target: str
    run: Run
    facts: ModelFacts
    golden: GoldenSet
    tflm_arena_bytes: int

    @property
    def tflm_arena_size(self) -> int:
        size = int(self.tflm_arena_bytes * (1.0 + TFLM_ARENA_MARGIN)) + TFLM_ARENA_SLACK
        return (size + 15) // 16 * 16


def _c_sources(files: Files, folders: tuple[str, ...]) -> list[str]:
    return sorted(p for p in files if p.endswith(".c") and p.split("/")[0] in folders)


def _common_ctx(ctx: Context, engine) -> dict:
    cfg = ctx.run.config
    f = cfg.features
    return dict(
        version=__version__, target=ctx.target, run_name=ctx.run.path.name, model_name=cfg.model.name,
        labels=cfg.labels, model_sha256=ctx.facts.sha256, sample_rate=f.sample_rate, hop_samples=f.hop_samples,
        hop_ms=round(1000 * f.hop_samples / f.sample_rate), clip_samples=f.clip_samples,
        overlap_samples=f.window_samples - f.hop_samples,
        feature_count=f.n_frames * f.n_mfcc, input_size=ctx.facts.input_size, output_size=ctx.facts.output_size,
        engine=engine is not None, engine_prefix=src.ENGINE_PREFIX,
        incremental=getattr(engine, "incremental", None),  # IncrementalPlan of --stream, or None
        memory=memory_rows(ctx, engine), golden_count=len(ctx.golden.clips), golden_source=ctx.golden.source,
        golden_clips=[(c.name, cfg.labels[c.label]) for c in ctx.golden.clips], tolerance=ctx.golden.tolerance,
        resolver_methods=ctx.facts.resolver_methods, tflm_arena_size=ctx.tflm_arena_size,
        library_name=ARDUINO_LIBRARY, sketch_name=ARDUINO_SKETCH, stream=cfg.stream,
        infer_every_ms=round(1000 * cfg.stream.infer_every_hops * f.hop_samples / f.sample_rate),
        cpu_flags=(), machine="", layout=[],
    )


def bundle_json(ctx: Context, engine, files: Files) -> bytes:
    cfg = ctx.run.config
    doc = {
        "target": ctx.target, "tinykws_version": __version__, "run": ctx.run.path.name,
        "model_sha256": ctx.facts.sha256, "labels": list(cfg.labels),
        "memory": {row[0]: row[1] for row in memory_rows(ctx, engine)},
        "golden": [{"name": c.name, "label": cfg.labels[c.label]} for c in ctx.golden.clips],
        "feature_tolerance": ctx.golden.tolerance,
        "stream": dataclasses.asdict(cfg.stream),
        "files": sorted(files),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _finish(ctx: Context, engine, files: Files, readme_ctx: dict) -> Files:
    files["README.md"] = render("targets/common/README.md.j2", **readme_ctx).encode()
    files["bundle.json"] = bundle_json(ctx, engine, files)
    return files


LAYOUT_NATIVE = [
    ("model/", "the generated C engine (`tinykws_invoke`) and its kernel library `tkw_*`"),
    ("features/", "the MFCC front end (`tk_features_*`), tables rendered from the run"),
    ("app/", "application: feature provider, classify, streaming detector, WAV reader, self-test, golden "
             "vectors, main"),
    ("recognizer/", "the streaming recognizer (`tk_recognizer_*`), its config rendered from the run's "
                    "StreamConfig"),
    ("platform/", "startup, linker script, semihosting and instruction counter (or host stub)"),
    ("tflite/", "the same model as a C array + `model_settings.h`, for TensorFlow Lite Micro users"),
]


def check_code_memory(ctx: Context, engine) -> None:
    """Golden vectors are PCM in flash: refuse a count that cannot fit the machine's code memory."""
    from tinykws.firmware.memory import golden_bytes

    limit = CODE_MEMORY.get(ctx.target)
    if limit is None:
        return
    need = golden_bytes(ctx) + engine.constant_bytes + CODE_RESERVE
    if need > limit:
        per_clip = golden_bytes(ctx) // len(ctx.golden.clips)
        fits = max(0, (limit - engine.constant_bytes - CODE_RESERVE) // per_clip)
        raise InputError(f"{len(ctx.golden.clips)} golden clips ({golden_bytes(ctx):,} B) do not fit the "
                         f"{limit // 1024} KB code memory of {ctx.target}; use --golden-count {fits} or fewer")


def native_files(ctx: Context) -> Files:
    """host, cortex-m4, cortex-m55: engine + front end + app + golden vectors + platform."""
    files, engine = src.engine_files(ctx.facts, "model")
    check_code_memory(ctx, engine)
    files |= src.frontend_files(ctx.run, ctx.facts, "features")
    files |= src.app_files("app")
    files |= src.model_glue_files(ctx.run, ctx.facts, "app", with_engine=True)
    files |= src.golden_files(ctx.run, ctx.golden, "app")
    files |= recognizer_files(ctx.run.config, "recognizer")
    files |= src.platform_files(ctx.target, "platform")
    files |= src.tflite_files(ctx.run, ctx.facts, "tflite")
    folders = ("model", "features", "app", "recognizer", "platform")
    build = dict(_common_ctx(ctx, engine), sources=_c_sources(files, folders), include_dirs=list(folders),
                 layout=LAYOUT_NATIVE)
    if ctx.target == "host":
        files["Makefile"] = render("targets/host/Makefile.j2", **build).encode()
    else:
        platform = get_platform(ctx.target)
        build.update(cpu_flags=platform.cpu_flags, machine=platform.machine, linker_script=platform.linker_script)
        files["Makefile"] = render("targets/cortex-m/Makefile.j2", **build).encode()
    build.setdefault("linker_script", "")
    files["CMakeLists.txt"] = render("targets/common/CMakeLists.txt.j2", cross=ctx.target != "host",
                                     **build).encode()
    return _finish(ctx, engine, files, build)


LAYOUT_TFLM = [
    ("main.cc", "TensorFlow Lite Micro glue: op resolver, arena, interpreter, `tk_model_invoke`"),
    ("features/", "the MFCC front end (`tk_features_*`), tables rendered from the run"),
    ("app/", "application: feature provider, classify, streaming detector, WAV reader, self-test, golden "
             "vectors"),
    ("recognizer/", "the streaming recognizer (`tk_recognizer_*`), its config rendered from the run's "
                    "StreamConfig"),
    ("tflite/", "the model as a C array (`g_tinykws_model_data`) + `model_settings.h`"),
    ("platform/", "host platform stub (no instruction counter); `platform/cortex-m4/`, `platform/cortex-m55/`: "
                  "startup, linker script, semihosting and instruction counter of the bare-metal bundles"),
]
#: TFLite Micro's cortex_m_generic TARGET_ARCH for each Cortex-M platform, with the platform's
#: hard-float ABI (TFLM's plain "cortex-m4" is cortex-m4+nofp, soft-float).
TFLM_ARCHES = {"cortex-m4": "cortex-m4+fp", "cortex-m55": "cortex-m55"}


def tflm_platforms() -> list[dict]:
    """The Cortex-M platforms a tflm bundle builds for, as its Makefile needs them."""
    platforms = []
    for name, tflm_arch in TFLM_ARCHES.items():
        p = get_platform(name)
        platforms.append(dict(name=name, tflm_arch=tflm_arch, cpu_flags=p.cpu_flags, machine=p.machine,
                              linker_script=p.linker_script))
    return platforms


def tflm_files(ctx: Context) -> Files:
    check_tflm_ops(ctx.facts, str(ctx.run.int8_tflite))
    files = src.frontend_files(ctx.run, ctx.facts, "features")
    files |= src.app_files("app")
    files |= src.model_glue_files(ctx.run, ctx.facts, "app", with_engine=False)
    files |= src.golden_files(ctx.run, ctx.golden, "app")
    files |= recognizer_files(ctx.run.config, "recognizer")
    files |= src.platform_files("host", "platform")
    for name in TFLM_ARCHES:
        files |= src.platform_files(name, f"platform/{name}")
    files |= src.tflite_files(ctx.run, ctx.facts, "tflite")
    build = dict(_common_ctx(ctx, None), sources=_c_sources(files, ("features", "app", "recognizer", "tflite")),
                 include_dirs=["features", "app", "recognizer", "tflite"], layout=LAYOUT_TFLM,
                 tflm_arena_bytes=ctx.tflm_arena_bytes, arena_margin_percent=round(100 * TFLM_ARENA_MARGIN),
                 arena_slack=TFLM_ARENA_SLACK, cortex_platforms=tflm_platforms())
    files["main.cc"] = render("targets/tflm/main.cc.j2", **build).encode()
    files["Makefile"] = render("targets/tflm/Makefile.j2", **build).encode()
    return _finish(ctx, None, files, build)


LAYOUT_ARDUINO = [
    (f"{ARDUINO_LIBRARY}/", "the Arduino library (library.properties, src/, examples/)"),
    (f"{ARDUINO_LIBRARY}.zip", "the same, zipped (Sketch > Include Library > Add .ZIP Library)"),
    ("Makefile", "`make`: compiles the library's src/ with arm-none-eabi-gcc -Werror (a check)"),
]
ARDUINO_APP = ("tk_app.h", "tk_app.c", "tk_detector.h", "tk_detector.c", "tk_self_test.h", "tk_self_test.c")


def arduino_library(ctx: Context) -> tuple[Files, object]:
    lib = ARDUINO_LIBRARY
    files, engine = src.engine_files(ctx.facts, f"{lib}/src")
    files |= src.frontend_files(ctx.run, ctx.facts, f"{lib}/src")
    files |= src.app_files(f"{lib}/src", ARDUINO_APP)
    files |= src.model_glue_files(ctx.run, ctx.facts, f"{lib}/src", with_engine=True)
    files |= src.golden_files(ctx.run, ctx.golden, f"{lib}/src")
    files |= recognizer_files(ctx.run.config, f"{lib}/src")  # flat: no name clashes with the rest
    build = _common_ctx(ctx, engine)
    files[f"{lib}/src/{lib}.h"] = render("targets/arduino/library.h.j2", **build).encode()
    files[f"{lib}/library.properties"] = render("targets/arduino/library.properties.j2", **build).encode()
    files[f"{lib}/examples/{ARDUINO_SKETCH}/{ARDUINO_SKETCH}.ino"] = render(
        "targets/arduino/sketch.ino.j2", **build).encode()
    return files, engine


def arduino_files(ctx: Context) -> Files:
    files, engine = arduino_library(ctx)
    build = dict(_common_ctx(ctx, engine), layout=LAYOUT_ARDUINO,
                 sources=sorted(p for p in files if p.endswith(".c")))
    files[f"{ARDUINO_LIBRARY}/README.md"] = render("targets/common/README.md.j2", **build).encode()
    files[f"{ARDUINO_LIBRARY}.zip"] = deterministic_zip(files)
    files["Makefile"] = render("targets/arduino/Makefile.j2", **build).encode()
    return _finish(ctx, engine, files, build)


BUILDERS: dict[str, Callable[[Context], Files]] = {
    "host": native_files, "cortex-m4": native_files, "cortex-m55": native_files,
    "tflm": tflm_files, "arduino": arduino_files,
}
TARGETS: tuple[str, ...] = tuple(BUILDERS)


def check_target(target: str) -> str:
    if target not in BUILDERS:
        raise InputError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    return target
