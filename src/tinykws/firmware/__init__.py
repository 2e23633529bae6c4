"""Firmware bundles: a run rendered from firmware_templates/ for one target.

    bundle = make_bundle("runs/demo", "cortex-m4", "runs/demo/firmware/cortex-m4")
    # then: make -C runs/demo/firmware/cortex-m4 run

Targets: host (cc), cortex-m4 (QEMU mps2-an386), cortex-m55 (QEMU
mps3-an547), tflm (TensorFlow Lite Micro main.cc), arduino (library zip).
Every bundle has the generated C engine (or TFLite Micro), the C feature
front end, the C streaming recognizer with its config rendered from the run's
StreamConfig, a thin application (clip classification, `--stream WAV`
keyword detection, `--batch`, `--bench`) and golden vectors with a
self-test. The bundle directory is written atomically: complete or absent.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from tinykws.firmware.golden import DEFAULT_COUNT, MAX_COUNT, GoldenSet, clips_from_dir, compute_golden, synthesise_clips
from tinykws.firmware.targets import BUILDERS, TARGETS, Context, check_target
from tinykws.fsutil import atomic_dir
from tinykws.errors import InputError

__all__ = ["Bundle", "TARGETS", "bundle_files", "check_out_dir", "make_bundle", "make_context"]


@dataclass(frozen=True)
class Bundle:
    path: Path
    target: str
    files: tuple[str, ...]
    memory: dict[str, int]  # what -> bytes (bundle.json)
    golden: GoldenSet


def _golden(run, facts, golden_dir: Path | None, count: int) -> GoldenSet:
    if not 1 <= count <= MAX_COUNT:
        raise InputError(f"--golden-count must be between 1 and {MAX_COUNT}, got {count}")
    if golden_dir is not None:
        named = clips_from_dir(golden_dir, run.config, count)
        source = f"first clips of each label folder of {Path(golden_dir).name}"
    else:
        named = synthesise_clips(run.config.features, count)
        source = "synthesised test signals"
    golden = compute_golden(named, run.config, facts.data, str(run.int8_tflite))
    return dataclasses.replace(golden, source=source)


def make_context(run_dir: Path | str, target: str, golden_dir: Path | None = None,
                 golden_count: int = DEFAULT_COUNT) -> Context:
    from tinykws.firmware.model_facts import check_fits_run, read_model_facts
    from tinykws.run import open_run
    from tinykws.verify.engines import tflm_arena_bytes

    check_target(target)
    run = open_run(run_dir)
    facts = read_model_facts(run)
    check_fits_run(facts, run)
    golden = _golden(run, facts, golden_dir, golden_count)
    return Context(target, run, facts, golden, tflm_arena_bytes(facts.data))


def bundle_files(ctx: Context) -> dict[str, bytes]:
    """Every file of the bundle, {relative path: bytes}, nothing written yet."""
    return BUILDERS[ctx.target](ctx)


def check_out_dir(out: Path, run_dir: Path) -> Path:
    """The bundle directory replaces `out`: refuse anything that is not an old bundle or empty."""
    resolved, run = out.resolve(), run_dir.resolve()
    if resolved == run or resolved in run.parents:
        raise InputError(f"--out {out}: would replace the run directory {run_dir}; give a folder inside it, "
                         f"e.g. {run_dir / 'firmware' / 'TARGET'}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "bundle.json").is_file():
        raise InputError(f"--out {out}: a non-empty folder that is not a tinykws bundle (no bundle.json); "
                         "refusing to replace it")
    return out


def make_bundle(run_dir: Path | str, target: str, out: Path | str, golden_dir: Path | None = None,
                golden_count: int = DEFAULT_COUNT) -> Bundle:
    """Render the bundle of `target` for the run into `out` (replaced atomically)."""
    ctx = make_context(run_dir, target, golden_dir, golden_count)
    out = check_out_dir(Path(out), ctx.run.path)
    files = bundle_files(ctx)
    with atomic_dir(out) as tmp:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    memory = json.loads(files["bundle.json"])["memory"]
    return Bundle(out, target, tuple(sorted(files)), memory, ctx.golden)
