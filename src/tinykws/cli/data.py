"""``tinykws data ...``: the data sources on the command line (synthesis and download).

Registered by ``tinykws.cli.main``; like every sub-CLI it takes the
shared helpers from ``tinykws.cli.common``, never from ``tinykws.cli.main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tinykws.cli.common import guarded
from tinykws.data.download import DEFAULT_SHA256, DEFAULT_URL
from tinykws.data.synth import DEFAULT_PER_WORD

data_app = typer.Typer(help="Data sets: synthesise one offline, or download Speech Commands.",
                       no_args_is_help=True, add_completion=False)


def _bar(*columns: Any) -> Any:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from tinykws.cli.common import err_console

    return Progress(TextColumn("{task.description}"), BarColumn(), *columns, TimeRemainingColumn(),
                    console=err_console)


class _StageBars:
    """One progress bar per stage of a download: bytes for download and verify, files for extract."""

    _TITLES = {"download": "downloading", "verify": "checking sha256", "extract": "extracting"}

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar: Any = None
        self.task: Any = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, _bar(*self._columns(stage))
            self.bar.start()
            self.task = self.bar.add_task(self._TITLES.get(stage, stage), total=total)
        self.bar.update(self.task, completed=done, total=total)

    @staticmethod
    def _columns(stage: str) -> tuple[Any, ...]:
        from rich.progress import DownloadColumn, MofNCompleteColumn, TransferSpeedColumn

        if stage == "extract":
            return (MofNCompleteColumn(),)
        return (DownloadColumn(), TransferSpeedColumn())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@data_app.command()
@guarded
def synth(
    out: Annotated[Path, typer.Option("--out", help="folder to write (12 label folders + synth.json)")],
    per_word: Annotated[int, typer.Option("--per-word", min=1, max=100_000, help="clips per label (each of the 12)")]
    = DEFAULT_PER_WORD,
    seed: Annotated[int, typer.Option(help="random seed: the same seed gives byte-identical files")] = 0,
) -> None:
    """Synthesise keyword clips with eSpeak NG in the Speech Commands 12-folder layout."""
    from rich.progress import MofNCompleteColumn

    from tinykws.cli.common import console
    from tinykws.data.synth import synthesize

    with _bar(MofNCompleteColumn()) as bar:
        task = bar.add_task("synthesising", total=None)
        summary = synthesize(out, per_word=per_word, seed=seed,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"{summary.n_clips} clips ({len(summary.counts)} labels x {per_word}) from "
                  f"{summary.n_speakers} synthetic speakers in {summary.seconds:.1f} s "
                  f"({summary.clips_per_second:.0f} clips/s): {out}", highlight=False)


@data_app.command()
@guarded
def download(
    out: Annotated[Path, typer.Option("--out", help="folder to download and extract into")],
    url: Annotated[str, typer.Option(help="archive URL (a mirror of the official archive)")] = DEFAULT_URL,
    sha256: Annotated[Optional[str], typer.Option(help="expected SHA-256 of the archive; '' skips the check")]
    = DEFAULT_SHA256,
) -> None:
    """Download the official Speech Commands v0.02 archive (resumable), verify and extract it."""
    from tinykws.cli.common import console
    from tinykws.data.download import download_speech_commands

    bars = _StageBars()
    try:
        path = download_speech_commands(out, url=url, sha256=sha256 or None, progress=bars)
    finally:
        bars.close()
    console.print(f"Speech Commands ready in {path}", highlight=False)
