"""`tinykws codegen MODEL.tflite --out DIR [--prefix NAME] [--verify N]`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from tinykws.errors import CheckFailed

MAX_VERIFY_INPUTS = 100_000


def codegen(
    model: Annotated[Path, typer.Argument(help="int8 .tflite model")],
    out: Annotated[Path, typer.Option("--out", help="output directory: new, empty or an earlier codegen output "
                                                    "(replaced atomically; any other folder is refused)")],
    prefix: Annotated[str, typer.Option("--prefix", help="C name prefix of the generated API")] = "tinykws",
    verify: Annotated[int, typer.Option("--verify", min=0, max=MAX_VERIFY_INPUTS,
                                        help="compile on the host and compare with TFLite Micro on N random inputs")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="seed of the random verification inputs")] = 0,
) -> None:
    """Generate a C99 inference engine for an int8 .tflite (bit-exact with TFLite Micro)."""
    from tinykws.cli.common import console
    from tinykws.codegen import check_out_dir, generate_engine, write_engine
    from tinykws.verify.engines import read_model_bytes

    check_out_dir(out)
    data = read_model_bytes(model)
    engine = generate_engine(data, prefix=prefix, source=str(model))
    write_engine(engine, out)
    n_layers = sum(1 for layer in engine.model.layers if not layer.is_alias)
    console.print(f"generated {out}: {n_layers} kernel calls, constants {engine.constant_bytes:,} B, "
                  f"arena {engine.arena_bytes:,} B", highlight=False)
    if verify:
        _verify(data, verify, seed, str(model))


def _verify(data: bytes, n: int, seed: int, source: str) -> None:
    from tinykws.cli.common import console
    from tinykws.codegen.bitexact import verify_against_tflm

    from tinykws.verify.engines import tflm_arena_bytes

    with tempfile.TemporaryDirectory(prefix="tinykws-verify-") as tmp:
        report = verify_against_tflm(data, n, seed=seed, source=source, workdir=Path(tmp))
    console.print(f"TFLite Micro arena for comparison: {tflm_arena_bytes(data):,} B", highlight=False)
    if not report.ok:
        console.print(f"first mismatch at input {report.first_mismatch}, "
                      f"max difference {report.max_abs_diff} LSB", highlight=False)
    console.print(f"bitexact={report.n_identical}/{report.n_inputs}", highlight=False)
    if not report.ok:
        raise CheckFailed(f"C engine differs from TFLite Micro on "
                          f"{report.n_inputs - report.n_identical} of {report.n_inputs} inputs")


def register(app: typer.Typer) -> None:
    from tinykws.cli.common import guarded

    app.command("codegen")(guarded(codegen))
