"""Instructions per second of audio of a bundle's --stream mode: incremental vs full window.

    cost = stream_cost("runs/stream", Path("/tmp/work"))   # Cortex-M4 in QEMU
    cost.incremental.per_second, cost.full_window.per_second

Two bundles of the same run for the same target: one as ``tinykws firmware``
makes it (the incremental engine where the model allows it,
tinykws.codegen.incremental), one with the full-window engine at every
inference (the bundle of a model that does not allow it, i.e. today's
stream). Both run ``--stream`` on the same recording in QEMU with
``-icount shift=0`` and report the app's key=value lines: the total (front
end + model + recognizer), the model alone, and the RAM incremental
inference adds.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.errors import CheckFailed
from tinykws.toolchain import BuildError, get_platform, run_firmware

RECORDING_SECONDS = 20


@dataclass(frozen=True)
class StreamRun:
    engine: str              # "incremental" or "full_window" (the app's stream_incremental=1 or 0)
    per_second: int          # instructions_per_second_of_audio (front end + model + recognizer)
    model_per_second: int    # model_instructions_per_second_of_audio
    model_per_inference: int  # model_instructions_per_inference
    inferences: int
    state_bytes: int         # stream_state_bytes: RAM of incremental inference (0 for the full window)
    detections: int


@dataclass(frozen=True)
class StreamCost:
    target: str
    seconds: float
    incremental: StreamRun
    full_window: StreamRun

    @property
    def speedup(self) -> float:
        return self.full_window.per_second / self.incremental.per_second


def synthetic_recording(path: Path, seconds: int, sample_rate: int = 16000, seed: int = 0) -> Path:
    """Noise with a tone burst every 1.5 s (deterministic): what --stream reads when no WAV is given."""
    from tinykws.audio.io import write_wav

    rng = np.random.default_rng(seed)
    t = np.arange(seconds * sample_rate) / sample_rate
    bursts = (np.sin(2 * np.pi * (300 + 200 * np.floor(t / 1.5) % 1500) * t)
              * ((t % 1.5) < 0.6))
    write_wav(path, (0.3 * bursts + rng.normal(0.0, 0.01, t.size)).astype(np.float32), sample_rate)
    return path


def _write_bundle(ctx, out: Path) -> Path:
    from tinykws.firmware import bundle_files

    for name, data in bundle_files(ctx).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    done = subprocess.run(["nice", "-n", "10", "make", "-C", str(out), "--no-print-directory"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"make in {out} failed:\n{done.stderr[-3000:]}")
    return out / "tinykws-app.elf"


def _run(elf: Path, wav: Path, target: str, seconds: float) -> StreamRun:
    result = run_firmware(elf, ["--stream", wav.resolve()], platform=target, timeout=60 + 20 * seconds,
                          cwd=elf.parent)
    m = result.metrics()
    if result.exit_code != 0 or "instructions_per_second_of_audio" not in m:
        raise CheckFailed(f"{elf}: --stream failed (exit {result.exit_code}):\n{result.stdout[-2000:]}")
    return StreamRun("incremental" if m.get("stream_incremental") == 1 else "full_window",
                     m["instructions_per_second_of_audio"], m["model_instructions_per_second_of_audio"],
                     m.get("model_instructions_per_inference", 0), m["inferences"], m["stream_state_bytes"],
                     m["detections"])


def stream_cost(run_dir: Path | str, work: Path, wav: Path | None = None, target: str = "cortex-m4",
                seconds: int = RECORDING_SECONDS) -> StreamCost:
    """--stream of the run's bundle for ``target`` on ``wav`` (default: a synthetic recording of
    ``seconds``), with the incremental engine and with the full window; builds under ``work``."""
    from tinykws.audio.io import read_wav
    from tinykws.firmware import make_context

    get_platform(target)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    wav = Path(wav) if wav is not None else synthetic_recording(work / "recording.wav", seconds)
    _, info = read_wav(wav)
    seconds_read = info.frames / info.sample_rate
    ctx = make_context(run_dir, target, golden_count=1)
    full_ctx = dataclasses.replace(ctx, facts=dataclasses.replace(ctx.facts, stream_hop_frames=0))
    runs = {}
    for name, c in (("incremental", ctx), ("full_window", full_ctx)):
        runs[name] = _run(_write_bundle(c, work / f"{target}-{name}"), wav, target, seconds_read)
    return StreamCost(target, seconds_read, runs["incremental"], runs["full_window"])


@dataclass(frozen=True)
class TodayRun:
    per_second: int  # instructions_per_second_of_audio of the full-window stream
    hop_ms: float    # time between inferences


def today_full_window(run_dir: Path | str, work: Path, wav: Path, target: str = "cortex-m4") -> TodayRun:
    """--stream of a SAME-in-time model's bundle (full window at every inference, as before
    incremental inference) on ``wav``: the figure the incremental engine is compared with."""
    from tinykws.audio.io import read_wav
    from tinykws.firmware import make_context
    from tinykws.run import open_run

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    _, info = read_wav(wav)
    ctx = make_context(run_dir, target, golden_count=1)
    run = _run(_write_bundle(ctx, work / f"{target}-today"), Path(wav), target, info.frames / info.sample_rate)
    cfg = open_run(run_dir).config
    return TodayRun(run.per_second, 1000.0 * cfg.stream.infer_every_hops * cfg.features.hop_samples
                    / cfg.features.sample_rate)
