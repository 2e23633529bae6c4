"""Render a lowered model and its memory plan to C with Jinja2 templates."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from tinykws import __version__
from tinykws.codegen.incremental import IncrementalPlan
from tinykws.codegen.lower import ConstArray, Layer, LoweredModel
from tinykws.codegen.plan import REGION_ARENA, REGION_INPUT, MemoryPlan
from tinykws.codegen.render_stream import stream_context
from tinykws.codegen.schedule import STREAMABLE_KERNELS, Schedule, Step, pipeline_order
from tinykws.errors import InputError, UnsupportedOperatorError
from tinykws.templates import check_c_identifier, environment


class GeneratorError(UnsupportedOperatorError):
    """The generator would emit an engine that breaks its own contracts (a bug, never silently emitted)."""

def check_prefix(prefix: str) -> str:
    """A prefix must be a C identifier (``templates.check_c_identifier``: not a C or C++ keyword)
    that starts with a letter, and neither ``main`` nor in the kernels' ``tkw_`` namespace."""
    if prefix[:1].isalpha() and prefix != "main" and not prefix.startswith("tkw_"):
        try:
            return check_c_identifier(prefix)
        except InputError:
            pass
    raise InputError(f"prefix {prefix!r} is not a usable C identifier "
                     "(letters, digits and '_', starting with a letter; not a keyword; not tkw_)")


def _c_values(array: ConstArray) -> str:
    per_line = 16 if array.ctype == "int8_t" else 8
    values = [str(int(v)) for v in np.asarray(array.values).reshape(-1)]
    lines = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    return ",\n".join("    " + line for line in lines)


def _environment(template_dir: Path) -> jinja2.Environment:
    env = environment(str(template_dir))  # the project's one Jinja environment for that folder
    env.filters["c_values"] = _c_values
    return env


@dataclass(frozen=True)
class _Call:
    comments: tuple[str, ...]
    lines: tuple[str, ...]


def _pointer(plan: MemoryPlan, tensor: int, writable: bool) -> str:
    b = plan.buffer_of(tensor)
    if b.region == REGION_ARENA:
        return f"&arena[{b.offset}]"
    if b.region == REGION_INPUT:
        if writable:
            raise GeneratorError(f"tensor {tensor}: a layer would write the model input, which is read-only")
        return "input"
    return "output"


def _call(layer: Layer, plan: MemoryPlan) -> _Call:
    comment = f"Layer {layer.index}: {layer.comment}"
    if layer.is_alias:
        return _Call((comment,), ())
    args = [f"&{layer.symbol}"] + [_pointer(plan, t, False) for t in layer.inputs]
    args.append(_pointer(plan, layer.output, True))
    return _Call((comment,), (f"{layer.kernel}({', '.join(args)});",))


def _pipeline_call(step: Step, plan: MemoryPlan) -> _Call:
    n = len(step.layers)
    first, last = step.layers[0].index, step.layers[-1].index
    comments = [f"Layers {first}-{last} as one row pipeline (intermediate tensors in row rings):"]
    comments += [f"  {layer.index}: {layer.comment}" for layer in step.layers]
    lines = ["{", f"    const tkw_stage_t stages[{n}] = {{"]
    for i, layer in enumerate(step.layers):
        src, dst = _pointer(plan, layer.inputs[0], False), _pointer(plan, layer.output, True)
        scratch = plan.scratch_of_layer(layer.index)
        acc = f"(int32_t *)&arena[{scratch.offset}]" if scratch is not None else "NULL"
        sep = "," if i < n - 1 else ""
        lines.append(f"        {{ {STREAMABLE_KERNELS[layer.kernel]}, &{layer.symbol}, {src}, {dst}, {acc} }}{sep}")
    order = pipeline_order(step)
    lines += ["    };", "    /* stage of each row, in the order tkw_run_pipeline would run them (computed by the generator) */",
              f"    static const uint8_t order[{len(order)}] = {{"]
    lines += [f"        {', '.join(str(s) for s in order[i:i + 25])}{',' if i + 25 < len(order) else ''}"
              for i in range(0, len(order), 25)]
    lines += ["    };", f"    int32_t rows_done[{n}];",
              f"    tkw_run_pipeline_order(stages, {n}, order, {len(order)}, rows_done);", "}"]
    return _Call(tuple(comments), tuple(lines))


def _calls(schedule: Schedule, plan: MemoryPlan) -> list[_Call]:
    return [_pipeline_call(step, plan) if step.is_pipeline else _call(step.layers[0], plan)
            for step in schedule.steps]


def _buffer_rows(plan: MemoryPlan, schedule: Schedule) -> list[dict]:
    rows = []
    for b in plan.buffers:
        where = f"arena[{b.offset}]" if b.region == REGION_ARENA else b.region
        what = ("tensors " + ", ".join(str(t) for t in b.tensors) if b.tensors
                else "work buffer of the optimized kernels" if b.name.startswith("work") else "scratch")
        ring = [schedule.ring_rows[t] for t in b.tensors if t in schedule.ring_rows]
        if ring:
            what += f" (ring of {ring[0]} rows)"
        rows.append({"name": b.name, "size": b.size, "where": where, "first": b.first, "last": b.last,
                     "tensors": what})
    return rows


def _with_work_buffers(model: LoweredModel, schedule: Schedule, plan: MemoryPlan, prefix: str) -> tuple[Layer, ...]:
    """Point each layer's ``work`` field at its step's work buffer in the arena and set
    ``work_words`` to that buffer's size (the kernels check their need against it)."""
    layers = []
    for layer in model.layers:
        work = plan.work_of_step(schedule.step_of(layer.index)) if layer.work_bytes else None
        if layer.work_bytes and work is None:
            raise GeneratorError(f"layer {layer.index}: needs {layer.work_bytes} work bytes, the plan has none")
        if work is not None:
            if work.offset % 4 or work.size < layer.work_bytes:
                raise GeneratorError(f"layer {layer.index}: work buffer {work.name} ({work.size} bytes at "
                                     f"{work.offset}) is misaligned or smaller than its {layer.work_bytes} bytes")
            values = {"work": f"&{prefix}_arena[{work.offset // 4}]", "work_words": str(work.size // 4)}
            layer = dataclasses.replace(layer, fields=tuple((k, values.get(k, v)) for k, v in layer.fields))
        layers.append(layer)
    return tuple(layers)


#: Arrays of a layer the optimized kernels take, by field: the build condition (tkw_dsp.h) under which
#: they are compiled, and the macro that names them there (NULL elsewhere).
_PORTABLE_FIELDS = ("filter", "bias", "multiplier", "shift")
_DSP_FIELDS = ("filter_pairs", "channel_blocks")


def _with_build_guards(layers: tuple[Layer, ...]) -> tuple[tuple[Layer, ...], dict[str, str]]:
    """Each build carries one layout of a fast layer's constants: the int8 arrays where the portable
    kernels run them (and the int8 filter of convolutions for Helium), the pre-unpacked ones where
    the optimized kernels do."""
    guards: dict[str, str] = {}
    out = []
    for layer in layers:
        fields = dict(layer.fields)
        if layer.kernel in ("tkw_conv2d", "tkw_depthwise_conv2d") and fields.get("fast_requant") == "1":
            changes = {}
            for name in _PORTABLE_FIELDS + _DSP_FIELDS:
                symbol = fields.get(name, "NULL")
                if symbol == "NULL":
                    continue
                kind = ("DSP" if name in _DSP_FIELDS else
                        "PORTABLE_OR_MVE" if name == "filter" and layer.kernel == "tkw_conv2d" else "PORTABLE")
                guards[symbol] = f"TKW_BUILD_{kind}"
                changes[name] = f"TKW_IF_{kind}({symbol})"
            layer = dataclasses.replace(layer, fields=tuple((k, changes.get(k, v)) for k, v in layer.fields))
        out.append(layer)
    return tuple(out), guards


def _stream(incremental: IncrementalPlan | None, layers: tuple[Layer, ...], plan: MemoryPlan) -> dict | None:
    stream = stream_context(incremental, layers)
    if stream is not None:
        stream["mean_pointer"] = _pointer(plan, stream["mean_output"], True)
        stream["tail_calls"] = [_call(layer, plan) for layer in stream["tail"]]
        stream["uses_arena"] = "arena[" in stream["mean_pointer"] or any(
            "arena[" in line for call in stream["tail_calls"] for line in call.lines)
    return stream


def _context(model: LoweredModel, schedule: Schedule, plan: MemoryPlan, prefix: str, source_name: str,
             incremental: IncrementalPlan | None = None) -> dict:
    x, y = model.tensors[model.input], model.tensors[model.output]
    calls = _calls(schedule, plan)
    layers, guards = _with_build_guards(_with_work_buffers(model, schedule, plan, prefix))
    stream = _stream(incremental, layers, plan)
    return {
        "stream": stream,
        "prefix": prefix, "macro": prefix.upper(), "guard": f"{prefix.upper()}_H",
        "version": __version__, "source_name": source_name,
        "input_size": x.size, "input_scale": repr(float(np.float32(x.scale))), "input_zero_point": x.zero_point,
        "input_dims": x.shape, "input_shape_text": "x".join(map(str, x.shape)),
        "output_size": y.size, "output_scale": repr(float(np.float32(y.scale))), "output_zero_point": y.zero_point,
        "output_shape_text": "x".join(map(str, y.shape)),
        "arena_bytes": plan.arena_bytes, "arena_words": (plan.arena_bytes + 3) // 4,
        "layers": layers, "build_guards": guards, "calls": calls,
        "calls_use_arena": any("arena[" in line for call in calls for line in call.lines),
        "buffers": _buffer_rows(plan, schedule),
        "weight_bytes": sum(a.nbytes for layer in model.layers for a in layer.arrays),
    }


def render_engine(model: LoweredModel, schedule: Schedule, plan: MemoryPlan, prefix: str, source_name: str,
                  template_dir: Path, incremental: IncrementalPlan | None = None) -> dict[str, str]:
    """The generated model files, by file name: ``<prefix>.h`` and ``<prefix>.c`` (with the
    incremental engine, ``<prefix>_stream_*``, when ``incremental`` is given)."""
    env = _environment(template_dir)
    context = _context(model, schedule, plan, check_prefix(prefix), source_name, incremental)
    return {
        f"{prefix}.h": env.get_template("model.h.j2").render(context),
        f"{prefix}.c": env.get_template("model.c.j2").render(context),
    }
