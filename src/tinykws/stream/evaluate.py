"""Long test streams with keywords at known times; false rejections, false accepts per hour, latency.

A stream is background noise (coloured noise, mains hum, recorded noise)
with held-out clips placed one after another at random gaps: keyword clips
(the events to detect) and unknown-word clips (events that must not fire).
The model runs once over the stream (its int8 outputs are kept); every
threshold of the sweep only replays the smoothing and detection.

Scoring: a detection at time t belongs to the event whose window
``[clip start, clip end + late_s]`` contains t. The first detection of the
right keyword in a keyword event is a hit; every other detection is a false
accept, counted by context: during a keyword event (wrong keyword or a
repeat), during an unknown word, or in background noise only.
Latency is measured from the end of the spoken word (the last 20 ms frame of
the clip within 20 dB of its loudest frame) to the detection.

Two streams from disjoint speakers: the held-out speakers are split in two
by a salted hash of the speaker id. The *validation* stream (``tune_share``
of the speakers) is swept and the operating point (threshold) is chosen on
it; the *test* stream (the other speakers) is then scored at that threshold,
and its figures are the report's top-level ones. With a single held-out
speaker both streams come from that speaker and the report says so. The
test stream is also scored clean (no background noise; same events).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from tinykws.config import SILENCE, UNKNOWN, RunConfig, save_config
from tinykws.data.noise import NOISE_KINDS, make_noise
from tinykws.errors import DataError, InputError
from tinykws.fsutil import atomic_write_bytes, atomic_write_text
from tinykws.stream.detect import (Detection, Quantization, StreamOutputs, check_stream_config, hop_time, keyword_mask,
                            open_engine, replay, run_model, smoothed_scores)

Progress = Callable[[str, int, int], None]
_FADE_S = 0.05


@dataclass(frozen=True)
class EvalOptions:
    minutes: float = 60.0
    snr_db: float = 20.0  # speech level (loudest 0.5 s of the median keyword clip) over background RMS
    seed: int = 0
    keyword_share: float = 0.5  # share of events that are keywords (the rest: unknown words)
    gap_s: tuple[float, float] = (1.5, 4.0)  # silence between clips (noise only), uniform
    late_s: float = 1.0  # a detection may come this long after its clip ends
    noise_segment_s: float = 20.0  # background changes kind this often
    max_false_accepts_per_hour: float = 0.5
    max_false_reject_rate: float = 0.05
    thresholds: tuple[int, ...] = tuple(range(-64, 128, 2)) + (127,)
    fixed_threshold: int | None = None  # evaluate only this threshold, choose nothing
    tune_share: float = 0.5  # share of held-out speakers that build the validation stream
    tune_minutes: float | None = None  # length of the validation stream (default: ``minutes``)
    clean: bool = True  # also score the test stream without background noise
    # (average_results, min_count) pairs tried on the validation stream with every threshold; the
    # run's own pair is always tried too. Fixed by --threshold: the run's pair only.
    smoothing_grid: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1), (2, 2), (3, 2), (4, 2), (4, 3), (6, 3))


@dataclass(frozen=True)
class Event:
    kind: str  # "keyword" or "unknown"
    label: int  # class index
    clip: int  # index into the clip pool
    start: int  # sample of the stream where the clip starts
    end: int  # sample after its last
    speech_end: int  # sample where the spoken word ends (estimate)


@dataclass(frozen=True)
class ClipPool:
    audio: np.ndarray  # (N, clip_samples) float32
    y: np.ndarray  # (N,) class index
    paths: tuple[Path, ...]

    def subset(self, keep: np.ndarray) -> "ClipPool":
        return ClipPool(self.audio[keep], self.y[keep], tuple(p for p, k in zip(self.paths, keep) if k))


def split_speakers(pool: ClipPool, tune_share: float) -> tuple[ClipPool, ClipPool, bool]:
    """(validation pool, test pool, disjoint): clips split by a salted hash of their speaker, so no
    speaker is in both; with one speaker only, both pools are that speaker's (disjoint False)."""
    from tinykws.data.speech_commands import speaker_hash, speaker_of

    speakers = [speaker_of(p) for p in pool.paths]
    tune = np.array([speaker_hash(s, "tinykws-stream") % 1000 < 1000 * tune_share for s in speakers], bool)
    if len(set(speakers)) < 2:
        return pool, pool, False
    if tune.all() or not tune.any():  # few speakers, all hashed to one side: the first one tunes
        first = sorted(set(speakers))[0]
        tune = np.array([s == first for s in speakers], bool)
    return pool.subset(tune), pool.subset(~tune), True


# ------------------------------------------------------------------ the stream


def frame_energy(clip: np.ndarray, hop: int = 320) -> np.ndarray:
    n = len(clip) // hop
    return np.mean(np.asarray(clip[: n * hop], np.float64).reshape(n, hop) ** 2, axis=1)


def speech_end(clip: np.ndarray, hop: int = 320, below_db: float = 20.0) -> int:
    """Sample after the last frame within ``below_db`` of the loudest frame."""
    energy = frame_energy(clip, hop)
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (-below_db / 10))
    return int((loud[-1] + 1) * hop) if loud.size else len(clip)


def speech_rms(clip: np.ndarray, sample_rate: int = 16000) -> float:
    """RMS of the loudest half second."""
    energy = frame_energy(clip)
    width = max(1, int(0.5 * sample_rate) // 320)
    sums = np.convolve(energy, np.ones(width), mode="valid") / width
    return float(np.sqrt(sums.max())) if sums.size else 0.0


def plan_events(pool: ClipPool, labels: tuple[str, ...], opts: EvalOptions, total: int, rate: int,
                rng: np.random.Generator) -> list[Event]:
    """Clips one after another with random gaps, each pool used in shuffled rounds."""
    mask = keyword_mask(labels)
    keyword_ids = np.flatnonzero(mask[pool.y])
    unknown_ids = np.flatnonzero(np.asarray(labels)[pool.y] == UNKNOWN)
    if keyword_ids.size == 0:
        raise DataError("no keyword clips among the held-out clips: nothing to detect")
    decks = {"keyword": _Deck(keyword_ids, rng), "unknown": _Deck(unknown_ids, rng)}
    events: list[Event] = []
    t = int(rng.uniform(*opts.gap_s) * rate)
    clip_len = pool.audio.shape[1]
    while t + clip_len <= total:
        kind = "keyword" if unknown_ids.size == 0 or rng.random() < opts.keyword_share else "unknown"
        i = decks[kind].draw()
        events.append(Event(kind, int(pool.y[i]), int(i), t, t + clip_len, t + speech_end(pool.audio[i])))
        t += clip_len + int(rng.uniform(*opts.gap_s) * rate)
    return events


class _Deck:
    """Draw every item once (shuffled) before any item repeats."""

    def __init__(self, items: np.ndarray, rng: np.random.Generator):
        self.items, self.rng, self._order = items, rng, np.zeros(0, np.int64)

    def draw(self) -> int:
        if self._order.size == 0:
            self._order = self.rng.permutation(self.items)
        head, self._order = self._order[0], self._order[1:]
        return int(head)


class Background:
    """Endless background: segments of noise of a random kind, unit RMS, cross-faded."""

    def __init__(self, recorded: list[np.ndarray], opts: EvalOptions, rate: int, rng: np.random.Generator):
        self.recorded, self.rate, self.rng = recorded, rate, rng
        self.segment = max(int(opts.noise_segment_s * rate), 2 * int(_FADE_S * rate) + 1)
        self.fade = int(_FADE_S * rate)
        self._buf = np.zeros(0, np.float32)
        self._tail = np.zeros(0, np.float32)

    def take(self, n: int) -> np.ndarray:
        while len(self._buf) < n:
            self._buf = np.concatenate([self._buf, self._next_segment()])
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _next_segment(self) -> np.ndarray:
        seg = self._noise(self.segment + self.fade)
        ramp = np.linspace(0.0, 1.0, self.fade, dtype=np.float32)
        if self._tail.size:
            seg[: self.fade] = seg[: self.fade] * ramp + self._tail * (1.0 - ramp)
        self._tail = seg[-self.fade:].copy()
        return seg[:-self.fade]

    def _noise(self, n: int) -> np.ndarray:
        kinds = list(NOISE_KINDS) + (["recorded"] * 2 if self.recorded else [])
        kind = kinds[int(self.rng.integers(len(kinds)))]
        if kind != "recorded":
            return make_noise(kind, n, self.rng, self.rate)
        return self._recorded(n)

    def _recorded(self, n: int) -> np.ndarray:
        parts, have = [], 0
        while have < n:
            rec = self.recorded[int(self.rng.integers(len(self.recorded)))]
            parts.append(rec)
            have += len(rec)
        x = np.concatenate(parts)[:n].astype(np.float64)
        x -= x.mean()
        rms = np.sqrt(np.mean(x**2))
        return (x / rms if rms > 1e-12 else x).astype(np.float32)


def stream_blocks(pool: ClipPool, events: list[Event], background: Background, noise_rms: float, total: int,
                  block: int) -> Iterator[np.ndarray]:
    """The stream in blocks: background at ``noise_rms`` plus every event's clip."""
    k = 0
    for start in range(0, total, block):
        stop = min(total, start + block)
        out = background.take(stop - start) * np.float32(noise_rms)
        while k < len(events) and events[k].end <= start:
            k += 1
        j = k
        while j < len(events) and events[j].start < stop:
            e = events[j]
            lo, hi = max(e.start, start), min(e.end, stop)
            out[lo - start: hi - start] += pool.audio[e.clip][lo - e.start: hi - e.start]
            j += 1
        yield np.clip(out, -1.0, 1.0)


# ------------------------------------------------------------------- scoring


def score(detections: list[Detection], events: list[Event], labels: tuple[str, ...], config: RunConfig,
          opts: EvalOptions, hours: float) -> dict:
    """FRR per keyword and overall, false accepts per hour, latency (ms) of the hits."""
    fcfg, rate = config.features, config.features.sample_rate
    starts = np.array([e.start for e in events], np.int64)
    hit = np.zeros(len(events), bool)
    latencies: list[float] = []
    false_by_label = np.zeros(len(labels), np.int64)
    contexts = {"keyword": 0, "unknown_word": 0, "noise": 0}
    for d in detections:
        t = int(round(hop_time(d.hop, fcfg) * rate))
        i = int(np.searchsorted(starts, t, side="right")) - 1
        e = events[i] if i >= 0 and t <= events[i].end + opts.late_s * rate else None
        if e is not None and e.kind == "keyword" and e.label == d.label and not hit[i]:
            hit[i] = True
            latencies.append(1000.0 * (t - e.speech_end) / rate)
            continue
        false_by_label[d.label] += 1
        contexts["noise" if e is None else "keyword" if e.kind == "keyword" else "unknown_word"] += 1
    summary = _summary(hit, events, latencies, false_by_label, labels, hours)
    summary["false_accepts_by_context"] = contexts
    return summary


def _summary(hit, events, latencies, false_by_label, labels, hours) -> dict:
    is_kw = np.array([e.kind == "keyword" for e in events], bool)
    ev_label = np.array([e.label for e in events], np.int64)
    per_keyword = {}
    for c in np.flatnonzero(keyword_mask(labels)):
        n = int(np.sum(is_kw & (ev_label == c)))
        hits = int(np.sum(hit & is_kw & (ev_label == c)))
        per_keyword[labels[c]] = {"events": n, "hits": hits, "false_reject_rate": _ratio(n - hits, n),
                                  "false_accepts": int(false_by_label[c]),
                                  "false_accepts_per_hour": float(false_by_label[c] / hours)}
    n_kw = int(is_kw.sum())
    lat = np.asarray(latencies, np.float64)
    return {"false_reject_rate": _ratio(n_kw - int(hit.sum()), n_kw),
            "false_accepts": int(false_by_label.sum()),
            "false_accepts_per_hour": float(false_by_label.sum() / hours),
            "latency_ms": {"mean": _stat(lat, np.mean), "median": _stat(lat, np.median),
                           "p90": _stat(lat, lambda a: np.percentile(a, 90)), "max": _stat(lat, np.max)},
            "per_keyword": per_keyword}


def _ratio(a: int, b: int) -> float:
    return float(a / b) if b else 0.0


def _stat(a: np.ndarray, fn) -> float | None:
    return float(fn(a)) if a.size else None


def sweep(outputs: StreamOutputs, events: list[Event], config: RunConfig, opts: EvalOptions,
          hours: float, stop_above_fa: float | None = None) -> dict[int, dict]:
    """Replay smoothing and detection for every threshold (the model ran once). With
    ``stop_above_fa``, thresholds are visited from the highest down and the sweep stops after the
    first one with more false accepts per hour than that (lower thresholds only fire more often:
    they cannot be chosen while a quieter point exists)."""
    smoothed = smoothed_scores(outputs.outputs, config.stream.average_results)
    mask = keyword_mask(config.labels)
    thresholds = (opts.fixed_threshold,) if opts.fixed_threshold is not None else opts.thresholds
    curve = {}
    for t in sorted(set(thresholds), reverse=True):
        cfg = dataclasses.replace(config.stream, threshold=int(t))
        found = replay(smoothed, outputs.hops, cfg, mask)
        curve[int(t)] = score(found, events, config.labels, config, opts, hours)
        if stop_above_fa is not None and curve[int(t)]["false_accepts_per_hour"] > stop_above_fa:
            break
    return dict(sorted(curve.items()))


def choose(curve: dict[int, dict], opts: EvalOptions) -> int:
    """Lowest FRR with at most the allowed false accepts per hour (ties: the higher threshold);
    if no threshold is that quiet, the fewest false accepts (ties: lowest FRR)."""
    return min(curve, key=lambda t: _rank(curve[t], t, opts))


def _rank(m: dict, threshold: int, opts: EvalOptions) -> tuple:
    if m["false_accepts_per_hour"] <= opts.max_false_accepts_per_hour:
        return (0, m["false_reject_rate"], 0.0, -threshold)
    return (1, m["false_accepts_per_hour"], m["false_reject_rate"], -threshold)


def choose_smoothing(curves: dict[tuple[int, int], dict[int, dict]], opts: EvalOptions) -> tuple[int, int, int]:
    """(average_results, min_count, threshold) of the best point of all curves, ranked as ``choose``
    (ties: the earlier pair of the grid)."""
    order = list(curves)
    best = min(((pair, choose(curve, opts)) for pair, curve in curves.items()),
               key=lambda pt: (_rank(curves[pt[0]][pt[1]], pt[1], opts), order.index(pt[0])))
    (average, count), threshold = best
    return average, count, threshold


def with_smoothing(config: RunConfig, average: int, count: int) -> RunConfig:
    return config.replace(stream=dataclasses.replace(config.stream, average_results=int(average),
                                                     min_count=int(count)))


# --------------------------------------------------------------------- driver


def load_pool(run, data_dirs: list[Path]) -> tuple[ClipPool, list[np.ndarray], tuple[str, ...]]:
    """Held-out clips (as verify.select_clips picks them) and recorded noise to use as background."""
    from tinykws.data.loading import load_noise
    from tinykws.data.speech_commands import discover
    from tinykws.verify.check import select_clips

    data = select_clips(run, data_dirs, "auto")
    labels = run.config.labels
    is_silence = np.asarray(labels)[data.y] == SILENCE
    pool = ClipPool(data.audio[~is_silence], data.y[~is_silence],
                    tuple(p for p, s in zip(data.paths, is_silence) if not s))
    noise, _ = load_noise(discover(data_dirs, labels, run.config.train.validation_share).noise_files,
                          run.config.features)
    noise.extend(data.audio[is_silence])
    return pool, noise, data.skipped


def noise_level(pool: ClipPool, labels: tuple[str, ...], snr_db: float) -> float:
    levels = [speech_rms(a) for a, y in zip(pool.audio, pool.y) if keyword_mask(labels)[y]]
    return float(np.median(levels)) / 10 ** (snr_db / 20)


@dataclass(frozen=True)
class StreamRun:
    """One stream built and run through the model once: its events and int8 outputs."""

    events: list[Event]
    outputs: StreamOutputs
    hours: float


def run_stream(name: str, pool: ClipPool, noise: list[np.ndarray], noise_rms: float, minutes: float, seed: int,
               engine, quant: Quantization, config: RunConfig, opts: EvalOptions,
               progress: Progress | None = None) -> StreamRun:
    """Plan the events of a ``minutes``-long stream of ``pool``'s clips and run the model over it once."""
    rate = config.features.sample_rate
    total = int(minutes * 60 * rate)
    rng = np.random.default_rng(seed)
    events = plan_events(pool, config.labels, opts, total, rate, rng)
    if not any(e.kind == "keyword" for e in events):
        raise InputError(f"--minutes {minutes:g} is too short to hold a keyword; give a longer stream")
    blocks = stream_blocks(pool, events, Background(noise, opts, rate, rng), noise_rms, total, 10 * rate)
    step = (lambda done, n: progress(f"running the model over the {name} stream", done, n)) if progress else None
    outputs = run_model(blocks, engine, quant, config, total, step)
    return StreamRun(events, outputs, total / rate / 3600.0)


def _sweep(stream: StreamRun, config: RunConfig, opts: EvalOptions, stop_above_fa: float | None = None
           ) -> dict[int, dict]:
    return sweep(stream.outputs, stream.events, config, opts, stream.hours, stop_above_fa)


def _grid_stop(opts: EvalOptions) -> float:
    """Where a smoothing pair's sweep may stop: well above the budget (at least 5 per hour)."""
    return max(10.0 * opts.max_false_accepts_per_hour, 5.0)


def evaluate(run, data_dirs: list[Path], opts: EvalOptions, progress: Progress | None = None,
             reference: bool = True) -> dict:
    """Validation stream (operating point chosen there) and test stream (reported) from disjoint
    held-out speakers, the test stream also clean; the report (nothing written)."""
    from tinykws.run import require

    config = run.config
    check_stream_config(config.stream)
    if opts.minutes <= 0:
        raise InputError(f"--minutes must be positive, got {opts.minutes}")
    if not 0.0 < opts.tune_share < 1.0:
        raise InputError(f"the validation share of speakers must be in (0, 1), got {opts.tune_share}")
    engine, quant = open_engine(require(run.int8_tflite, "int8.tflite (run `tinykws export` first)"), reference)
    pool, noise, skipped = load_pool(run, data_dirs)
    tune_pool, test_pool, disjoint = split_speakers(pool, opts.tune_share)
    noise_rms = noise_level(pool, config.labels, opts.snr_db)
    validation = grid = None
    if opts.fixed_threshold is None:
        validation = run_stream("validation", tune_pool, noise, noise_rms, opts.tune_minutes or opts.minutes,
                                opts.seed + 1, engine, quant, config, opts, progress)
        pairs = dict.fromkeys(((config.stream.average_results, config.stream.min_count),) + opts.smoothing_grid)
        if progress:
            progress("choosing the operating point on the validation stream", 0, len(pairs))
        grid = {}
        for i, (average, count) in enumerate(pairs):
            grid[(average, count)] = _sweep(validation, with_smoothing(config, average, count), opts,
                                            _grid_stop(opts))
            if progress:
                progress("choosing the operating point on the validation stream", i + 1, len(pairs))
        average, count, chosen = choose_smoothing(grid, opts)
        config = with_smoothing(config, average, count)
        grid[(average, count)] = _sweep(validation, config, opts)  # the chosen pair's whole curve, for the plot
    else:
        chosen = opts.fixed_threshold
    test = run_stream("test", test_pool, noise, noise_rms, opts.minutes, opts.seed, engine, quant, config, opts,
                      progress)
    test_curve = _sweep(test, config, opts)
    report = _report(run, config, opts, quant, test.events, pool, test_curve, chosen, test.hours, test.outputs,
                     skipped)
    report["engine"] = "litert-reference" if reference else "litert-xnnpack"
    report["operating_point"] = {
        "chosen_on": ("fixed by --threshold" if validation is None else
                      "validation stream" if disjoint else
                      "validation stream of the same single speaker as the test stream (only one held-out speaker)"),
        "speakers_disjoint": disjoint}
    report["speakers"] = {"validation": _n_speakers(tune_pool), "test": _n_speakers(test_pool)}
    if validation is not None:
        v = grid[(config.stream.average_results, config.stream.min_count)]
        report["validation"] = {
            "minutes": opts.tune_minutes or opts.minutes, "false_reject_rate": v[chosen]["false_reject_rate"],
            "false_accepts_per_hour": v[chosen]["false_accepts_per_hour"], "false_accepts": v[chosen]["false_accepts"],
            "events": {"keyword": sum(e.kind == "keyword" for e in validation.events),
                       "unknown": sum(e.kind == "unknown" for e in validation.events)},
            "curve": _curve(v, quant),
            "smoothing_grid": [
                {"average_results": a, "min_count": c, "threshold": t,
                 "false_reject_rate": curve[t]["false_reject_rate"],
                 "false_accepts_per_hour": curve[t]["false_accepts_per_hour"]}
                for (a, c), curve in grid.items() for t in (choose(curve, opts),)]}
    if opts.clean:
        clean = run_stream("clean test", test_pool, noise, 0.0, opts.minutes, opts.seed, engine, quant, config,
                           opts, progress)
        c = _sweep(clean, config, dataclasses.replace(opts, fixed_threshold=chosen))[chosen]
        report["clean"] = {"false_reject_rate": c["false_reject_rate"],
                           "false_accepts_per_hour": c["false_accepts_per_hour"],
                           "false_accepts": c["false_accepts"], "latency_ms": c["latency_ms"]}
    return report


def _n_speakers(pool: ClipPool) -> int:
    from tinykws.data.speech_commands import speaker_of

    return len({speaker_of(p) for p in pool.paths})


def _curve(curve: dict[int, dict], quant: Quantization) -> list[dict]:
    return [{"threshold": t, "threshold_probability": float(quant.probability(t)),
             "false_reject_rate": c["false_reject_rate"], "false_accepts_per_hour": c["false_accepts_per_hour"]}
            for t, c in sorted(curve.items())]


def _report(run, config, opts, quant: Quantization, events, pool, curve, chosen, hours, outputs, skipped) -> dict:
    m = curve[chosen]
    return {
        "run": str(run.path), "minutes": opts.minutes, "hours": hours, "snr_db": opts.snr_db, "seed": opts.seed,
        "threshold": int(chosen), "threshold_probability": float(quant.probability(chosen)),
        "false_reject_rate": m["false_reject_rate"], "false_accepts_per_hour": m["false_accepts_per_hour"],
        "false_accepts": m["false_accepts"], "false_accepts_by_context": m["false_accepts_by_context"],
        "latency_ms": m["latency_ms"], "per_keyword": m["per_keyword"],
        "meets_goal": bool(m["false_reject_rate"] <= opts.max_false_reject_rate
                           and m["false_accepts_per_hour"] <= opts.max_false_accepts_per_hour),
        "goal": {"max_false_reject_rate": opts.max_false_reject_rate,
                 "max_false_accepts_per_hour": opts.max_false_accepts_per_hour},
        "stream_config": dataclasses.asdict(dataclasses.replace(config.stream, threshold=int(chosen))),
        "events": {"keyword": sum(e.kind == "keyword" for e in events),
                   "unknown": sum(e.kind == "unknown" for e in events)},
        "unknown_words_per_hour": sum(e.kind == "unknown" for e in events) / hours,
        "threshold_met_goal_somewhere": any(c["false_accepts_per_hour"] <= opts.max_false_accepts_per_hour
                                            for c in curve.values()),
        "clips": {"held_out": int(len(pool.y)), "skipped_files": list(skipped)},
        "inferences": int(len(outputs.hops)), "hops": int(outputs.n_hops),
        "fixed_threshold": opts.fixed_threshold is not None,
        "curve": _curve(curve, quant),
    }


def apply_operating_point(run, report: dict) -> RunConfig:
    """Write the chosen operating point (threshold, average_results, min_count) into the run's
    config.json; returns the new config."""
    chosen = report["stream_config"]
    stream = dataclasses.replace(run.config.stream, threshold=int(report["threshold"]),
                                 average_results=int(chosen["average_results"]), min_count=int(chosen["min_count"]))
    config = run.config.replace(stream=stream)
    save_config(config, run.path / "config.json")
    return config


def write_json(report: dict, path: Path) -> None:
    atomic_write_text(Path(path), json.dumps(report, indent=2, sort_keys=True) + "\n")


def plot_tradeoff(report: dict, path: Path) -> Path:
    """FRR against false accepts per hour over the threshold sweep, the operating point marked."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = report["curve"]
    fa = [c["false_accepts_per_hour"] for c in curve]
    frr = [100 * c["false_reject_rate"] for c in curve]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(fa, frr, ".-", label="test stream")
    if "validation" in report:
        ax.plot([c["false_accepts_per_hour"] for c in report["validation"]["curve"]],
                [100 * c["false_reject_rate"] for c in report["validation"]["curve"]], ".-", alpha=0.5,
                label="validation stream (chooses the threshold)")
    ax.plot([report["false_accepts_per_hour"]], [100 * report["false_reject_rate"]], "o", color="red",
            label=f"chosen: int8 {report['threshold']} (p={report['threshold_probability']:.2f})")
    ax.axvline(report["goal"]["max_false_accepts_per_hour"], color="grey", ls=":")
    ax.axhline(100 * report["goal"]["max_false_reject_rate"], color="grey", ls=":")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(0, 1.5 * max(fa + [1.0]))
    ax.set_ylim(0, 100)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("false rejection rate (%)")
    ax.set_title(f"{report['minutes']:g} min of stream, SNR {report['snr_db']:g} dB")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
