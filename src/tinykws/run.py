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
