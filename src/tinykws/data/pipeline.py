"""The training input pipeline: decode once, augment in vectorised numpy, MFCC in TensorFlow.

Per epoch, numpy draws the whole epoch's plan at once (which clip, time shift,
speed factor, gain, which noise recording, where and how loud, SpecAugment
masks) from one seeded generator, so the augmentation's distribution is the
recipe's and a run repeats exactly.

Stream windows (``TrainConfig.stream_share`` / ``partial_share``) teach the
classifier what an always-on detector sees: one-second windows at any offset
of a longer stream. The rule, from each clip's speech coverage (the share of
its speech energy, frames within 20 dB of its loudest, that falls inside the
window at a given offset):

- coverage >= 0.9: the window is the clip's label (a stream row draws its
  offset among all such offsets, not just +-100 ms);
- coverage in [0.1, 0.5] of a keyword: a *partial keyword*, labelled
  ``_unknown_`` (an explicit negative: the detector must not fire on it);
- between 0.5 and 0.9: ambiguous, never drawn;
- a neighbouring clip (any word) fills the space the offset leaves, placed
  one clip length (plus a 0-300 ms gap) away, kept only if at most 30% of
  its speech falls inside the window, so it never changes the label. Batches are assembled with vectorised
gathers (no per-clip Python loop) and handed to ``tf.data``, which computes the
MFCC with ``tf.signal`` (the same window, mel and DCT matrices as
``tinykws.audio.mfcc``), applies the masks in parallel map calls and prefetches
while the model trains on the previous batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinykws.audio.mfcc import dct_matrix, mel_matrix
from tinykws.config import SILENCE, UNKNOWN, FeatureConfig, Normalisation, TrainConfig


@dataclass(frozen=True)
class EpochPlan:
    """One row per clip of an epoch; ``clip`` -1 is generated silence."""

    clip: np.ndarray  # int64
    label: np.ndarray  # int32
    shift: np.ndarray  # int32 samples, positive = later
    speed: np.ndarray  # float32 resampling factor (1 = unchanged)
    gain: np.ndarray  # float32 linear gain of the clip
    noise_start: np.ndarray  # int64 offset into the concatenated noise bank
    noise_volume: np.ndarray  # float32, 0 = no noise
    silence_start: np.ndarray  # int64 noise-bank offset of a silence row's own crop
    silence_volume: np.ndarray  # float32 level of that crop, uniform in [0, 1]
    mixup: np.ndarray  # float32 weight of the clip itself (1 = no mixup)
    time_masks: np.ndarray  # int32 (n, masks, 2): start, width in frames
    freq_masks: np.ndarray  # int32 (n, masks, 2): start, width in mel bins
    neighbour: np.ndarray | None = None  # int64 clip beside the row's clip (-1: none); stream windows only
    neighbour_shift: np.ndarray | None = None  # int32 samples, as ``shift``

    def __len__(self) -> int:
        return len(self.clip)


class NoiseBank:
    """Background recordings concatenated into one array; crops never straddle two recordings."""

    def __init__(self, recordings: list[np.ndarray], crop: int):
        usable = [np.asarray(r, np.float32) for r in recordings if len(r) >= crop]
        self.samples = np.concatenate(usable) if usable else np.zeros(0, np.float32)
        lengths = np.array([len(r) for r in usable], np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if usable else np.zeros(0, np.int64)
        self.lengths = lengths
        self.crop = crop

    def __bool__(self) -> bool:
        return len(self.lengths) > 0

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random crop offsets, each recording equally likely (as ``noise_crop``)."""
        src = rng.integers(len(self.lengths), size=n)
        return self.starts[src] + rng.integers(0, self.lengths[src] - self.crop + 1)

    def crops(self, offsets: np.ndarray) -> np.ndarray:
        return self.samples[offsets[:, None] + np.arange(self.crop)[None, :]]


def balanced_keywords(y: np.ndarray, keyword_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every keyword class drawn to the mean keyword count: without replacement where a class
    has more clips, all of its clips plus random repeats where it has fewer."""
    pools = [np.flatnonzero(y == k) for k in keyword_ids]
    pools = [p for p in pools if len(p)]
    if not pools:
        return np.zeros(0, np.int64)
    target = int(round(np.mean([len(p) for p in pools])))
    parts = []
    for pool in pools:
        if len(pool) >= target:
            parts.append(rng.choice(pool, size=target, replace=False))
        else:
            parts.append(np.concatenate([pool, rng.choice(pool, size=target - len(pool), replace=True)]))
    return np.concatenate(parts)


def epoch_indices(y: np.ndarray, labels: tuple[str, ...], tc: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """Indices of one epoch's mix: the keywords (every clip once, or class-balanced), silence and
    unknown drawn to their configured shares (index -1 means generated silence)."""
    silence_id = labels.index(SILENCE) if SILENCE in labels else -2
    unknown_id = labels.index(UNKNOWN) if UNKNOWN in labels else -2
    keyword_ids = np.array([i for i in range(len(labels)) if i not in (silence_id, unknown_id)])
    if tc.balance_classes:
        keywords = balanced_keywords(y, keyword_ids, rng)
    else:
        keywords = np.flatnonzero(np.isin(y, keyword_ids))
    base = max(len(keywords), 1)
    total = base / max(1e-6, 1.0 - tc.silence_share - tc.unknown_share)
    parts = [keywords]
    for class_id, share in ((unknown_id, tc.unknown_share), (silence_id, tc.silence_share)):
        pool = np.flatnonzero(y == class_id)
        n = int(round(total * share))
        if n == 0:
            continue
        if len(pool) == 0:
            if class_id == silence_id:
                parts.append(np.full(n, -1))
            continue
        parts.append(rng.choice(pool, size=n, replace=n > len(pool)))
    idx = np.concatenate(parts).astype(np.int64)
    rng.shuffle(idx)
    return idx


# ---------------------------------------------------------------- stream windows

COVERAGE_FRAME = 320  # 20 ms at 16 kHz: offsets are drawn on this grid
KEEP_COVERAGE = 0.9  # a window with at least this share of a word's speech is that word
PARTIAL_COVERAGE = (0.1, 0.5)  # a keyword fragment in this range is _unknown_
NEIGHBOUR_COVERAGE = 0.3  # a neighbouring word may show at most this much of itself
NEIGHBOUR_GAP_S = 0.3


def speech_coverage(bank: np.ndarray, frame: int = COVERAGE_FRAME, below_db: float = 20.0) -> np.ndarray:
    """(clips, 2 F + 1) float32: share of each clip's speech energy inside the window when the clip
    is shifted by k frames, k = -F..F (F = frames per clip). Speech: frames within ``below_db`` of
    the clip's loudest frame. A silent clip has coverage 0 everywhere."""
    n = bank.shape[1] // frame
    energy = np.empty((len(bank), n), np.float64)
    for start in range(0, len(bank), 1024):  # float64 of the whole bank at once would be large
        part = bank[start : start + 1024, : n * frame].astype(np.float32).reshape(-1, n, frame)
        energy[start : start + 1024] = np.einsum("ijk,ijk->ij", part, part) / frame
    loud = energy >= energy.max(axis=1, keepdims=True) * 10 ** (-below_db / 10)
    speech = np.where(loud, energy, 0.0)
    cum = np.concatenate([np.zeros((len(bank), 1)), np.cumsum(speech, axis=1)], axis=1)
    total = cum[:, -1:]
    k = np.arange(-n, n + 1)
    hi = np.clip(n - k, 0, n)  # clip frames j with 0 <= j + k < n
    lo = np.clip(-k, 0, n)
    inside = cum[:, hi] - cum[:, lo]
    return np.divide(inside, total, out=np.zeros_like(inside), where=total > 0).astype(np.float32)


def _shift_where(coverage: np.ndarray, lo: float, hi: float, rng: np.random.Generator) -> np.ndarray:
    """Per row a random shift (samples) whose coverage is in [lo, hi]; -(10**9) where none is.
    The shift is k frames plus a fraction of a frame, drawn only where the coverage at both k and
    k + 1 is in range (in between it moves monotonically from one to the other)."""
    inside = (coverage >= lo) & (coverage <= hi)
    ok = inside[:, :-1] & inside[:, 1:]
    n_frames = (coverage.shape[1] - 1) // 2
    k = np.argmax(rng.random(ok.shape) * ok, axis=1) - n_frames
    fraction = rng.integers(0, COVERAGE_FRAME, size=len(k))
    return np.where(ok.any(axis=1), k * COVERAGE_FRAME + fraction, -(10 ** 9))


def _stream_rows(idx: np.ndarray, label: np.ndarray, shift: np.ndarray, y: np.ndarray, labels: tuple[str, ...],
                 tc: TrainConfig, fc: FeatureConfig, coverage: np.ndarray, rng: np.random.Generator):
    """Add partial-keyword rows and turn a share of rows into stream windows (see the module
    docstring); returns (idx, label, shift, neighbour, neighbour_shift)."""
    silence_id = labels.index(SILENCE) if SILENCE in labels else -2
    unknown_id = labels.index(UNKNOWN) if UNKNOWN in labels else -2
    words = np.flatnonzero(y != silence_id)
    keyword_rows = np.flatnonzero((idx >= 0) & (label != silence_id) & (label != unknown_id))
    n_partial = int(round(len(idx) * tc.partial_share)) if unknown_id >= 0 and len(keyword_rows) else 0
    partial = np.zeros(len(idx), bool)
    if n_partial:
        extra = idx[rng.choice(keyword_rows, size=n_partial)]
        idx = np.concatenate([idx, extra])
        label = np.concatenate([label, np.full(n_partial, unknown_id, np.int32)])
        shift = np.concatenate([shift, np.zeros(n_partial, shift.dtype)])
        partial = np.concatenate([partial, np.ones(n_partial, bool)])
    stream = (idx >= 0) & (label != silence_id) & ~partial & (rng.random(len(idx)) < tc.stream_share)
    rows = np.flatnonzero(stream | partial)
    cov = coverage[idx[rows]]
    new_shift = np.where(partial[rows], _shift_where(cov, *PARTIAL_COVERAGE, rng),
                         _shift_where(cov, KEEP_COVERAGE, 1.0, rng))
    found = new_shift > -(10 ** 9)
    shift = shift.copy()
    shift[rows[found]] = new_shift[found]
    keep = np.ones(len(idx), bool)
    keep[rows[~found & partial[rows]]] = False  # a keyword with no fragment of the wanted size
    neighbour = np.full(len(idx), -1, np.int64)
    neighbour_shift = np.zeros(len(idx), np.int64)
    placed = rows[found]
    if len(placed) and len(words):
        nb = words[rng.integers(len(words), size=len(placed))]
        gap = (rng.uniform(0.0, NEIGHBOUR_GAP_S, size=len(placed)) * fc.sample_rate).astype(np.int64)
        length = fc.clip_samples
        s = shift[placed].astype(np.int64)
        nshift = np.where(s > 0, s - length - gap, s + length + gap)
        n_frames = (coverage.shape[1] - 1) // 2
        k = np.clip(np.round(nshift / COVERAGE_FRAME).astype(np.int64), -n_frames, n_frames)
        ok = coverage[nb, k + n_frames] <= NEIGHBOUR_COVERAGE
        neighbour[placed[ok]] = nb[ok]
        neighbour_shift[placed[ok]] = nshift[ok]
    return idx[keep], label[keep], shift[keep], neighbour[keep], neighbour_shift[keep]


def _masks(n: int, count: int, width: int, size: int, rng: np.random.Generator) -> np.ndarray:
    widths = rng.integers(0, width + 1, size=(n, count))
    starts = rng.integers(0, np.maximum(1, size - widths + 1))
    return np.stack([starts, widths], axis=-1).astype(np.int32)


def plan_epoch(y: np.ndarray, labels: tuple[str, ...], tc: TrainConfig, fc: FeatureConfig,
               noise: NoiseBank, rng: np.random.Generator, coverage: np.ndarray | None = None) -> EpochPlan:
    """One epoch's augmentation plan. ``coverage`` (``speech_coverage`` of the clip bank) is needed
    for stream windows (``tc.stream_share`` / ``tc.partial_share``), ignored otherwise."""
    idx = epoch_indices(y, labels, tc, rng)
    silence_id = labels.index(SILENCE) if SILENCE in labels else 0
    label = np.where(idx >= 0, y[np.maximum(idx, 0)] if len(y) else 0, silence_id).astype(np.int32)
    max_shift = int(fc.sample_rate * tc.time_shift_ms / 1000.0)
    shift = rng.integers(-max_shift, max_shift + 1, size=len(idx)) if max_shift else np.zeros(len(idx), np.int64)
    neighbour = neighbour_shift = None
    if tc.stream_share or tc.partial_share:
        if coverage is None:
            raise ValueError("stream windows need the clips' speech coverage (pipeline.speech_coverage)")
        idx, label, shift, neighbour, neighbour_shift = _stream_rows(idx, label, shift, y, labels, tc, fc,
                                                                     coverage, rng)
        neighbour_shift = neighbour_shift.astype(np.int32)
    n = len(idx)
    speed = (rng.uniform(1.0 - tc.speed_range, 1.0 + tc.speed_range, size=n) if tc.speed_range
             else np.ones(n))
    gain = 10.0 ** (rng.uniform(-tc.gain_db, tc.gain_db, size=n) / 20.0) if tc.gain_db else np.ones(n)
    if noise:
        noise_start = noise.draw(n, rng)
        noise_volume = np.where(rng.random(n) < tc.noise_prob, rng.uniform(0.0, tc.noise_max, size=n), 0.0)
        silence_start = noise.draw(n, rng)
    else:
        noise_start = silence_start = np.zeros(n, np.int64)
        noise_volume = np.zeros(n)
    silence_volume = rng.uniform(0.0, 1.0, size=n)
    if tc.mixup_alpha:
        lam = rng.beta(tc.mixup_alpha, tc.mixup_alpha, size=n)
        mix = np.maximum(lam, 1.0 - lam)
    else:
        mix = np.ones(n)
    return EpochPlan(
        clip=idx, label=label, shift=shift.astype(np.int32), speed=speed.astype(np.float32),
        gain=gain.astype(np.float32), noise_start=noise_start.astype(np.int64),
        noise_volume=noise_volume.astype(np.float32), silence_start=silence_start.astype(np.int64),
        silence_volume=silence_volume.astype(np.float32), mixup=mix.astype(np.float32),
        time_masks=_masks(n, tc.spec_time_masks, tc.spec_time_width, fc.n_frames, rng),
        freq_masks=_masks(n, tc.spec_freq_masks, tc.spec_freq_width, fc.n_mels, rng),
        neighbour=neighbour, neighbour_shift=neighbour_shift,
    )


def _stretch(audio: np.ndarray, speed: float) -> np.ndarray:
    """Speed perturbation of one clip by linear interpolation about its centre (speed > 1:
    faster and higher, as sox ``speed``); the length stays the same, zeros beyond the ends."""
    n = len(audio)
    centre = (n - 1) / 2.0
    grid = np.arange(n, dtype=np.float64)
    return np.interp(centre + (grid - centre) * speed, grid, audio, left=0.0, right=0.0).astype(np.float32)


def _place(out: np.ndarray, clip: np.ndarray, shift: int, scale: float) -> None:
    """``out`` = ``clip`` shifted by ``shift`` samples (positive: later), zero-filled, times ``scale``."""
    n = len(out)
    if abs(shift) >= n:
        out[:] = 0.0
        return
    if shift >= 0:
        out[:shift] = 0.0
        np.multiply(clip[: n - shift], scale, out=out[shift:], casting="unsafe")
    else:
        out[n + shift :] = 0.0
        np.multiply(clip[-shift:], scale, out=out[: n + shift], casting="unsafe")


def _add_placed(out: np.ndarray, clip: np.ndarray, shift: int, scale: float) -> None:
    """``out`` += ``clip`` shifted by ``shift`` samples (the overlapping part only), times ``scale``."""
    n = len(out)
    lo, hi = max(0, shift), min(n, shift + len(clip))
    if lo < hi:
        out[lo:hi] += clip[lo - shift : hi - shift] * np.float32(scale)


def assemble(plan: EpochPlan, rows: slice, bank: np.ndarray, noise: NoiseBank) -> np.ndarray:
    """The augmented float32 audio of ``plan[rows]``: (B, clip_samples), clipped to [-1, 1].

    ``bank`` holds the training clips as int16. A silence row (clip -1) is a crop of a
    background recording at a random level, as the per-clip path made it. Row by row
    with contiguous slices: faster than fancy-index gathers over the whole batch."""
    index = range(len(plan))[rows]
    out = np.empty((len(index), bank.shape[1]), np.float32)
    crop = bank.shape[1]
    for r, i in enumerate(index):
        c = plan.clip[i]
        if c >= 0:
            clip, scale = bank[c], plan.gain[i] / 32768.0
        elif noise:
            s = plan.silence_start[i]
            clip, scale = noise.samples[s : s + crop], plan.gain[i] * plan.silence_volume[i]
        else:
            clip, scale = np.zeros(crop, np.float32), 0.0
        if plan.speed[i] != 1.0:
            clip = _stretch(clip.astype(np.float32), float(plan.speed[i]))
        _place(out[r], clip, int(plan.shift[i]), float(scale))
        if plan.neighbour is not None and plan.neighbour[i] >= 0:
            _add_placed(out[r], bank[plan.neighbour[i]], int(plan.neighbour_shift[i]), float(scale))
        if plan.noise_volume[i] > 0:
            s = plan.noise_start[i]
            out[r] += noise.samples[s : s + crop] * plan.noise_volume[i]
    return np.clip(out, -1.0, 1.0, out=out)


class TFFrontEnd:
    """The MFCC of ``tinykws.audio.mfcc`` in TensorFlow: tf.signal.stft with the periodic Hann
    window, and the same mel and DCT matrices (float32), so the two agree to float32 rounding."""

    def __init__(self, fc: FeatureConfig, norm: Normalisation | None):
        import tensorflow as tf

        self.fc = fc
        self.mel = tf.constant(mel_matrix(fc), tf.float32)
        self.dct = tf.constant(dct_matrix(fc.n_mels, fc.n_mfcc), tf.float32)
        mean = norm.mean if norm is not None else (0.0,) * fc.n_mfcc
        std = norm.std if norm is not None else (1.0,) * fc.n_mfcc
        self.mean = tf.constant(mean, tf.float32)
        self.std = tf.constant(std, tf.float32)

    def log_mel(self, audio):
        import tensorflow as tf

        fc = self.fc
        stft = tf.signal.stft(audio, fc.window_samples, fc.hop_samples, fft_length=fc.fft_size,
                              window_fn=tf.signal.hann_window, pad_end=False)
        return tf.math.log(tf.tensordot(tf.abs(stft), self.mel, 1) + fc.log_offset)

    def model_input(self, log_mel):
        import tensorflow as tf

        mfcc = tf.tensordot(log_mel, self.dct, 1)
        return ((mfcc - self.mean) / self.std)[..., None]

    def __call__(self, audio):
        return self.model_input(self.log_mel(audio))


def apply_masks(log_mel, time_masks, freq_masks):
    """SpecAugment: each (start, width) range of frames / mel bins set to the spectrogram's mean."""
    import tensorflow as tf

    n_frames, n_mels = log_mel.shape[-2], log_mel.shape[-1]
    fill = tf.reduce_mean(log_mel, axis=[-2, -1], keepdims=True)
    masked = tf.zeros_like(log_mel, tf.bool)
    for masks, size, axis in ((time_masks, n_frames, -2), (freq_masks, n_mels, -1)):
        if masks.shape[-2] == 0:
            continue
        pos = tf.range(size)[None, None, :]
        start, width = masks[..., :1], masks[..., 1:]
        hit = tf.reduce_any((pos >= start) & (pos < start + width), axis=1)  # (B, size)
        masked = masked | (hit[:, :, None] if axis == -2 else hit[:, None, :])
    return tf.where(masked, fill, log_mel)


def training_dataset(plan: EpochPlan, bank: np.ndarray, noise: NoiseBank, fc: FeatureConfig, tc: TrainConfig,
                     norm: Normalisation | None, n_labels: int, seed: int):
    """A ``tf.data.Dataset`` of one epoch of (features, one-hot labels) batches of ``plan``."""
    import tensorflow as tf

    front = TFFrontEnd(fc, norm)
    batch = tc.batch_size
    masks = bool(tc.spec_time_masks or tc.spec_freq_masks)
    mixing = bool(tc.mixup_alpha)
    rng = np.random.default_rng(seed)

    def batches():
        for start in range(0, len(plan), batch):
            rows = slice(start, start + batch)
            n = len(plan.clip[rows])
            yield (assemble(plan, rows, bank, noise), plan.label[rows], plan.time_masks[rows],
                   plan.freq_masks[rows], plan.mixup[rows], rng.permutation(n).astype(np.int32))

    spec = (tf.TensorSpec((None, fc.clip_samples), tf.float32), tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None, tc.spec_time_masks, 2), tf.int32),
            tf.TensorSpec((None, tc.spec_freq_masks, 2), tf.int32),
            tf.TensorSpec((None,), tf.float32), tf.TensorSpec((None,), tf.int32))

    def features(audio, label, time_masks, freq_masks, mix, perm):
        log_mel = front.log_mel(audio)
        if masks:
            log_mel = apply_masks(log_mel, time_masks, freq_masks)
        x = front.model_input(log_mel)
        y = tf.one_hot(label, n_labels)
        if mixing:
            lx = mix[:, None, None, None]
            x = lx * x + (1.0 - lx) * tf.gather(x, perm)
            y = mix[:, None] * y + (1.0 - mix[:, None]) * tf.gather(y, perm)
        return x, y

    n_batches = -(-len(plan) // batch)
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))  # Keras then knows the epoch's steps
    options = tf.data.Options()  # under a multi-worker strategy each worker takes its share of the batches
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    return ds.map(features, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
