"""Streaming keyword detection: sliding window, int8 posterior smoothing, refractory time.

The specification the C recognizer (``firmware_templates/recognizer/``) mirrors.

Features: one frame per 20 ms hop, frame ``h`` covering samples
``[h * hop, h * hop + window)`` of the stream, computed as ``audio/mfcc.py``
does on a clip (MFCC, then the run's normalisation, then int8 quantization
with the model's input scale and zero point). A ring keeps the last
``n_frames`` (49) int8 frames: the model input.

Schedule: inference after hop ``h`` when ``h + 1 >= n_frames`` and
``(h + 1 - n_frames) % infer_every_hops == 0``.

Recognizer, per inference result (the raw int8 softmax outputs, one per class):

1. the result enters a ring of the last ``average_results`` results; the
   smoothed score of class ``c`` is the mean of its scores in the ring
   (``n = min(results so far, average_results)``), rounded half up in
   integers: ``(sum + 128 n + n // 2) // n - 128``;
2. within ``refractory_hops`` hops after a detection (``hop - last < refractory``)
   every keyword's run counter is set to 0 and nothing fires;
3. otherwise each keyword's counter counts the consecutive results whose
   smoothed score is ``>= threshold`` (0 when below), saturating at ``min_count``;
4. among keywords whose counter reached ``min_count`` the one with the
   highest smoothed score fires (ties: the lowest class index); every counter
   is reset to 0 and the refractory time starts at this hop.

``_silence_`` and ``_unknown_`` never fire. A detection is reported at the
end of the audio its hop consumed: ``(hop * hop_samples + window_samples) / rate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from tinykws.config import SILENCE, UNKNOWN, FeatureConfig, Normalisation, RunConfig, StreamConfig
from tinykws.errors import InputError, ModelError
from tinykws.audio.mfcc import dct_matrix, hann_window, mel_matrix, normalise, quantize_input

if TYPE_CHECKING:
    from tinykws.run import Run

Progress = Callable[[int, int], None]
_INT8_OFFSET = 128


@dataclass(frozen=True)
class Detection:
    label: int  # class index into the run's labels
    hop: int  # hop index of the result that fired
    score: int  # smoothed int8 score at that result


@dataclass(frozen=True)
class Quantization:
    """The int8 model's input and output quantization."""

    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def probability(self, score: int | np.ndarray) -> float | np.ndarray:
        return (np.asarray(score, np.float64) - self.output_zero_point) * self.output_scale


# ----------------------------------------------------------------- parameters


def check_stream_config(cfg: StreamConfig) -> None:
    """Raise InputError naming the first field outside its range."""
    limits = {"infer_every_hops": (1, 1000), "average_results": (1, 255), "threshold": (-128, 127),
              "min_count": (1, 255), "refractory_hops": (0, 1_000_000)}
    for name, (lo, hi) in limits.items():
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise InputError(f"stream.{name} must be an integer in {lo}..{hi}, got {value!r}")


def keyword_mask(labels: tuple[str, ...]) -> np.ndarray:
    """True for the classes that may fire: every label but _silence_ and _unknown_."""
    return np.array([label not in (SILENCE, UNKNOWN) for label in labels], bool)


def hop_time(hop: int | np.ndarray, features: FeatureConfig) -> float | np.ndarray:
    """Seconds from the stream start to the end of the audio consumed by ``hop``."""
    return (np.asarray(hop) * features.hop_samples + features.window_samples) / features.sample_rate


def inference_hops(n_hops: int, n_frames: int, every: int) -> np.ndarray:
    """The hops (of ``n_hops``) after which the schedule runs the model."""
    return np.arange(n_frames - 1, n_hops, every, dtype=np.int64)


# ------------------------------------------------------------------ features


def frame_features(windows: np.ndarray, features: FeatureConfig, norm: Normalisation | None,
                   quant: Quantization) -> np.ndarray:
    """(n, window_samples) raw frames -> (n, n_mfcc) int8 model input, as audio/mfcc.py computes it."""
    windowed = np.asarray(windows, np.float64) * hann_window(features.window_samples)
    spectrum = np.abs(np.fft.rfft(windowed, n=features.fft_size, axis=-1))
    log_mel = np.log(spectrum @ mel_matrix(features) + features.log_offset)
    mfcc = (log_mel @ dct_matrix(features.n_mels, features.n_mfcc)).astype(np.float32)
    return quantize_input(normalise(mfcc, norm), quant.input_scale, quant.input_zero_point)


class FeatureStream:
    """Raw audio in blocks of any length -> int8 frames, one per complete hop."""

    def __init__(self, features: FeatureConfig, norm: Normalisation | None, quant: Quantization):
        self.features, self.norm, self.quant = features, norm, quant
        self._pending = np.zeros(0, np.float32)
        self.hops = 0  # frames produced so far

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append samples; returns the (k, n_mfcc) int8 frames that became complete."""
        cfg = self.features
        buf = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        n = 0 if len(buf) < cfg.window_samples else 1 + (len(buf) - cfg.window_samples) // cfg.hop_samples
        if n == 0:
            self._pending = buf
            return np.zeros((0, cfg.n_mfcc), np.int8)
        idx = np.arange(n)[:, None] * cfg.hop_samples + np.arange(cfg.window_samples)[None, :]
        self._pending = buf[n * cfg.hop_samples:]
        self.hops += n
        return frame_features(buf[idx], cfg, self.norm, self.quant)


class FrameRing:
    """The last ``n_frames`` int8 frames: the model's input window."""

    def __init__(self, n_frames: int, n_mfcc: int):
        self._ring = np.zeros((n_frames, n_mfcc), np.int8)
        self._next = 0
        self.count = 0

    def push(self, frame: np.ndarray) -> None:
        self._ring[self._next] = frame
        self._next = (self._next + 1) % len(self._ring)
        self.count += 1

    def window(self) -> np.ndarray:
        """(n_frames, n_mfcc), oldest frame first."""
        return np.roll(self._ring, -self._next, axis=0)


# ---------------------------------------------------------------- recognizer


def smooth(sum_: int | np.ndarray, n: int | np.ndarray) -> int | np.ndarray:
    """Integer mean of n int8 values from their sum, rounded half up."""
    return (sum_ + _INT8_OFFSET * n + n // 2) // n - _INT8_OFFSET


class Recognizer:
    """One result at a time: the reference the C recognizer is tested against."""

    def __init__(self, cfg: StreamConfig, labels: tuple[str, ...]):
        check_stream_config(cfg)
        self.cfg = cfg
        self.keywords = keyword_mask(labels)
        self._ring = np.zeros((cfg.average_results, len(labels)), np.int64)
        self._sum = np.zeros(len(labels), np.int64)
        self._counts = np.zeros(len(labels), np.int64)
        self._results = 0
        self._last_hop: int | None = None

    def push(self, scores: np.ndarray, hop: int) -> Detection | None:
        smoothed = self._smooth(np.asarray(scores, np.int64))
        if self._last_hop is not None and hop - self._last_hop < self.cfg.refractory_hops:
            self._counts[:] = 0
            return None
        passing = self.keywords & (smoothed >= self.cfg.threshold)
        self._counts = np.where(passing, np.minimum(self._counts + 1, self.cfg.min_count), 0)
        ready = np.flatnonzero(self._counts >= self.cfg.min_count)
        if ready.size == 0:
            return None
        best = int(ready[np.argmax(smoothed[ready])])
        self._counts[:] = 0
        self._last_hop = hop
        return Detection(best, int(hop), int(smoothed[best]))

    def _smooth(self, scores: np.ndarray) -> np.ndarray:
        slot = self._results % self.cfg.average_results
        if self._results >= self.cfg.average_results:
            self._sum -= self._ring[slot]
        self._ring[slot] = scores
        self._sum += scores
        self._results += 1
        return smooth(self._sum, min(self._results, self.cfg.average_results))


def recognize(outputs: np.ndarray, hops: np.ndarray, cfg: StreamConfig, labels: tuple[str, ...]) -> list[Detection]:
    """Detections of a whole sequence of int8 results, one result at a time (the reference)."""
    rec = Recognizer(cfg, labels)
    found = (rec.push(o, int(h)) for o, h in zip(np.asarray(outputs), np.asarray(hops)))
    return [d for d in found if d is not None]


def smoothed_scores(outputs: np.ndarray, average_results: int) -> np.ndarray:
    """(n_results, n_classes) smoothed int8 scores of a whole sequence, vectorised."""
    x = np.asarray(outputs, np.int64)
    csum = np.concatenate([np.zeros((1, x.shape[1]), np.int64), np.cumsum(x, axis=0)])
    end = np.arange(1, len(x) + 1)
    start = np.maximum(0, end - average_results)
    n = (end - start)[:, None]
    return smooth(csum[end] - csum[start], n)


def replay(smoothed: np.ndarray, hops: np.ndarray, cfg: StreamConfig, keywords: np.ndarray) -> list[Detection]:
    """The detections ``recognize`` gives, from precomputed smoothed scores, visiting only results
    where some keyword passes the threshold (a result where none passes resets every counter)."""
    check_stream_config(cfg)
    masked = np.where(keywords[None, :], smoothed, -_INT8_OFFSET - 1)
    active = np.flatnonzero(masked.max(axis=1) >= cfg.threshold)
    counts = np.zeros(smoothed.shape[1], np.int64)
    out: list[Detection] = []
    last_hop: int | None = None
    previous = -2
    for r in active:
        if r != previous + 1:
            counts[:] = 0
        previous = r
        hop = int(hops[r])
        if last_hop is not None and hop - last_hop < cfg.refractory_hops:
            counts[:] = 0
            continue
        passing = masked[r] >= cfg.threshold
        counts = np.where(passing, np.minimum(counts + 1, cfg.min_count), 0)
        ready = np.flatnonzero(counts >= cfg.min_count)
        if ready.size:
            best = int(ready[np.argmax(masked[r, ready])])
            out.append(Detection(best, hop, int(masked[r, best])))
            counts[:] = 0
            last_hop = hop
    return out


# ------------------------------------------------------------- model over audio


def open_engine(model_path: Path, reference: bool = True):
    """The int8 .tflite on LiteRT and its quantization."""
    from tinykws.verify.engines import LiteRTEngine, read_model_bytes

    engine = LiteRTEngine(read_model_bytes(model_path), name="int8", reference=reference, source=str(model_path))
    if engine.input.dtype != np.int8 or engine.output.dtype != np.int8:
        raise ModelError(f"{model_path}: the stream recognizer needs an int8 model "
                         f"(input {engine.input.dtype}, output {engine.output.dtype})")
    quant = Quantization(engine.input.scale, engine.input.zero_point, engine.output.scale, engine.output.zero_point)
    return engine, quant


@dataclass(frozen=True)
class StreamOutputs:
    """The model's int8 outputs at every scheduled hop of a stream."""

    hops: np.ndarray  # (n_results,) int64
    outputs: np.ndarray  # (n_results, n_classes) int8
    n_hops: int


def _blocks(audio: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(audio), size):
        yield audio[start:start + size]


def run_model(blocks: Iterator[np.ndarray], engine, quant: Quantization, config: RunConfig,
              total_samples: int | None = None, progress: Progress | None = None) -> StreamOutputs:
    """Features hop by hop, the model on the schedule; audio arrives in blocks of any length."""
    fcfg, every = config.features, config.stream.infer_every_hops
    feats = FeatureStream(fcfg, config.normalisation, quant)
    ring = FrameRing(fcfg.n_frames, fcfg.n_mfcc)
    hops: list[int] = []
    outputs: list[np.ndarray] = []
    done = 0
    for block in blocks:
        for frame in feats.push(block):
            ring.push(frame)
            hop = ring.count - 1
            if ring.count >= fcfg.n_frames and (ring.count - fcfg.n_frames) % every == 0:
                outputs.append(engine.run(ring.window()[None, :, :, None])[0].astype(np.int8))
                hops.append(hop)
        done += len(block)
        if progress is not None and total_samples:
            progress(min(done, total_samples), total_samples)
    n_classes = len(config.labels)
    out = np.stack(outputs) if outputs else np.zeros((0, n_classes), np.int8)
    if out.shape[1] != n_classes:
        raise ModelError(f"the model has {out.shape[1]} outputs but the run has {n_classes} labels")
    return StreamOutputs(np.asarray(hops, np.int64), out, feats.hops)


def detect_audio(audio: np.ndarray, engine, quant: Quantization, config: RunConfig,
                 progress: Progress | None = None) -> tuple[list[Detection], StreamOutputs]:
    """Detections in one stream of audio at the run's sample rate."""
    check_stream_config(config.stream)
    result = run_model(_blocks(np.asarray(audio, np.float32), 16 * config.features.sample_rate),
                       engine, quant, config, len(audio), progress)
    return recognize(result.outputs, result.hops, config.stream, config.labels), result


def detect_wav(run_dir: Path, wav: Path, stream: StreamConfig | None = None,
               progress: Progress | None = None) -> tuple[list[Detection], "Run", Quantization]:
    """Detections in a WAV file of any length; returns (detections, run, quantization)."""
    from tinykws.audio.io import read_wav
    from tinykws.run import open_run, require

    run = open_run(run_dir)
    config = run.config if stream is None else run.config.replace(stream=stream)
    engine, quant = open_engine(require(run.int8_tflite, "int8.tflite (run `tinykws export` first)"))
    audio, _ = read_wav(wav, config.features.sample_rate)
    if len(audio) < config.features.clip_samples:
        raise InputError(f"{wav}: {len(audio)} samples, shorter than one model window "
                         f"({config.features.clip_samples} samples)")
    detections, _ = detect_audio(audio, engine, quant, config, progress)
    return detections, run, quant
