"""C engine generator: .tflite graph -> lowered layers -> memory plan -> C99 sources.

    engine = generate_engine(model_bytes, prefix="tinykws", source="model.tflite")
    write_engine(engine, Path("out"))   # atomically: <prefix>.c/.h + the kernel library

The generated engine is plain C99: one call per layer into our kernel library
(firmware_templates/engine/tkw_*.c), constants in flash, one static arena.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinykws.codegen.incremental import IncrementalError, IncrementalPlan, plan_incremental
from tinykws.codegen.lower import SUPPORTED_OPERATORS, LoweredModel, lower
from tinykws.codegen.plan import MemoryPlan, check_plan, plan_memory
from tinykws.codegen.render import check_prefix, render_engine
from tinykws.codegen.schedule import Schedule, make_schedule
from tinykws.errors import InputError
from tinykws.fsutil import atomic_dir
from tinykws.templates import templates_dir
from tinykws.codegen.graph import parse_graph

KERNEL_FILES: tuple[str, ...] = (
    "tkw_kernels.h", "tkw_fixedpoint.h", "tkw_conv.c", "tkw_fully_connected.c", "tkw_pool.c",
    "tkw_elementwise.c", "tkw_softmax.c", "tkw_pipeline.c",
    # optimized back ends, compiled in with __ARM_FEATURE_DSP (and __ARM_FEATURE_MVE for Helium)
    "tkw_dsp.h", "tkw_dsp_util.h", "tkw_conv_dsp.c", "tkw_depthwise_dsp.c", "tkw_conv_mve.c", "tkw_pool_dsp.c",
)
#: Kernels of incremental inference, only in engines generated with it (``incremental_hop``).
STREAM_KERNEL_FILES: tuple[str, ...] = ("tkw_stream.h", "tkw_stream.c")

__all__ = ["GeneratedEngine", "IncrementalError", "KERNEL_FILES", "STREAM_KERNEL_FILES", "MARKER", "check_out_dir", "SUPPORTED_OPERATORS", "generate_engine", "templates_dir",
           "write_engine"]


def engine_dir() -> Path:
    return templates_dir() / "engine"


def drivers_dir() -> Path:
    """Test and benchmark drivers of a generated engine (host stdio, emulated Cortex-M): not part of
    the engine and never copied into an engine folder."""
    return templates_dir() / "drivers"


@dataclass(frozen=True)
class GeneratedEngine:
    prefix: str
    files: dict[str, str]  # file name -> text (generated model files and the kernel library)
    model: LoweredModel
    schedule: Schedule
    plan: MemoryPlan
    incremental: IncrementalPlan | None = None  # with incremental inference (<prefix>_stream_invoke)

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    @property
    def constant_bytes(self) -> int:
        return sum(a.nbytes for layer in self.model.layers for a in layer.arrays)

    @property
    def c_sources(self) -> list[str]:
        return sorted(name for name in self.files if name.endswith(".c"))


def generate_engine(model_bytes: bytes, prefix: str = "tinykws", source: str = "<model>",
                    streaming: bool = True, incremental_hop: int | None = None) -> GeneratedEngine:
    """Generate the C engine for an int8 .tflite (errors name ``source`` and the layer).

    ``streaming`` runs chains of convolution and pooling layers as row pipelines
    (much smaller arena, same outputs); without it every layer runs whole.
    ``incremental_hop`` adds incremental inference for a window that slides that many
    frames per call (``<prefix>_stream_invoke``, tinykws.codegen.incremental); a model
    whose time padding does not allow it raises IncrementalError."""
    check_prefix(prefix)
    graph = parse_graph(model_bytes, source)
    model, schedule = make_schedule(lower(graph, prefix), streaming)
    plan = plan_memory(model, schedule)
    check_plan(plan)
    incremental = plan_incremental(model, incremental_hop) if incremental_hop is not None else None
    files = render_engine(model, schedule, plan, prefix, Path(source).name, engine_dir(), incremental)
    for name in KERNEL_FILES + (STREAM_KERNEL_FILES if incremental is not None else ()):
        files[name] = (engine_dir() / name).read_text()
    return GeneratedEngine(prefix, files, model, schedule, plan, incremental)


MARKER = "tinykws-codegen.json"  # written into every engine folder: how `codegen` recognises its own output


def check_out_dir(out_dir: Path) -> Path:
    """``out_dir`` may be absent, empty or an earlier engine folder (with MARKER); anything else is refused
    (nothing is touched): the generator never deletes what it did not write."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise InputError(f"--out {out_dir}: a non-empty folder that is not a tinykws codegen output "
                         f"(no {MARKER}); refusing to replace it (give an empty or new folder)")
    return out_dir


def _marker(engine: GeneratedEngine) -> str:
    return json.dumps({"tool": "tinykws codegen", "prefix": engine.prefix, "source": engine.model.source,
                       "files": sorted(engine.files)}, indent=2) + "\n"


def write_engine(engine: GeneratedEngine, out_dir: Path) -> Path:
    """Write every file of ``engine`` into ``out_dir`` (replaced atomically, never half-written),
    refusing a folder that holds anything but an earlier engine (see check_out_dir)."""
    out_dir = check_out_dir(out_dir)
    with atomic_dir(out_dir) as tmp:
        for name, text in engine.files.items():
            (tmp / name).write_text(text)
        (tmp / MARKER).write_text(_marker(engine))
    return out_dir
