"""A run directory (or a shipped model folder): where each artifact lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tinykws.config import RunConfig, load_config
from tinykws.errors import InputError


@dataclass(frozen=True)
class Run:
    path: Path
    config: RunConfig

    @property
    def keras_model(self) -> Path:
        return self.path / "model.keras"

    @property
    def float_tflite(self) -> Path:
        return self.path / "float.tflite"

    @property
    def int8_tflite(self) -> Path:
        return self.path / "int8.tflite"

    @property
    def c_dir(self) -> Path:
        return self.path / "c"

    @property
    def check_dir(self) -> Path:
        return self.path / "check"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"


def open_run(path: Path | str) -> Run:
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a run directory (no such folder)")
    if not (path / "config.json").exists():
        raise InputError(f"{path}: not a run directory (no config.json; train first or give a models/... folder)")
    return Run(path, load_config(path / "config.json"))


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(f"{path}: missing {what}")
    return path


# What `train`, `export`, `check` and `stream-eval` write into a run directory: what `train --force` removes.
RUN_FILES = ("config.json", "model.keras", "history.csv", "training.png", "labels.txt", "float.tflite",
             "int8.tflite", "manifest.json")
RUN_SUBDIR_FILES = {
    "c": ("model_data.c", "model_data.h", "model_settings.h"),
    "check": ("check.json", "check.md", "confusion_*.png"),
    "stream": ("stream_eval.json", "tradeoff.png"),
}
SHIPPED_MARKERS = ("README.md", "cv.json")  # `ship` writes a model card and the cv report next to config.json


def is_shipped(path: Path) -> bool:
    """A models/NAME folder written by `ship` (model card and cv.json beside config.json)."""
    return all((Path(path) / name).is_file() for name in SHIPPED_MARKERS + ("config.json",))


def derived_artifacts(path: Path) -> list[Path]:
    """Every file of the run directory that tinykws wrote (and only those), bundles included."""
    path = Path(path)
    found = [path / name for name in RUN_FILES if (path / name).is_file()]
    for sub, patterns in RUN_SUBDIR_FILES.items():
        for pattern in patterns:
            found += sorted(p for p in (path / sub).glob(pattern) if p.is_file())
    found += sorted(p.parent for p in (path / "firmware").glob("*/bundle.json"))
    return found


def clear_run(path: Path) -> list[Path]:
    """Remove the derived artifacts of a run (and folders they leave empty); returns what was removed."""
    import shutil

    removed = derived_artifacts(path)
    for item in removed:
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    for sub in (*RUN_SUBDIR_FILES, "firmware"):
        if (path / sub).is_dir() and not any((path / sub).iterdir()):
            (path / sub).rmdir()
    return removed


def prepare_run_dir(out: Path, force: bool = False) -> Path:
    """The run directory `train` may write: new, empty, or (with ``force``) an earlier run, whose derived
    artifacts are removed first so that nothing of the old model survives. Refuses anything else."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a directory")
    if not out.is_dir() or not any(out.iterdir()):
        return out
    if is_shipped(out):
        raise InputError(f"--out {out}: a shipped model folder (model card and cv.json); train into a new "
                         "run directory, e.g. runs/NAME")
    if not (out / "config.json").is_file():
        raise InputError(f"--out {out}: a non-empty folder that is not a tinykws run (no config.json); "
                         "refusing to write into it")
    if not force:
        raise InputError(f"--out {out}: already a run directory; give --force to retrain it (removes its "
                         "model, exports, C files, checks and bundles) or choose a new folder")
    clear_run(out)
    return out
