"""Frozen configuration dataclasses: the one source of truth of a run.

Everything needed to reproduce a run (features, model, training,
quantization, labels, normalisation) lives here and is saved as
``config.json`` in the run directory. The C headers are rendered from it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykws.errors import InputError

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
DEFAULT_LABELS: tuple[str, ...] = (SILENCE, UNKNOWN) + KEYWORDS


@dataclass(frozen=True)
class FeatureConfig:
    """MFCC front end, MLPerf Tiny KWS settings (49 frames x 10 MFCC)."""

    sample_rate: int = 16000
    clip_samples: int = 16000
    window_samples: int = 480
    hop_samples: int = 320
    fft_size: int = 512
    n_mels: int = 40
    fmin_hz: float = 20.0
    fmax_hz: float = 4000.0
    n_mfcc: int = 10
    log_offset: float = 1e-6

    @property
    def n_frames(self) -> int:
        return 1 + (self.clip_samples - self.window_samples) // self.hop_samples

    @property
    def n_bins(self) -> int:
        return self.fft_size // 2 + 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_frames, self.n_mfcc)


@dataclass(frozen=True)
class ConvSpec:
    filters: int
    kernel: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True)
class ModelConfig:
    """DS-CNN architecture: one standard conv, then depthwise separable blocks."""

    name: str = "ds-cnn-s"
    first: ConvSpec = ConvSpec(64, (10, 4), (2, 2))
    ds_filters: tuple[int, ...] = (64, 64, 64, 64)
    ds_strides: tuple[tuple[int, int], ...] = ((1, 1), (1, 1), (1, 1), (1, 1))
    ds_kernel: tuple[int, int] = (3, 3)
    dropout_first: float = 0.2
    dropout_last: float = 0.4
    l2: float = 1e-4
    kind: str = "ds-cnn"  # or "mobilenetv2": inverted residual bottlenecks
    expansion: int = 4  # mobilenetv2: 1x1 expansion factor
    # "same": SAME padding in both axes. "valid": VALID in time (every output row depends only on the
    # input rows under the kernel, so a stream can compute new rows only), SAME in frequency (explicit PAD)
    time_padding: str = "same"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 36
    batch_size: int = 100
    learning_rates: tuple[float, ...] = (5e-4, 1e-4, 2e-5)
    seed: int = 0
    silence_share: float = 0.1
    unknown_share: float = 0.1
    validation_share: float = 0.1
    time_shift_ms: float = 100.0
    noise_prob: float = 0.8
    noise_max: float = 0.1
    gain_db: float = 0.0  # random gain in [-gain_db, +gain_db]
    spec_time_masks: int = 0  # SpecAugment on the log-mel spectrogram
    spec_time_width: int = 0  # frames, at most
    spec_freq_masks: int = 0
    spec_freq_width: int = 0  # mel bins, at most
    mixup_alpha: float = 0.0
    label_smoothing: float = 0.1  # +1.9 points on a held-out speaker fold of the real clips
    balance_classes: bool = True  # every keyword drawn equally often per epoch (repeats for scarce ones)
    speed_range: float = 0.0  # speed perturbation: factor uniform in [1 - r, 1 + r]
    # Streaming-aware training (tinykws.data.pipeline, "stream windows"): this share of keyword and
    # unknown rows is cut at a random offset where the window still holds >= 90% of the word's speech
    # energy, with a fragment (<= 30%) of a neighbouring clip in the space the shift leaves
    stream_share: float = 0.0
    # extra rows (share of the epoch) that hold only 10-50% of a keyword's speech: labelled _unknown_
    partial_share: float = 0.0


@dataclass(frozen=True)
class QuantConfig:
    representative_clips: int = 300


@dataclass(frozen=True)
class Normalisation:
    """Per-MFCC-coefficient mean and std, computed on the training split."""

    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class StreamConfig:
    """Streaming detection (tinykws.stream.detect, mirrored by the C recognizer).

    Inference runs every ``infer_every_hops`` hops once a full window of
    frames exists. Scores stay int8 (the raw softmax output): the smoothed
    score of a class is the mean of its last ``average_results`` outputs
    (fewer at the start of a stream), rounded half up. A keyword fires when
    its smoothed score is at least ``threshold`` for ``min_count`` results in
    a row; then nothing fires for ``refractory_hops`` hops. Defaults: 10
    inferences per second (DS-CNN-S needs ~7.7 M instructions each on a
    Cortex-M4 with CMSIS-NN), a 200 ms mean; ``tinykws stream-eval`` chooses
    the threshold.
    """

    infer_every_hops: int = 5
    average_results: int = 2
    threshold: int = 64
    min_count: int = 2
    refractory_hops: int = 50


@dataclass(frozen=True)
class RunConfig:
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    labels: tuple[str, ...] = DEFAULT_LABELS
    normalisation: Normalisation | None = None
    data_dirs: tuple[str, ...] = ()
    stream: StreamConfig = field(default_factory=StreamConfig)

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)


def _to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [_to_jsonable(v) for v in obj]
    return obj


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    hints = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in data.items():
        if name not in hints:
            raise InputError(f"unknown field {name!r} in {cls.__name__}")
        nested = _NESTED.get((cls.__name__, name))
        if nested is not None and value is not None:
            kwargs[name] = _from_dict(nested, value)
        else:
            kwargs[name] = _tuplify(value)
    return cls(**kwargs)


_NESTED: dict[tuple[str, str], type] = {
    ("RunConfig", "features"): FeatureConfig,
    ("RunConfig", "model"): ModelConfig,
    ("RunConfig", "train"): TrainConfig,
    ("RunConfig", "quant"): QuantConfig,
    ("RunConfig", "normalisation"): Normalisation,
    ("ModelConfig", "first"): ConvSpec,
    ("RunConfig", "stream"): StreamConfig,
}


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    return _to_jsonable(config)


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    return _from_dict(RunConfig, data)


def save_config(config: RunConfig, path: Path) -> None:
    from tinykws.fsutil import atomic_write_text

    atomic_write_text(Path(path), json.dumps(config_to_dict(config), indent=2, sort_keys=True) + "\n")


def load_config(path: Path) -> RunConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (is this a run directory?)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from None
    try:
        return config_from_dict(data)
    except (TypeError, InputError) as exc:
        raise InputError(f"{path}: not a tinykws run config: {exc}") from None
