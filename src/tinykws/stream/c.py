"""The C recognizer: sources from ``firmware_templates/recognizer/``, its config header rendered.

``tk_recognizer.{h,c}`` are copied as they are (after the prefix rename);
``tk_recognizer_config.{h,c}`` are rendered from the run's StreamConfig,
FeatureConfig and labels, so no constant is typed twice. The C mirrors
``tinykws.stream.detect`` exactly (see tk_recognizer.h).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tinykws.config import FeatureConfig, RunConfig, StreamConfig
from tinykws.errors import InputError
from tinykws.audio.frontend import apply_prefix, check_prefix
from tinykws.fsutil import atomic_write_text
from tinykws.stream.detect import check_stream_config, keyword_mask
from tinykws.templates import render, templates_dir, unique_macro_names

STATIC_SOURCES: tuple[str, ...] = ("tk_recognizer.h", "tk_recognizer.c")
GENERATED_SOURCES: tuple[str, ...] = ("tk_recognizer_config.h.j2", "tk_recognizer_config.c.j2")
TOOL_SOURCE = "tools/tk_recognizer_cli.c"


def recognizer_dir() -> Path:
    return templates_dir() / "recognizer"


def _output_name(name: str, prefix: str) -> str:
    return f"{prefix}_{name.removesuffix('.j2').removeprefix('tk_')}"


def recognizer_context(stream: StreamConfig, labels: tuple[str, ...], features: FeatureConfig) -> dict:
    check_stream_config(stream)
    mask = keyword_mask(tuple(labels))
    if not mask.any():
        raise InputError(f"labels {list(labels)} hold no keyword: nothing could ever fire")
    return {"stream": stream, "features": features, "labels": list(labels), "is_keyword": [bool(m) for m in mask],
            "label_macros": unique_macro_names(tuple(labels)), "ring_capacity": stream.average_results}


def render_recognizer(out_dir: Path, stream_cfg: StreamConfig, labels: tuple[str, ...], prefix: str = "tk",
                      features: FeatureConfig | None = None) -> list[Path]:
    """Write the recognizer's C sources and rendered config into out_dir; returns the files written."""
    check_prefix(prefix)
    context = recognizer_context(stream_cfg, tuple(labels), features or FeatureConfig())
    out_dir = Path(out_dir)
    written: list[Path] = []
    for name in STATIC_SOURCES:
        text = (recognizer_dir() / name).read_text()
        written.append(_write(out_dir / _output_name(name, prefix), apply_prefix(text, prefix)))
    for name in GENERATED_SOURCES:
        text = render(f"recognizer/{name}", **context)
        written.append(_write(out_dir / _output_name(name, prefix), apply_prefix(text, prefix)))
    return written


def recognizer_files(config: RunConfig, folder: str = "", prefix: str = "tk") -> dict[str, bytes]:
    """The recognizer's sources for a bundle, as {folder/name: bytes}, rendered from a run's config."""
    with tempfile.TemporaryDirectory(prefix="tinykws-recognizer-") as tmp:
        written = render_recognizer(Path(tmp), config.stream, config.labels, prefix, config.features)
        return {(f"{folder}/{p.name}" if folder else p.name): p.read_bytes() for p in sorted(written)}


def render_tool(out_dir: Path, prefix: str = "tk") -> Path:
    """The test and benchmark main (tools/tk_recognizer_cli.c), renamed for `prefix`."""
    check_prefix(prefix)
    text = apply_prefix((recognizer_dir() / TOOL_SOURCE).read_text(), prefix)
    if prefix != "tk":  # the platform header keeps its name
        text = text.replace(f'"{prefix}_platform.h"', '"tk_platform.h"').replace(f"{prefix.upper()}_PLATFORM_",
                                                                                "TK_PLATFORM_")
        text = text.replace(f"{prefix}_platform_ticks", "tk_platform_ticks")
    return _write(Path(out_dir) / _output_name("recognizer_cli.c", prefix), text)


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path
