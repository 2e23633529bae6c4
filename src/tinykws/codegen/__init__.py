"""C engine generator: .tflite graph -> lowered layers -> memory plan -> C99 sources.

    engine = generate_engine(model_bytes, prefix="tinykws", source="model.tflite")
    write_engine(engine, Path("out"))   # atomically: <prefix>.c/.h + the kernel library

The generated engine is plain C99: one call per layer into our kernel library
(firmware_templates/engine/tkw_*.c), constants in flash, one static arena.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    "tkw_dsp.h", "tkw_conv_dsp.c", "tkw_pool_dsp.c",  # optimized back end, compiled in with __ARM_FEATURE_DSP
)

__all__ = ["GeneratedEngine", "KERNEL_FILES", "SUPPORTED_OPERATORS", "generate_engine", "templates_dir",
           "write_engine"]


def engine_dir() -> Path:
    return templates_dir() / "engine"


@dataclass(frozen=True)
class GeneratedEngine:
    prefix: str
    files: dict[str, str]  # file name -> text (generated model files and the kernel library)
    model: LoweredModel
    schedule: Schedule
    plan: MemoryPlan

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
                    streaming: bool = True) -> GeneratedEngine:
    """Generate the C engine for an int8 .tflite (errors name ``source`` and the layer).

    ``streaming`` runs chains of convolution and pooling layers as row pipelines
    (much smaller arena, same outputs); without it every layer runs whole."""
    check_prefix(prefix)
    graph = parse_graph(model_bytes, source)
    model, schedule = make_schedule(lower(graph, prefix), streaming)
    plan = plan_memory(model, schedule)
    check_plan(plan)
    files = render_engine(model, schedule, plan, prefix, Path(source).name, engine_dir())
    for name in KERNEL_FILES:
        files[name] = (engine_dir() / name).read_text()
    return GeneratedEngine(prefix, files, model, schedule, plan)


def write_engine(engine: GeneratedEngine, out_dir: Path) -> Path:
    """Write every file of ``engine`` into ``out_dir`` (replaced atomically, never half-written)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory")
    with atomic_dir(out_dir) as tmp:
        for name, text in engine.files.items():
            (tmp / name).write_text(text)
    return out_dir
