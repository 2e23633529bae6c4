"""`tinykws firmware RUN --target TARGET --out DIR [--golden-dir DATA] [--golden-count N]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from tinykws.firmware.golden import DEFAULT_COUNT, MAX_COUNT
from tinykws.firmware.targets import TARGETS


def firmware(
    run_dir: Annotated[Path, typer.Argument(help="run directory with int8.tflite (after `tinykws export`)")],
    target: Annotated[str, typer.Option("--target", help=f"one of: {', '.join(TARGETS)}")],
    out: Annotated[Path, typer.Option("--out", help="bundle directory to write (replaced atomically)")],
    golden_dir: Annotated[Optional[Path], typer.Option(
        "--golden-dir", help="data folder (label sub-folders) to take the golden clips from; "
                             "default: synthesised test signals")] = None,
    golden_count: Annotated[int, typer.Option("--golden-count", min=1, max=MAX_COUNT,
                                              help="number of golden clips")] = DEFAULT_COUNT,
) -> None:
    """Render a firmware bundle (C engine, feature front end, streaming recognizer, app, build files, golden
    vectors)."""
    from tinykws.cli.common import console
    from tinykws.firmware import make_bundle

    bundle = make_bundle(run_dir, target, out, golden_dir=golden_dir, golden_count=golden_count)
    console.print(f"wrote {bundle.target} bundle: {bundle.path} ({len(bundle.files)} files)", highlight=False)
    for what, size in bundle.memory.items():
        console.print(f"  {what}: {size:,} B", highlight=False)
    labels = ", ".join(f"{c.name}" for c in bundle.golden.clips)
    console.print(f"  golden clips: {labels}", highlight=False)
    console.print(f"next: make -C {bundle.path}" + (" run" if target.startswith("cortex-m") else ""),
                  highlight=False)


def register(app: typer.Typer) -> None:
    from tinykws.cli.common import guarded

    app.command("firmware")(guarded(firmware))
