"""Compile a generated engine on the host and run it: shared library + ctypes
(fast, for thousands of inputs) or a standalone program reading and writing
binary files (for sanitizer builds)."""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinykws.codegen import GeneratedEngine, drivers_dir, generate_engine, write_engine
from tinykws.errors import TinyKWSError
from tinykws.templates import environment
from tinykws.toolchain import (CORTEX_M4_FLAGS, SANITIZE_FLAGS, STRICT_FLAGS, BuildError,
                                find_compiler, run_compiler)


def render_host_main(engine: GeneratedEngine) -> str:
    env = environment(str(drivers_dir()))
    return env.get_template("host_main.c.j2").render(prefix=engine.prefix, macro=engine.prefix.upper(),
                                                     stream=engine.incremental is not None)


def build_shared_library(engine: GeneratedEngine, build_dir: Path, opt: str = "-O2") -> Path:
    """Write the engine into ``build_dir/src`` and compile it to ``build_dir/lib<prefix>.so``."""
    src = write_engine(engine, Path(build_dir) / "src")
    lib = Path(build_dir) / f"lib{engine.prefix}.so"
    run_compiler([find_compiler(), *STRICT_FLAGS, opt, "-shared", "-fPIC", "-o", str(lib), *engine.c_sources], src)
    return lib


def build_program(engine: GeneratedEngine, build_dir: Path, sanitize: bool = False) -> Path:
    """Compile the engine and the host driver to an executable ``build_dir/<prefix>_host``."""
    src = write_engine(engine, Path(build_dir) / "src")
    (src / "host_main.c").write_text(render_host_main(engine))
    exe = Path(build_dir) / f"{engine.prefix}_host"
    flags = list(SANITIZE_FLAGS) if sanitize else ["-O2"]
    run_compiler([find_compiler(), *STRICT_FLAGS, *flags, "-o", str(exe), *engine.c_sources, "host_main.c"], src)
    return exe


def run_program(exe: Path, engine: GeneratedEngine, inputs: np.ndarray, stream: bool = False) -> np.ndarray:
    """Run the host driver on a batch of inputs through binary files; with ``stream`` the inputs are
    consecutive windows of one stream, run by the incremental engine after one reset."""
    x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
    out_size = engine.model.tensors[engine.model.output].size
    with tempfile.TemporaryDirectory() as tmp:
        in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        in_path.write_bytes(x.tobytes())
        args = [str(exe), str(in_path), str(out_path)] + (["--stream"] if stream else [])
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            raise BuildError(f"{exe.name} failed (exit {proc.returncode}):\n{proc.stderr.strip()[:4000]}")
        return np.frombuffer(out_path.read_bytes(), np.int8).reshape(len(x), out_size).copy()


def cortex_m4_flash_bytes(engine: GeneratedEngine, build_dir: Path, kernels: str = "optimized") -> int:
    """Flash of the engine for a Cortex-M4 (arm-none-eabi-gcc -Os): text + data of its objects, with
    the optimized (DSP) kernels and their constant layout, or ``kernels="portable"`` (-DTKW_PORTABLE)."""
    src = write_engine(engine, Path(build_dir) / f"m4-{kernels}")
    compiler, size_tool = find_compiler("arm-none-eabi-gcc"), find_compiler("arm-none-eabi-size")
    flags = ("-DTKW_PORTABLE",) if kernels == "portable" else ()
    objects = []
    for source in engine.c_sources:
        run_compiler([compiler, *CORTEX_M4_FLAGS, *flags, "-c", source, "-o", source + ".o"], src)
        objects.append(source + ".o")
    proc = subprocess.run([size_tool, "-t", *objects], cwd=src, capture_output=True, text=True, check=True)
    text, data = proc.stdout.strip().splitlines()[-1].split()[:2]
    return int(text) + int(data)


class CEngine:
    """The generated C engine compiled as a host shared library, called through ctypes.

    ``run(inputs)`` takes a batch of int8 model inputs and returns the batch of
    flattened int8 outputs, like the other engines of ``tinykws.verify.engines``."""

    def __init__(self, model_bytes: bytes, workdir: Path | None = None, name: str = "c",
                 prefix: str = "tinykws", source: str = "<model>", streaming: bool = True, opt: str = "-O2",
                 incremental_hop: int | None = None):
        self.name = name
        self.engine = generate_engine(model_bytes, prefix=prefix, source=source, streaming=streaming,
                                      incremental_hop=incremental_hop)
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tinykws-c-")
            workdir = Path(self._tmp.name)
        self.library_path = build_shared_library(self.engine, Path(workdir), opt=opt)
        self._lib = ctypes.CDLL(str(self.library_path))
        self._invoke = getattr(self._lib, f"{prefix}_invoke")
        self._invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._invoke.restype = ctypes.c_int
        model = self.engine.model
        self.input_size = model.tensors[model.input].size
        self.output_size = model.tensors[model.output].size
        self.arena_bytes = self.engine.arena_bytes

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return self._run(self._invoke, inputs)

    def run_stream(self, windows: np.ndarray) -> np.ndarray:
        """Consecutive windows of one stream (each slid by the engine's hop) through the
        incremental engine, after a reset."""
        if self.engine.incremental is None:
            raise TinyKWSError("this C engine was generated without incremental inference")
        prefix = self.engine.prefix
        getattr(self._lib, f"{prefix}_stream_reset")()
        invoke = getattr(self._lib, f"{prefix}_stream_invoke")
        invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        invoke.restype = ctypes.c_int
        return self._run(invoke, windows)

    def _run(self, invoke, inputs: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
        if x.shape[1] != self.input_size:
            raise TinyKWSError(f"C engine expects {self.input_size} input values, got {x.shape[1]}")
        out = np.empty((len(x), self.output_size), np.int8)
        for i in range(len(x)):
            status = invoke(x[i].ctypes.data, out[i].ctypes.data)
            if status != 0:
                raise TinyKWSError(f"C engine returned status {status}")
        return out


def check_engine(run, model_bytes: bytes) -> CEngine:
    """Factory for ``tinykws.verify.check.EXTRA_ENGINES["c"]``: the C engine of a run's int8 model."""
    return CEngine(model_bytes, name="c", source=str(getattr(run, "int8_tflite", "<model>")))
