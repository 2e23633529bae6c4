"""The firmware WAV reader (firmware_templates/app/tk_wav.c) against tinykws.audio.io.read_wav.

A bounded, deterministic mutation fuzz: valid WAVs with chunk size fields set
to edge values (0x7FFFFFFF, 0x80000000, 0xFFFFFFF8, ...), truncated, bit-flipped
and spliced. The C reader is built on the host under ASan/UBSan twice, with a
64-bit and with a 32-bit `long` (`gcc -m32`, as on every Cortex-M), and runs
over every input with a time limit (a hang fails). The Python reader is the
independent reference: the C reader accepts exactly the files read_wav accepts
as 16-bit PCM mono at 16 kHz (truncated files are refused by both) and reads
the same samples. The 20-byte file of issue 12 (RIFF, WAVE, a chunk whose size
is 0xFFFFFFF8) also runs in QEMU on the cortex-m4 bundle and must end promptly
with an error.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinykws.audio.io import read_wav
from tinykws.errors import AudioError
from tinykws.templates import templates_dir
from tinykws.toolchain import SANITIZE_FLAGS, STRICT_FLAGS, toolchain_available

APP = templates_dir() / "app"
DRIVER = Path(__file__).parent / "c" / "wav_fuzz_driver.c"
M4_OK, M4_WHY = toolchain_available("cortex-m4")
HAVE_GCC = shutil.which("gcc") is not None
EDGE_SIZES = (0, 1, 2, 3, 15, 16, 39, 40, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFF0, 0xFFFFFFF7, 0xFFFFFFF8,
              0xFFFFFFFF)
FEATURES_STUB = "#define TK_FEATURES_SAMPLE_RATE 16000\n#define TK_FEATURES_CLIP_SAMPLES 16000\n"
#: RIFF, its size, WAVE, then a chunk whose size field is 0xFFFFFFF8 (a backwards seek with a 32-bit long).
TWENTY_BYTES = b"RIFF" + struct.pack("<I", 12) + b"WAVE" + b"LIST" + struct.pack("<I", 0xFFFFFFF8)


# ---------------------------------------------------------------- inputs


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    declared = len(body) if size is None else size
    return cid + struct.pack("<I", declared) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16, extensible: bool = False) -> bytes:
    align = channels * bits // 8
    head = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if not extensible:
        return head
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return head + struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + guid_tail


def riff(*chunks: bytes) -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def base_wavs(rng: np.random.Generator) -> list[bytes]:
    """Valid files in the shapes the reader must walk: extra chunks, odd sizes with pad bytes, extensible."""
    pcm = (rng.integers(-32768, 32768, size=1200)).astype("<i2").tobytes()
    fmt = chunk(b"fmt ", fmt_body())
    return [
        riff(fmt, chunk(b"data", pcm)),
        riff(chunk(b"LIST", b"INFOisft"), chunk(b"junk", b"odd"), fmt, chunk(b"data", pcm)),
        riff(chunk(b"fmt ", fmt_body(extensible=True)), chunk(b"fact", b"\x00" * 4), chunk(b"data", pcm[:802])),
        riff(chunk(b"data", pcm), fmt, chunk(b"cue ", b"\x01" * 7)),
        riff(fmt, chunk(b"data", pcm[:2 * 331])) + b"\x01\x02\x03",
    ]


def chunk_offsets(data: bytes) -> list[int]:
    """Offsets of every size field (RIFF's and each chunk's) of a valid file."""
    offsets, pos = [4] if len(data) >= 8 else [], 12
    while pos + 8 <= len(data):
        offsets.append(pos + 4)
        size = struct.unpack_from("<I", data, pos + 4)[0]
        pos += 8 + size + (size & 1)
    return offsets


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    kind = rng.integers(6)
    if not data:
        return data
    if kind <= 1 and chunk_offsets(data):  # a size field set to an edge value or at random
        at = int(rng.choice(chunk_offsets(data)))
        value = int(rng.choice(EDGE_SIZES)) if kind == 0 else int(rng.integers(0, 2**32))
        struct.pack_into("<I", out, at, value)
    elif kind <= 2:  # truncated anywhere
        del out[int(rng.integers(0, len(out))):]
    elif kind == 3:  # a few bytes flipped
        for at in rng.integers(0, len(out), size=int(rng.integers(1, 5))):
            out[at] ^= int(rng.integers(1, 256))
    elif kind == 4:  # a chunk with an edge size spliced in at a chunk boundary
        at = int(rng.choice([o - 4 for o in chunk_offsets(data)[1:]] + [len(data)]))
        out[at:at] = b"JUNK" + struct.pack("<I", int(rng.choice(EDGE_SIZES)))
    else:  # the format fields changed (rate, channels, bits, block align, tag)
        at = data.find(b"fmt ") + 8 + int(rng.choice([0, 2, 4, 12, 14]))
        if 8 <= at <= len(out) - 2:
            struct.pack_into("<H", out, at, int(rng.choice([0, 1, 2, 3, 8, 16, 24, 0x3E80, 0xFFFE])))
    return bytes(out)


def fuzz_inputs(root: Path, count: int, seed: int = 12) -> list[Path]:
    rng = np.random.default_rng(seed)
    bases = base_wavs(rng)
    blobs = [*bases, TWENTY_BYTES, b"", b"RIFF", TWENTY_BYTES[:12]]
    while len(blobs) < count:
        data = bases[int(rng.integers(len(bases)))]
        for _ in range(int(rng.integers(1, 3))):
            data = mutate(data, rng)
        blobs.append(data)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(blobs[:count]):
        paths.append(root / f"in{i:05d}.wav")
        paths[-1].write_bytes(data)
    return paths


# ---------------------------------------------------------------- the Python reference


def fnv1a(samples: np.ndarray) -> int:
    h = 2166136261
    for byte in samples.astype("<i2").tobytes():
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def python_verdict(path: Path) -> tuple[int, int] | None:
    """(samples, hash) when read_wav accepts `path` as 16-bit PCM mono 16 kHz, else None."""
    try:
        samples, info = read_wav(path, target_rate=None)
    except AudioError:
        return None
    if (info.format_tag, info.bits, info.channels, info.sample_rate) != (1, 16, 1, 16000):
        return None
    pcm = np.round(samples.astype(np.float64) * 32768.0).astype(np.int16)
    return len(pcm), fnv1a(pcm)


# ---------------------------------------------------------------- the C reader


def m32_works(tmp: Path) -> bool:
    probe = tmp / "probe.c"
    probe.write_text("int main(void) { return sizeof(long) == 4 ? 0 : 1; }\n")
    built = subprocess.run(["gcc", "-m32", *SANITIZE_FLAGS, str(probe), "-o", str(tmp / "probe")],
                           capture_output=True, text=True, check=False)
    return built.returncode == 0 and subprocess.run([str(tmp / "probe")], check=False).returncode == 0


def build_driver(out: Path, bits: int, source: Path = APP / "tk_wav.c") -> Path:
    stub = out.parent / "stub"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "tk_features.h").write_text(FEATURES_STUB)
    cmd = ["gcc", f"-m{bits}", *STRICT_FLAGS, *SANITIZE_FLAGS, "-I", str(stub), "-I", str(APP),
           str(source), str(DRIVER), "-o", str(out)]
    built = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert built.returncode == 0 and not built.stderr.strip(), built.stderr
    return out


def run_driver(exe: Path, paths: list[Path], work: Path, timeout: float = 30.0) -> tuple[dict[int, list[str]], dict]:
    """Every input's result line; a crash or hang is recorded against its input and the run resumes after it."""
    results: dict[int, list[str]] = {}
    failures: dict[str, list[int]] = {"crash": [], "hang": []}
    start = 0
    while start < len(paths):
        listing = work / "list.txt"
        listing.write_text("".join(f"{p}\n" for p in paths[start:]))
        try:
            done = subprocess.run([str(exe), str(listing)], capture_output=True, text=True, timeout=timeout,
                                  check=False)
            stdout, crashed = done.stdout, done.returncode != 0 or bool(done.stderr.strip())
            kind = "crash"
        except subprocess.TimeoutExpired as exc:
            stdout, crashed, kind = (exc.stdout or b"").decode(), True, "hang"
        lines = [line.split(" ", 3) if " error " in line else line.split()
                 for line in stdout.splitlines() if not line.startswith("long_bits=")]
        for fields in lines:
            results[start + int(fields[0])] = fields[1:]
        if not crashed:
            break
        failures[kind].append(start + len(lines))
        start += len(lines) + 1
    return results, failures


def check_against_python(paths: list[Path], results: dict[int, list[str]]) -> list[str]:
    wrong = []
    for i, path in enumerate(paths):
        want, got = python_verdict(path), results.get(i)
        if got is None:
            continue  # a crash or a hang, counted separately
        if want is None and got[0] != "error":
            wrong.append(f"{path.name}: read_wav refuses it, the C reader accepted {got}")
        elif want is not None and got != ["ok", str(want[0]), str(want[1]), "0"]:
            wrong.append(f"{path.name}: read_wav reads {want[0]} samples (hash {want[1]}), the C reader {got}")
    return wrong


@pytest.fixture(scope="module", params=[64, 32], ids=["long64", "long32"])
def driver(request, tmp_path_factory) -> Path:
    if not HAVE_GCC:
        pytest.skip("gcc not found on PATH")
    work = tmp_path_factory.mktemp(f"wav{request.param}")
    if request.param == 32 and platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"gcc -m32 is an x86 option; this machine is {platform.machine()}")
    if request.param == 32 and not m32_works(work):
        pytest.skip("gcc -m32 with ASan/UBSan does not work here (install gcc-multilib)")
    return build_driver(work / "wav_fuzz_driver", request.param)


def fuzz(driver: Path, root: Path, count: int) -> None:
    paths = fuzz_inputs(root / "inputs", count)
    results, failures = run_driver(driver, paths, root)
    assert failures == {"crash": [], "hang": []}, {k: [paths[i].name for i in v] for k, v in failures.items()}
    assert not check_against_python(paths, results)[:10]
    accepted = sum(1 for r in results.values() if r[0] == "ok")
    assert 0.1 * count < accepted < 0.9 * count, accepted  # the mutations reach both verdicts


def test_c_wav_reader_fuzz_agrees_with_python(driver: Path, tmp_path: Path) -> None:
    fuzz(driver, tmp_path, 400)


@pytest.mark.slow
def test_c_wav_reader_fuzz_long(driver: Path, tmp_path: Path) -> None:
    fuzz(driver, tmp_path, 20_000)


def test_driver_is_built_with_the_long_it_claims(driver: Path, tmp_path: Path) -> None:
    listing = tmp_path / "empty.txt"
    listing.write_text("")
    out = subprocess.run([str(driver), str(listing)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("long_bits=32" if driver.parent.name.startswith("wav32") else "long_bits=64")


def test_fuzz_check_can_fail(driver: Path, tmp_path: Path) -> None:
    """The agreement check is real: a reader that zero-pads a truncated data chunk is caught."""
    truncated = tmp_path / "t.wav"
    truncated.write_bytes(base_wavs(np.random.default_rng(0))[0][:-100])
    results, failures = run_driver(driver, [truncated], tmp_path)
    assert failures == {"crash": [], "hang": []} and results[0][0] == "error"
    assert "truncated: the data chunk declares 2400 bytes but only 2300 are present" in results[0][2]
    assert check_against_python([truncated], {0: ["ok", "1150", "0", "0"]})


def test_the_twenty_byte_file_ends_with_an_error(driver: Path, tmp_path: Path) -> None:
    path = tmp_path / "twenty.wav"
    path.write_bytes(TWENTY_BYTES)
    results, failures = run_driver(driver, [path], tmp_path, timeout=10)
    assert failures == {"crash": [], "hang": []}
    assert results[0][:2] == ["error", "2"] and "truncated" in results[0][2], results


# ---------------------------------------------------------------- QEMU


@pytest.mark.qemu
@pytest.mark.skipif(not M4_OK, reason=M4_WHY)
@pytest.mark.parametrize("mode", ["clip", "stream"])
def test_twenty_byte_file_in_qemu_ends_promptly_with_an_error(m4_bundle: Path, tmp_path: Path, mode: str) -> None:
    from tinykws.toolchain import run_firmware

    path = tmp_path / "twenty.wav"
    path.write_bytes(TWENTY_BYTES)
    args = [str(path)] if mode == "clip" else ["--stream", str(path)]
    done = run_firmware(m4_bundle / "tinykws-app.elf", args, timeout=30)
    assert done.exit_code == 2, done.stdout + done.stderr
    assert f"error: {path}: truncated" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def m4_bundle(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinykws.firmware import make_bundle

    bundle = make_bundle(trained_run, "cortex-m4", tmp_path_factory.mktemp("m4wav") / "bundle", golden_count=1)
    built = subprocess.run(["make", "-C", str(bundle.path)], capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    return bundle.path
