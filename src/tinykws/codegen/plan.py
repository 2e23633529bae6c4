"""Static memory plan: tensor lifetimes, aliases, and offsets in one arena.

Buffers are planned, not tensors: a RESHAPE output shares its input's buffer,
and a tensor streamed inside a row pipeline only needs its ring of rows.
Lifetimes count schedule steps (a whole pipeline is one step). The work
buffers of the optimized kernels live only during one kernel call, so the
layers of a step share one, as large as the largest they need.
The model input is read in place from the caller's input pointer and the
model output is written straight into the caller's output pointer, so neither
takes arena space. Every other buffer (and every kernel scratch buffer) lives
from the step that writes it to the last step that reads it, and is placed by
greedy-by-size: largest first, at the lowest aligned offset that does not
overlap any already placed buffer whose lifetime intersects its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinykws.codegen.lower import LoweredModel
from tinykws.codegen.schedule import Schedule
from tinykws.errors import ModelError, UnsupportedOperatorError

ALIGNMENT = 4
REGION_ARENA, REGION_INPUT, REGION_OUTPUT = "arena", "input", "output"


@dataclass(frozen=True)
class Buffer:
    name: str
    tensors: tuple[int, ...]  # tensors that share this memory (alias group); () for scratch
    size: int
    first: int                # step that writes it (-1: before the first layer)
    last: int                 # last step that reads it
    region: str
    offset: int = 0

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    def overlaps_in_space(self, other: "Buffer") -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size


@dataclass(frozen=True)
class MemoryPlan:
    buffers: tuple[Buffer, ...]
    arena_bytes: int

    def buffer_of(self, tensor: int) -> Buffer:
        for b in self.buffers:
            if tensor in b.tensors:
                return b
        raise ModelError(f"tensor {tensor} has no buffer in the memory plan (no layer reads or writes it)")

    def scratch_of_layer(self, layer_index: int) -> Buffer | None:
        return next((b for b in self.buffers if b.name == f"scratch{layer_index}"), None)

    def work_of_step(self, step: int) -> Buffer | None:
        return next((b for b in self.buffers if b.name == f"work{step}"), None)

    def naive_bytes(self) -> int:
        """Arena bytes if every arena buffer had its own memory (for comparison)."""
        return sum(_align(b.size) for b in self.buffers if b.region == REGION_ARENA)


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _alias_groups(model: LoweredModel) -> dict[int, int]:
    """Map every tensor to the root tensor of its alias group."""
    root: dict[int, int] = {t: t for t in model.tensors}
    for layer in model.layers:
        if layer.is_alias:
            root[layer.output] = root[layer.inputs[0]]
    return root


def _lifetimes(model: LoweredModel, schedule: Schedule, root: dict[int, int]) -> dict[int, list[int]]:
    span: dict[int, list[int]] = {}
    for layer in model.layers:
        step = schedule.step_of(layer.index)
        for t in (layer.output,) + layer.inputs:
            r = root[t]
            lo_hi = span.setdefault(r, [step, step])
            lo_hi[0], lo_hi[1] = min(lo_hi[0], step), max(lo_hi[1], step)
    span.setdefault(root[model.input], [-1, -1])[0] = -1
    end = len(schedule.steps)
    span.setdefault(root[model.output], [end, end])[1] = end
    return span


def _size(model: LoweredModel, schedule: Schedule, tensor: int) -> int:
    t = model.tensors[tensor]
    if tensor in schedule.ring_rows:
        return t.nbytes // t.shape[1] * schedule.ring_rows[tensor]
    return t.nbytes


def _region(model: LoweredModel, root: dict[int, int], r: int) -> str:
    is_in, is_out = r == root[model.input], r == root[model.output]
    if is_in and is_out:
        raise UnsupportedOperatorError(f"{model.source}: the model output is its input reshaped (no computation)")
    return REGION_INPUT if is_in else REGION_OUTPUT if is_out else REGION_ARENA


def _place(buffers: list[Buffer]) -> list[Buffer]:
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.name)):
        offset = 0
        for other in sorted((p for p in placed if p.overlaps_in_time(buf)), key=lambda p: p.offset):
            if offset + buf.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        placed.append(Buffer(buf.name, buf.tensors, buf.size, buf.first, buf.last, buf.region, offset))
    return placed


def plan_memory(model: LoweredModel, schedule: Schedule) -> MemoryPlan:
    """Lifetimes, alias groups and greedy-by-size offsets for ``model`` run by ``schedule``."""
    root = _alias_groups(model)
    span = _lifetimes(model, schedule, root)
    groups: dict[int, list[int]] = {}
    for t, r in root.items():
        groups.setdefault(r, []).append(t)
    buffers: list[Buffer] = []
    for r, members in groups.items():
        size = _size(model, schedule, r)
        first, last = span[r]
        buffers.append(Buffer(f"t{r}", tuple(sorted(members)), size, first, last, _region(model, root, r)))
    for layer in model.layers:
        if layer.scratch_bytes:
            step = schedule.step_of(layer.index)
            buffers.append(Buffer(f"scratch{layer.index}", (), layer.scratch_bytes, step, step, REGION_ARENA))
    for i, step in enumerate(schedule.steps):
        # the layers of a step run one call at a time: they share one work buffer
        work = max(layer.work_bytes for layer in step.layers)
        if work:
            buffers.append(Buffer(f"work{i}", (), _align(work), i, i, REGION_ARENA))
    arena = [b for b in buffers if b.region == REGION_ARENA]
    placed = _place(arena) + [b for b in buffers if b.region != REGION_ARENA]
    arena_bytes = max((_align(b.offset + b.size) for b in placed if b.region == REGION_ARENA), default=0)
    return MemoryPlan(tuple(sorted(placed, key=lambda b: (b.first, b.name))), arena_bytes)


class PlanError(UnsupportedOperatorError):
    """The memory plan breaks its own invariants (a generator bug): never emit such an engine."""


def check_plan(plan: MemoryPlan) -> None:
    """No two arena buffers that are alive at the same step share a byte; all aligned and inside the arena."""
    arena = [b for b in plan.buffers if b.region == REGION_ARENA]
    for i, a in enumerate(arena):
        if a.offset % ALIGNMENT or a.offset + a.size > plan.arena_bytes:
            raise PlanError(f"memory plan: buffer {a.name} at {a.offset} (+{a.size}) is misaligned or outside "
                            f"the {plan.arena_bytes}-byte arena")
        for b in arena[i + 1:]:
            if a.overlaps_in_time(b) and a.overlaps_in_space(b):
                raise PlanError(f"memory plan: buffers {a.name} and {b.name} overlap while both are alive")
