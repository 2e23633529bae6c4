"""Speech Commands layouts: discover clips, map them to the 12 labels, split them.

Two layouts are recognised per folder:

(a) the full data set: one folder per word (35 words), ``_background_noise_``,
    ``validation_list.txt`` and ``testing_list.txt`` (the official split);
(b) the 12-folder layout: ``yes no ... go _unknown_ _silence_``.

Words that are not keywords map to ``_unknown_``. Without official lists the
validation split is by speaker (the file-name part before ``_nohash_``),
never by clip, by a stable hash of the speaker so that a speaker stays on the
same side when data is added.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tinykws.audio.io import AUDIO_SUFFIXES
from tinykws.config import KEYWORDS, SILENCE, UNKNOWN
from tinykws.errors import DataError

BACKGROUND = "_background_noise_"
TRAIN, VALIDATION, TEST = "train", "validation", "test"
_MAX_PER_CLASS = 2**27 - 1


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    speaker: str
    split: str


@dataclass(frozen=True)
class Dataset:
    clips: tuple[Clip, ...]
    noise_files: tuple[Path, ...]
    labels: tuple[str, ...]

    def split(self, name: str) -> tuple[Clip, ...]:
        return tuple(c for c in self.clips if c.split == name)

    def counts(self, split: str | None = None) -> dict[str, int]:
        clips = self.clips if split is None else self.split(split)
        return {label: sum(c.label == label for c in clips) for label in self.labels}


def speaker_of(path: Path) -> str:
    """The speaker id: the file-name part before ``_nohash_`` (word prefix of
    ``_unknown_`` files dropped); files without it are their own speaker."""
    stem = path.name
    if "_nohash_" not in stem:
        return f"{path.parent.name}/{path.stem}"
    prefix = stem.split("_nohash_", 1)[0]
    if path.parent.name == UNKNOWN and "_" in prefix:
        prefix = prefix.split("_", 1)[1]
    return prefix


def speaker_hash(speaker: str, salt: str = "tinykws") -> int:
    """A stable integer of a speaker id: sha1 of ``salt:speaker`` (any id, even undecodable names)."""
    return int(hashlib.sha1(f"{salt}:{speaker}".encode("utf-8", "surrogateescape")).hexdigest(), 16)


def speaker_percentage(speaker: str) -> float:
    """Stable position of a speaker in [0, 100), computed like the Speech Commands split
    but from a salted hash: the official hash would put every speaker of an official
    test subset (such as the shared real clips) into one band."""
    return (speaker_hash(speaker) % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)


def split_of_speaker(speaker: str, validation_pct: float, test_pct: float) -> str:
    pct = speaker_percentage(speaker)
    if pct < validation_pct:
        return VALIDATION
    if pct < validation_pct + test_pct:
        return TEST
    return TRAIN


def _label_for(folder: str, labels: tuple[str, ...]) -> str:
    if folder in labels:
        return folder
    return UNKNOWN


def _is_full_layout(root: Path) -> bool:
    return (root / "validation_list.txt").exists() or (root / "testing_list.txt").exists()


def _read_list(path: Path) -> set[str]:
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _audio_files(folder: Path) -> list[Path]:
    """The audio files of a folder (WAV, FLAC, OGG), in a stable order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def _discover_dir(root: Path, labels: tuple[str, ...], validation_pct: float, test_pct: float):
    clips: list[Clip] = []
    noise: list[Path] = []
    full = _is_full_layout(root)
    validation = _read_list(root / "validation_list.txt")
    testing = _read_list(root / "testing_list.txt")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name == BACKGROUND:
            noise.extend(_audio_files(folder))
            continue
        label = _label_for(folder.name, labels)
        for wav in _audio_files(folder):
            speaker = speaker_of(wav)
            if full:
                rel = f"{folder.name}/{wav.name}"
                split = VALIDATION if rel in validation else TEST if rel in testing else TRAIN
            else:
                split = split_of_speaker(speaker, validation_pct, test_pct)
            clips.append(Clip(wav, label, speaker, split))
    return clips, noise


def _ensure_validation(clips: list[Clip]) -> list[Clip]:
    """With speakers on the training side only, move the lowest-hash speaker to validation."""
    if any(c.split == VALIDATION for c in clips):
        return clips
    speakers = sorted({c.speaker for c in clips if c.label != SILENCE}, key=speaker_percentage)
    if len(speakers) < 2:
        return clips
    chosen = speakers[0]
    return [Clip(c.path, c.label, c.speaker, VALIDATION) if c.speaker == chosen else c for c in clips]


def discover(data_dirs: list[Path] | tuple[Path, ...], labels: tuple[str, ...],
             validation_share: float = 0.1, test_share: float = 0.0) -> Dataset:
    """Every clip of every folder, labelled and split; several folders are merged."""
    if not data_dirs:
        raise DataError("no data folder given")
    clips: list[Clip] = []
    noise: list[Path] = []
    for root in map(Path, data_dirs):
        if not root.is_dir():
            raise DataError(f"{root}: not a folder")
        c, n = _discover_dir(root, labels, 100.0 * validation_share, 100.0 * test_share)
        if not c:
            raise DataError(f"{root}: no audio clips (.wav, .flac, .ogg) found (expected label folders such as yes/ no/ _unknown_/)")
        clips.extend(c)
        noise.extend(n)
    unknown_labels = sorted({c.label for c in clips} - set(labels))
    if unknown_labels:
        raise DataError(f"labels {unknown_labels} are not among the model's labels {list(labels)}")
    return Dataset(tuple(_ensure_validation(clips)), tuple(noise), tuple(labels))


def speaker_folds(clips: tuple[Clip, ...], k: int) -> list[tuple[set[str], set[str]]]:
    """k speaker-grouped folds: (train speakers, held-out speakers), by hash order."""
    speakers = sorted({c.speaker for c in clips}, key=speaker_percentage)
    folds = [set(speakers[i::k]) for i in range(k)]
    return [(set(speakers) - held, held) for held in folds]


__all__ = ["Clip", "Dataset", "discover", "speaker_of", "speaker_folds", "KEYWORDS", "TRAIN", "VALIDATION", "TEST"]
