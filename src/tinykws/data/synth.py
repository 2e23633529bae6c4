"""An offline keyword data set synthesised with eSpeak NG, in the 12-folder Speech Commands layout.

    OUT/yes/SPEAKER_nohash_N.wav ... OUT/_unknown_/... OUT/_silence_/...  OUT/synth.json
    OUT/_background_noise_/KIND_noise.wav   10 s noise files for training augmentation

Every clip is 1 s of 16 kHz mono 16-bit PCM. A "speaker" is one synthetic
voice setting (English voice or accent, voice variant, base pitch, pitch range
and speaking rate); each speaker says each word ``CLIPS_PER_SPEAKER`` time(s)
with small per-clip variations of rate, pitch, intonation (punctuation),
level, microphone colouring and position within the second. ``_unknown_``
holds other words said by the same speakers; ``_silence_`` holds generated
noise (white, pink, brown, mains hum, babble) at low levels, grouped into
"settings" named ``noiseNN`` that play the role of speakers.

The data set depends only on ``seed`` and ``per_word`` (and on the eSpeak NG
build): the same arguments give byte-identical files. It is built in a
temporary sibling folder and moved into place at the end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tinykws import __version__
from tinykws.audio.io import resample, wav_bytes
from tinykws.config import KEYWORDS, SILENCE, UNKNOWN
from tinykws.data.espeak import EspeakWorker, Utterance
from tinykws.data.noise import at_rms_dbfs, make_babble, make_noise
from tinykws.errors import DataError, InputError
from tinykws.fsutil import atomic_dir

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
DEFAULT_PER_WORD = 40
CLIPS_PER_SPEAKER = 1  # more voices beat repetitions: each speaker says each word once by default
CLIPS_PER_NOISE_SETTING = 2
MANIFEST = "synth.json"
LABELS: tuple[str, ...] = KEYWORDS + (UNKNOWN, SILENCE)

VOICES: tuple[str, ...] = (
    "en", "en-us", "en-GB-scotland", "en-GB-x-gbclan", "en-GB-x-gbcwmd", "en-GB-x-rp", "en-029", "en-US-nyc",
)
# Variants that sound like people (the robotic and effect variants are left out); "" is the plain voice.
VARIANTS: tuple[str, ...] = (
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "croak", "whisper",
    "whisperf", "klatt", "klatt2", "klatt3", "klatt4", "Alex", "Andy", "Annie", "Denis", "Diogo", "Gene",
    "Henrique", "Hugo", "Lee", "Mario", "Michael", "Mike", "Nguyen", "Reed", "adam", "anika", "aunty",
    "belinda", "benjamin", "boris", "caleb", "david", "ed", "edward", "grandma", "grandpa", "ian", "john",
    "linda", "max", "michel", "norbert", "paul", "quincy", "rob", "robert", "steph", "travis", "victor", "zac",
)
# The other Speech Commands words, then near misses of the keywords (hard negatives; no homophones).
UNKNOWN_WORDS: tuple[str, ...] = (
    "backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward", "four", "happy", "house",
    "learn", "marvin", "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "visual", "wow", "zero",
    "hello", "yellow", "nose", "upper", "dawn", "lift", "bright", "often", "top", "goal", "yet", "light",
    "shop", "music", "water", "maybe", "open", "cancel", "start",
)
SILENCE_KINDS: tuple[str, ...] = ("white", "pink", "brown", "hum", "babble")
BACKGROUND = "_background_noise_"  # long noise files for training augmentation, as in the full data set
BACKGROUND_KINDS: tuple[str, ...] = ("white", "pink", "brown", "hum50", "hum60", "babble")
BACKGROUND_SECONDS = 10
_BACKGROUND_DBFS = -14.0  # RMS, lowered where a peak would pass 0.9 (babble, brown noise)
_ENDINGS = ("", ".", "?", "!", ",")  # changes the intonation eSpeak gives the word
_MAX_WORD = int(0.95 * CLIP_SAMPLES)
_MAX_RATE = 450
_FRAME = SAMPLE_RATE // 100
_FADE = SAMPLE_RATE // 200

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Speaker:
    """One synthetic voice setting; ``id`` is the file-name part before ``_nohash_``."""

    id: str
    voice: str
    pitch: int
    pitch_range: int
    rate: int


@dataclass(frozen=True)
class SynthSummary:
    out_dir: Path
    counts: dict[str, int]
    n_speakers: int
    seconds: float
    per_word: int = 0
    seed: int = 0

    @property
    def n_clips(self) -> int:
        return sum(self.counts.values())

    @property
    def clips_per_second(self) -> float:
        return self.n_clips / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class _Build:
    """Mutable state of one build: the TTS worker, the output folder, the manifest, babble material."""

    tts: EspeakWorker
    root: Path
    seed: int
    records: list[dict[str, object]] = field(default_factory=list)
    babble_pool: list[np.ndarray] = field(default_factory=list)


# --------------------------------------------------------------------------- speakers


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def make_speakers(n: int, variants: tuple[str, ...], seed: int) -> tuple[Speaker, ...]:
    """``n`` distinct voice settings drawn from voices x variants (repeating combinations past their count)."""
    combos = [(v, var) for v in VOICES for var in VARIANTS if var == "" or var in variants]
    rng = np.random.default_rng([seed, 1000])
    order = rng.permutation(len(combos))
    speakers = []
    for i in range(n):
        voice, variant = combos[int(order[i % len(combos)])]
        name = f"{voice}+{variant}" if variant else voice
        speakers.append(Speaker(
            id=f"s{i:03d}-{_slug(name)}", voice=name, pitch=int(rng.integers(25, 76)),
            pitch_range=int(rng.integers(20, 91)), rate=int(rng.integers(110, 201)),
        ))
    return tuple(speakers)


# --------------------------------------------------------------------------- one spoken clip


def trim_silence(x: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than ``floor_db`` below the loudest frame."""
    n_frames = len(x) // _FRAME
    if n_frames == 0:
        return x
    rms = np.sqrt(np.mean(x[: n_frames * _FRAME].reshape(n_frames, _FRAME) ** 2, axis=1))
    loud = np.nonzero(rms > max(rms.max() * 10 ** (floor_db / 20), 1e-4))[0]
    if len(loud) == 0:
        return x[:0]
    start = max(0, (loud[0] - 1) * _FRAME)
    end = min(len(x), (loud[-1] + 2) * _FRAME)
    return x[start:end]


def _fade(x: np.ndarray) -> np.ndarray:
    n = min(_FADE, len(x) // 2)
    if n == 0:
        return x
    ramp = np.linspace(0.0, 1.0, n)
    x = x.copy()
    x[:n] *= ramp
    x[-n:] *= ramp[::-1]
    return x


def _speak(tts: EspeakWorker, utt: Utterance) -> np.ndarray:
    raw = tts.speak(utt).astype(np.float64) / 32768.0
    return trim_silence(resample(raw, tts.sample_rate, SAMPLE_RATE))


def _spoken_word(tts: EspeakWorker, utt: Utterance) -> np.ndarray:
    """The word trimmed to its sound, re-spoken faster (then time-compressed) if over 0.95 s."""
    x = _speak(tts, utt)
    if len(x) == 0:
        raise DataError(f"eSpeak NG produced no sound for {utt.text!r} with voice {utt.voice}")
    if len(x) > _MAX_WORD and utt.rate < _MAX_RATE:
        faster = min(_MAX_RATE, math.ceil(utt.rate * len(x) / _MAX_WORD * 1.05))
        quicker = _speak(tts, dataclasses.replace(utt, rate=faster))
        x = quicker if len(quicker) else x
    if len(x) > _MAX_WORD:
        x = resample(x, len(x), _MAX_WORD)[:_MAX_WORD]
    return _fade(x)


def _utterance(word: str, speaker: Speaker, rng: np.random.Generator) -> Utterance:
    return Utterance(
        text=word + str(rng.choice(_ENDINGS)),
        voice=speaker.voice,
        rate=int(np.clip(round(speaker.rate * rng.uniform(0.85, 1.15)), 80, _MAX_RATE)),
        pitch=int(np.clip(speaker.pitch + rng.integers(-6, 7), 0, 100)),
        pitch_range=int(np.clip(speaker.pitch_range + rng.integers(-10, 11), 0, 100)),
        noise_seed=int(rng.integers(1, 2**31 - 1)),
    )


def _microphone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half of the clips get a random band limit, like a cheap microphone or a phone."""
    if rng.random() < 0.5:
        return x
    from scipy.signal import butter, sosfilt

    low, high = rng.uniform(60.0, 300.0), rng.uniform(3000.0, 7500.0)
    return sosfilt(butter(2, [low, high], btype="bandpass", fs=SAMPLE_RATE, output="sos"), x)


def _room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half of the clips get a small room: an exponentially decaying noise tail (RT60 0.1-0.6 s)."""
    if rng.random() < 0.5:
        return x
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.1, 0.6)
    n = int(rt60 * SAMPLE_RATE)
    tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at n
    ir = np.concatenate([[1.0], tail * rng.uniform(0.02, 0.1)])
    wet = fftconvolve(x, ir)
    return wet[: min(len(wet), _MAX_WORD)]


def _place(word: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The word at a random offset in one second, peak at a random level, over a faint noise floor."""
    peak = float(np.max(np.abs(word))) or 1.0
    word = word * (10 ** (rng.uniform(-24.0, -1.0) / 20) / peak)
    offset = int(rng.integers(0, CLIP_SAMPLES - len(word) + 1))
    clip = np.zeros(CLIP_SAMPLES)
    clip[offset : offset + len(word)] = word
    floor = make_noise(str(rng.choice(("white", "pink", "brown"))), CLIP_SAMPLES, rng)
    return clip + at_rms_dbfs(floor, rng.uniform(-80.0, -55.0)), offset


def speech_clip(tts: EspeakWorker, word: str, speaker: Speaker,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """One 1 s clip of ``word``; also the bare spoken word and what was done, for the manifest."""
    utt = _utterance(word, speaker, rng)
    spoken = _spoken_word(tts, utt)
    clip, offset = _place(_room(_microphone(spoken, rng), rng), rng)
    info = {"text": utt.text, "voice": utt.voice, "rate": utt.rate, "pitch": utt.pitch,
            "pitch_range": utt.pitch_range, "offset": offset, "samples": len(spoken)}
    return clip, spoken, info


# --------------------------------------------------------------------------- silence


def silence_clip(kind: str, babble_pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One second of noise of ``kind`` at an RMS level between -65 and -25 dBFS, sometimes with hum."""
    if kind == "babble":
        noise = make_babble(babble_pool, CLIP_SAMPLES, rng)
    else:
        noise = make_noise(kind, CLIP_SAMPLES, rng)
    if kind != "hum" and rng.random() < 0.3:
        noise = noise + at_rms_dbfs(make_noise("hum", CLIP_SAMPLES, rng), rng.uniform(-20.0, -8.0))
    return at_rms_dbfs(noise, rng.uniform(-65.0, -25.0))


# --------------------------------------------------------------------------- the data set


def _clip_rng(seed: int, label: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, LABELS.index(label), index])


def _write(build: _Build, label: str, speaker_id: str, index: int, clip: np.ndarray,
           info: dict[str, object]) -> None:
    rel = f"{label}/{speaker_id}_nohash_{index}.wav"
    (build.root / rel).write_bytes(wav_bytes(np.clip(clip, -1.0, 1.0), SAMPLE_RATE))
    build.records.append({"path": rel, "label": label, "speaker": speaker_id, **info})


def _word_clips(build: _Build, label: str, speakers: tuple[Speaker, ...], per_word: int,
                tick: Callable[[], None]) -> None:
    for i in range(per_word):
        rng = _clip_rng(build.seed, label, i)
        speaker = speakers[i % len(speakers)]
        word = label if label != UNKNOWN else str(rng.choice(UNKNOWN_WORDS))
        clip, spoken, info = speech_clip(build.tts, word, speaker, rng)
        if label == UNKNOWN:
            build.babble_pool.append(spoken)
        _write(build, label, speaker.id, i // len(speakers), clip, {"word": word, **info})
        tick()


def _silence_clips(build: _Build, per_word: int, tick: Callable[[], None]) -> None:
    for i in range(per_word):
        setting = i // CLIPS_PER_NOISE_SETTING
        kind = SILENCE_KINDS[setting % len(SILENCE_KINDS)]
        clip = silence_clip(kind, build.babble_pool, _clip_rng(build.seed, SILENCE, i))
        _write(build, SILENCE, f"noise{setting:02d}", i % CLIPS_PER_NOISE_SETTING, clip, {"noise": kind})
        tick()


def _limit(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale down (never clip) a signal whose peak is above ``peak``."""
    top = float(np.max(np.abs(x)))
    return x * (peak / top) if top > peak else x


def _background_files(build: _Build) -> None:
    """``_background_noise_/KIND_noise.wav``: what training mixes under clips, like the official folder."""
    (build.root / BACKGROUND).mkdir()
    n = BACKGROUND_SECONDS * SAMPLE_RATE
    for i, kind in enumerate(BACKGROUND_KINDS):
        rng = np.random.default_rng([build.seed, len(LABELS), i])
        noise = make_babble(build.babble_pool, n, rng) if kind == "babble" else make_noise(kind, n, rng)
        rel = f"{BACKGROUND}/{kind}_noise.wav"
        (build.root / rel).write_bytes(wav_bytes(_limit(at_rms_dbfs(noise, _BACKGROUND_DBFS))))
        build.records.append({"path": rel, "label": BACKGROUND, "noise": kind, "seconds": BACKGROUND_SECONDS})


def _check_out_dir(out_dir: Path) -> None:
    """Refuse to replace a folder that is not empty and was not made by this generator."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file()):
        raise DataError(f"{out_dir}: exists and is not a synthesised data set (no {MANIFEST}); "
                        "choose another --out or remove it")


def _manifest(build: _Build, per_word: int, speakers: tuple[Speaker, ...], counts: dict[str, int]) -> str:
    doc = {
        "generator": f"tinykws {__version__} data synth (eSpeak NG)",
        "seed": build.seed, "per_word": per_word, "sample_rate": SAMPLE_RATE, "counts": counts,
        "speakers": [vars(s) for s in speakers], "clips": build.records,
    }
    return json.dumps(doc, indent=1) + "\n"


def synthesize(out_dir: Path, per_word: int = DEFAULT_PER_WORD, seed: int = 0,
               progress: Progress | None = None) -> SynthSummary:
    """Write ``per_word`` clips for each of the 12 labels into ``out_dir`` (replaced atomically)."""
    out_dir = Path(out_dir)
    if per_word < 1:
        raise InputError(f"per_word must be at least 1, got {per_word}")
    _check_out_dir(out_dir)
    start, total, done = time.perf_counter(), per_word * len(LABELS), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    with EspeakWorker() as tts, atomic_dir(out_dir) as root:
        build = _Build(tts, root, seed)
        speakers = make_speakers(math.ceil(per_word / CLIPS_PER_SPEAKER), tts.variants, seed)
        for label in LABELS:
            (root / label).mkdir()
        for label in KEYWORDS + (UNKNOWN,):
            _word_clips(build, label, speakers, per_word, tick)
        _silence_clips(build, per_word, tick)
        _background_files(build)
        counts = {label: per_word for label in LABELS}
        (root / MANIFEST).write_text(_manifest(build, per_word, speakers, counts))
    return SynthSummary(out_dir, counts, len(speakers), time.perf_counter() - start, per_word, seed)
