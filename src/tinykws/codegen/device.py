"""Build a generated engine for an emulated Cortex-M and run it in QEMU.

The engine (with the kernel library) and a small driver (``device_main.c.j2``)
are cross-compiled with the platform's startup code; the driver reads int8
inputs from a host file through semihosting, writes the outputs to another,
and prints the instructions per inference (``-icount shift=0``: exact and the
same on every run). ``kernels="portable"`` compiles the portable C kernels
only (``-DTKW_PORTABLE``); ``"optimized"`` lets the kernel library select its
DSP (Cortex-M4/M7/M33) or Helium (Cortex-M55) back ends at compile time.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinykws.codegen import GeneratedEngine, drivers_dir, write_engine
from tinykws.errors import InputError, TinyKWSError
from tinykws.templates import environment

KERNEL_VARIANTS: dict[str, tuple[str, ...]] = {"portable": ("-DTKW_PORTABLE",), "optimized": ()}
DEVICE_OPTIMIZE = "-O2"


class DeviceRunError(TinyKWSError):
    """The engine firmware failed in the emulator (non-zero exit, missing output)."""


@dataclass(frozen=True)
class DeviceRun:
    outputs: np.ndarray                  # [n, output size] int8
    instructions_per_inference: int      # mean over the timed runs
    instructions_min: int
    instructions_max: int


def render_device_main(engine: GeneratedEngine) -> str:
    env = environment(str(drivers_dir()))
    return env.get_template("device_main.c.j2").render(prefix=engine.prefix, macro=engine.prefix.upper(),
                                                       stream=engine.incremental is not None)


def build_device_program(engine: GeneratedEngine, build_dir: Path, platform: str = "cortex-m4",
                         kernels: str = "optimized", optimize: str = DEVICE_OPTIMIZE) -> Path:
    """Cross-compile ``engine`` and the driver into ``build_dir/<prefix>_<kernels>.elf``."""
    from tinykws.toolchain import build_elf

    if kernels not in KERNEL_VARIANTS:
        raise InputError(f"unknown kernel variant {kernels!r}; choose one of {', '.join(KERNEL_VARIANTS)}")
    src = write_engine(engine, Path(build_dir) / f"src-{kernels}")
    (src / "device_main.c").write_text(render_device_main(engine))
    sources = [src / name for name in (*engine.c_sources, "device_main.c")]
    return build_elf(sources, Path(build_dir) / f"{engine.prefix}_{kernels}.elf", include_dirs=[src],
                     platform=platform, optimize=optimize, extra_flags=("-pedantic", *KERNEL_VARIANTS[kernels]))


def run_device_program(elf: Path, engine: GeneratedEngine, inputs: np.ndarray, platform: str = "cortex-m4",
                       timeout: float = 600.0, stream: bool = False) -> DeviceRun:
    """Run the driver on a batch of int8 inputs in QEMU; outputs and instruction counts. With
    ``stream`` the inputs are consecutive windows of one stream, run by the incremental engine."""
    from tinykws.toolchain import run_firmware

    x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
    out_size = engine.model.tensors[engine.model.output].size
    with tempfile.TemporaryDirectory(prefix="tinykws-device-") as tmp:
        in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        in_path.write_bytes(x.tobytes())
        args = [in_path, out_path] + (["--stream"] if stream else [])
        result = run_firmware(elf, args, platform=platform, timeout=timeout)
        metrics = result.metrics()
        if result.exit_code != 0 or metrics.get("inferences") != len(x):
            raise DeviceRunError(f"{Path(elf).name} failed in QEMU (exit {result.exit_code}):\n"
                                 f"{(result.stdout + result.stderr).strip()[:4000]}")
        outputs = np.frombuffer(out_path.read_bytes(), np.int8).reshape(len(x), out_size).copy()
    return DeviceRun(outputs, metrics["instructions_per_inference"], metrics["instructions_per_inference_min"],
                     metrics["instructions_per_inference_max"])


def device_run(model_bytes: bytes, inputs: np.ndarray, build_dir: Path, platform: str = "cortex-m4",
               kernels: str = "optimized", prefix: str = "tinykws") -> DeviceRun:
    """Generate, cross-compile and run the engine of ``model_bytes`` on ``inputs`` in QEMU."""
    from tinykws.codegen import generate_engine

    engine = generate_engine(model_bytes, prefix=prefix)
    elf = build_device_program(engine, build_dir, platform=platform, kernels=kernels)
    return run_device_program(elf, engine, inputs, platform=platform)
