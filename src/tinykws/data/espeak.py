"""eSpeak NG speech synthesis through ctypes, run in a worker process of its own.

The shared library and its voice data come from the ``espeakng-loader`` wheel;
no system install of eSpeak is needed.

Why a worker process: eSpeak NG keeps synthesis state in C globals that no API
call resets (pitch flutter position, automatic gain, echo buffer, the random
generator of breath noise), so the samples of an utterance depend on every
utterance synthesised before it in the process. A fresh process per data set,
fed the same requests in the same order, gives byte-identical audio; it also
keeps a crash in the C library from taking the caller down.

The worker speaks a tiny binary protocol on its stdin/stdout: one JSON request
per line; replies are one tag byte (``A`` audio, ``J`` JSON, ``E`` error), a
little-endian uint32 length and the payload (int16 samples for ``A``).
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from tinykws.errors import DataError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAMS = {"rate": 1, "volume": 2, "pitch": 3, "pitch_range": 4}
_VARIANT_DIR = ("voices", "!v")
_HEADER = struct.Struct("<cI")

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Utterance:
    """One request: text, voice (``en-us`` or ``en-us+m3``) and eSpeak parameters."""

    text: str
    voice: str
    rate: int = 175  # words per minute, 80..450
    pitch: int = 50  # 0..100
    pitch_range: int = 50  # 0..100
    volume: int = 100  # 0..200
    noise_seed: int = 0  # seeds eSpeak's generator of breath and aspiration noise (else seeded from the clock)


def default_library_path() -> str:
    try:
        import espeakng_loader
    except ImportError as exc:
        raise DataError(f"espeakng-loader is not installed ({exc}); pip install espeakng-loader") from None
    return espeakng_loader.get_library_path()


def default_data_path() -> str:
    try:
        import espeakng_loader

        return espeakng_loader.get_data_path()
    except (ImportError, RuntimeError) as exc:
        raise DataError(f"eSpeak NG voice data not found ({exc}); reinstall espeakng-loader") from None


def available_variants(data_path: str | Path) -> tuple[str, ...]:
    """Names of the voice variants (``m1``, ``f2``, ``croak``, ...) shipped in the data folder."""
    folder = Path(data_path).joinpath(*_VARIANT_DIR)
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file()))


# --------------------------------------------------------------------------- in-process binding


class _Engine:
    """The C library, initialised for synchronous synthesis into a callback."""

    def __init__(self, library_path: str, data_path: str) -> None:
        try:
            self.lib = ctypes.CDLL(library_path)
        except OSError as exc:
            raise DataError(f"cannot load the eSpeak NG library {library_path}: {exc}") from None
        self._declare()
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise DataError(f"eSpeak NG failed to initialise with voice data {data_path}")
        self._chunks: list[bytes] = []
        self._callback = _SynthCallback(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _declare(self) -> None:
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]

    def _collect(self, wav: Any, n_samples: int, _events: Any) -> int:
        if n_samples > 0:
            self._chunks.append(ctypes.string_at(wav, 2 * n_samples))
        return 0

    def set_voice(self, voice: str) -> None:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise DataError(f"eSpeak NG has no voice {voice!r}")

    def speak(self, utt: Utterance) -> bytes:
        """int16 little-endian samples at ``self.sample_rate``."""
        self.set_voice(utt.voice)
        for name, code in _PARAMS.items():
            self.lib.espeak_SetParameter(code, int(getattr(utt, name)), 0)
        text = utt.text.encode("utf-8")
        self._chunks = []
        self.lib.espeak_ng_SetRandSeed(utt.noise_seed)
        status = self.lib.espeak_Synth(text, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise DataError(f"eSpeak NG could not synthesise {utt.text!r} with {utt.voice} (status {status})")
        self.lib.espeak_Synchronize()
        return b"".join(self._chunks)


# --------------------------------------------------------------------------- worker side


def _reply(out: IO[bytes], tag: bytes, payload: bytes) -> None:
    out.write(_HEADER.pack(tag, len(payload)) + payload)
    out.flush()


def _serve(library_path: str, data_path: str, out: IO[bytes], inp: IO[bytes]) -> None:
    try:
        engine = _Engine(library_path, data_path)
    except DataError as exc:
        _reply(out, b"E", str(exc).encode())
        return
    hello = {"sample_rate": engine.sample_rate, "variants": list(available_variants(data_path))}
    _reply(out, b"J", json.dumps(hello).encode())
    for line in inp:
        try:
            _reply(out, b"A", engine.speak(Utterance(**json.loads(line))))
        except (DataError, TypeError, ValueError) as exc:
            _reply(out, b"E", str(exc).encode())


def _worker_main(argv: list[str]) -> None:
    """Entry point of the worker: keep the protocol on a private copy of stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the C library prints goes to stderr, not into the protocol
    _serve(argv[0], argv[1], out, sys.stdin.buffer)


# --------------------------------------------------------------------------- caller side


def _child_env() -> dict[str, str]:
    """The caller's environment, with this copy of tinykws first on the worker's import path."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


class EspeakWorker:
    """A fresh eSpeak NG process: ``with EspeakWorker() as tts: tts.speak(Utterance(...))``."""

    def __init__(self, library_path: str | None = None, data_path: str | None = None) -> None:
        self.library_path = str(library_path or default_library_path())
        self.data_path = str(data_path or default_data_path())
        self.sample_rate = 0
        self.variants: tuple[str, ...] = ()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> "EspeakWorker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if not Path(self.library_path).is_file():
            raise DataError(f"cannot load the eSpeak NG library: {self.library_path} does not exist")
        self._stderr = tempfile.TemporaryFile()
        cmd = [sys.executable, "-c", "import sys; from tinykws.data.espeak import _worker_main; "
               "_worker_main(sys.argv[1:])", self.library_path, self.data_path]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      env=_child_env())
        tag, payload = self._receive()
        if tag != b"J":
            self.close()
            raise DataError(payload.decode(errors="replace"))
        hello = json.loads(payload)
        self.sample_rate = int(hello["sample_rate"])
        self.variants = tuple(hello["variants"])

    def speak(self, utt: Utterance) -> np.ndarray:
        """Samples of one utterance, int16 at ``self.sample_rate``."""
        if self._proc is None or self._proc.stdin is None:
            raise DataError("the eSpeak NG worker is not running")
        try:
            self._proc.stdin.write(json.dumps(asdict(utt)).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise DataError(f"the eSpeak NG worker died{self._stderr_tail()}") from None
        tag, payload = self._receive()
        if tag != b"A":
            raise DataError(payload.decode(errors="replace"))
        return np.frombuffer(payload, dtype="<i2").astype(np.int16)

    def _receive(self) -> tuple[bytes, bytes]:
        assert self._proc is not None and self._proc.stdout is not None
        header = self._proc.stdout.read(_HEADER.size)
        if len(header) < _HEADER.size:
            code = self._proc.wait()
            raise DataError(f"the eSpeak NG worker exited with code {code}{self._stderr_tail()}")
        tag, size = _HEADER.unpack(header)
        payload = self._proc.stdout.read(size)
        if len(payload) < size:
            raise DataError(f"the eSpeak NG worker stopped mid-reply{self._stderr_tail()}")
        return tag, payload

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read()[-500:].decode(errors="replace").strip()
        return f": {text}" if text else ""

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
