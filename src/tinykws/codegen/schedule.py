"""Execution schedule: which layers run alone and which run as a row pipeline.

A chain of row-wise layers (convolution, depthwise convolution, pooling,
and a final MEAN over height and width, which sums rows as they come) in
which each intermediate tensor feeds only the next layer runs as one
pipeline step (tkw_run_pipeline): every intermediate tensor then needs only a
ring of as many rows as its consumer's window is tall, not the whole tensor.
The arithmetic is unchanged, so outputs stay bit-identical; only the order
of the rows changes. The schedule is checked by simulating the C runner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tinykws.codegen.lower import Layer, LoweredModel
from tinykws.errors import UnsupportedOperatorError


class ScheduleError(UnsupportedOperatorError):
    """A row pipeline the C runner could not execute (a generator bug): never emit it."""

STREAMABLE_KERNELS: dict[str, str] = {
    "tkw_conv2d": "TKW_STAGE_CONV2D",
    "tkw_depthwise_conv2d": "TKW_STAGE_DEPTHWISE_CONV2D",
    "tkw_average_pool2d": "TKW_STAGE_AVERAGE_POOL2D",
    "tkw_max_pool2d": "TKW_STAGE_MAX_POOL2D",
    "tkw_mean_hw": "TKW_STAGE_MEAN_HW",
}
ROW_PRODUCERS = frozenset(STREAMABLE_KERNELS) - {"tkw_mean_hw"}  # MEAN can only end a pipeline


@dataclass(frozen=True)
class Step:
    layers: tuple[Layer, ...]  # one layer, or the stages of a pipeline

    @property
    def is_pipeline(self) -> bool:
        return len(self.layers) > 1


@dataclass(frozen=True)
class Schedule:
    steps: tuple[Step, ...]
    ring_rows: dict[int, int]  # tensor index -> rows held, for tensors stored as row rings

    def step_of(self, layer_index: int) -> int:
        for i, step in enumerate(self.steps):
            if any(layer.index == layer_index for layer in step.layers):
                return i
        raise KeyError(layer_index)


def _window_h(layer: Layer) -> int:
    if layer.kernel == "tkw_mean_hw":
        return 1
    if layer.kernel in ("tkw_conv2d", "tkw_depthwise_conv2d"):
        return (layer.field("filter_h") - 1) * layer.field("dilation_h") + 1
    return layer.field("filter_h")


def _consumers(model: LoweredModel) -> dict[int, list[int]]:
    users: dict[int, list[int]] = {}
    for layer in model.layers:
        for t in layer.inputs:
            users.setdefault(t, []).append(layer.index)
    return users


def _chains(model: LoweredModel) -> list[list[Layer]]:
    users = _consumers(model)
    chains: list[list[Layer]] = []
    for layer in model.layers:
        prev = chains[-1][-1] if chains else None
        joins = (prev is not None and layer.kernel in STREAMABLE_KERNELS and prev.kernel in ROW_PRODUCERS
                 and layer.inputs[0] == prev.output and users.get(prev.output) == [layer.index]
                 and prev.output != model.output)
        if joins:
            chains[-1].append(layer)
        else:
            chains.append([layer])
    return chains


def _ring_layers(chain: list[Layer]) -> tuple[list[Layer], dict[int, int]]:
    rings: dict[int, int] = {}
    for producer, consumer in zip(chain, chain[1:]):
        rings[producer.output] = min(_window_h(consumer), producer.field("out_h"))
    out = []
    for layer in chain:
        changes = {}
        if layer.kernel == "tkw_mean_hw":
            layer = dataclasses.replace(layer, scratch_bytes=4 * layer.field("channels"))
        if layer.output in rings:
            changes["out_rows"] = rings[layer.output]
        if layer.inputs[0] in rings:
            changes["in_rows"] = rings[layer.inputs[0]]
        out.append(layer.with_fields(**changes))
    return out, rings


def _geometry(layer: Layer) -> tuple[int, int, int, int, int]:
    """(in_h, output steps, stride_h, pad_top, window_h), as tkw_pipeline.c sees a stage."""
    if layer.kernel == "tkw_mean_hw":
        return layer.field("in_h"), layer.field("in_h"), 1, 0, 1
    return (layer.field("in_h"), layer.field("out_h"), layer.field("stride_h"), layer.field("pad_top"),
            _window_h(layer))


def simulate_pipeline(layers: tuple[Layer, ...]) -> None:
    """Run the C pipeline's scheduling rule in Python and check that every row a
    stage reads is still held in its producer's ring (ScheduleError if not)."""
    done = [0] * len(layers)
    geo = [_geometry(lay) for lay in layers]

    def rows_needed(i: int) -> range:
        in_h, _, stride, pad, window = geo[i]
        first = done[i] * stride - pad
        return range(max(first, 0), min(first + window - 1, in_h - 1) + 1)

    def ready(i: int) -> bool:
        if done[i] >= geo[i][1]:
            return False
        return i == 0 or done[i - 1] > rows_needed(i)[-1]

    while done[-1] < geo[-1][1]:
        i = next((j for j in reversed(range(len(layers))) if ready(j)), None)
        if i is None:
            raise ScheduleError(f"row pipeline of layers {[lay.index for lay in layers]} stalls")
        if i > 0:
            held = layers[i].field("in_rows")
            if not all(done[i - 1] - held <= r < done[i - 1] for r in rows_needed(i)):
                raise ScheduleError(f"row pipeline: layer {layers[i].index} reads a row its producer's "
                                    f"{held}-row ring no longer holds")
        done[i] += 1


def make_schedule(model: LoweredModel, streaming: bool = True) -> tuple[LoweredModel, Schedule]:
    """Group the layers into steps; with ``streaming`` chains become row pipelines."""
    steps: list[Step] = []
    ring_rows: dict[int, int] = {}
    for chain in _chains(model) if streaming else [[layer] for layer in model.layers]:
        if len(chain) == 1:
            steps.append(Step((chain[0],)))
            continue
        layers, rings = _ring_layers(chain)
        simulate_pipeline(tuple(layers))
        ring_rows.update(rings)
        steps.append(Step(tuple(layers)))
    layers = tuple(layer for step in steps for layer in step.layers)
    lowered = LoweredModel(layers, model.tensors, model.input, model.output, model.source)
    return lowered, Schedule(tuple(steps), ring_rows)


def pipeline_order(step: Step) -> tuple[int, ...]:
    """The stage of each row a pipeline step computes, in the order tkw_run_pipeline's
    rule gives (always the deepest stage that can advance), computed here once so the
    C only replays it (tkw_run_pipeline_order): every row a stage needs exists before it
    runs, and a ring row is overwritten only after its consumers are done with it."""
    geometry = []
    for layer in step.layers:
        mean = layer.kernel == "tkw_mean_hw"
        in_h = layer.field("in_h")
        geometry.append((in_h, in_h if mean else layer.field("out_h"), 1 if mean else layer.field("stride_h"),
                         0 if mean else layer.field("pad_top"), _window_h(layer)))
    n = len(geometry)
    if n > 255:
        raise ScheduleError(f"a pipeline of {n} stages (at most 255: the order is emitted as uint8_t)")
    done = [0] * n
    order: list[int] = []
    start = n - 1
    while done[-1] < geometry[-1][1]:
        for i in range(start, -1, -1):
            in_h, out_h, stride, pad, window = geometry[i]
            if done[i] >= out_h:
                continue
            if i > 0 and done[i - 1] <= min(done[i] * stride - pad + window - 1, in_h - 1):
                continue
            order.append(i)
            done[i] += 1
            start = min(i + 1, n - 1)
            break
        else:
            raise ScheduleError(f"pipeline of layers {step.layers[0].index}-{step.layers[-1].index} cannot advance")
    return tuple(order)
