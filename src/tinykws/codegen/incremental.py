"""Incremental inference: per hop, only the new time rows of every layer.

A stream slides the model's input window by ``hop_frames`` frames between
two inferences. In a model that is VALID in time (tinykws.model.build,
``time_padding="valid"``) every output row of a layer depends only on the
input rows under its kernel, so after a hop the rows of the new window are
the rows of the old one shifted by ``hop_frames / stride`` rows, plus that
many new rows at the end. The incremental schedule computes only those new
rows, keeps in a sliding row buffer per layer the rows the next layer's new
rows need, and turns the global average pool (MEAN over time and frequency)
into a running int32 sum over the window's rows (new rows added, rows leaving
subtracted) followed by the MEAN kernel's requantization. Integer sums do not
depend on their order, so the outputs are bit-identical to recomputing the
whole window.

Coordinates: in one window, layer L has ``window_rows`` output rows; a step
computes rows [e - new_rows, e) with e = window_rows - new_rows * lag (lag 0:
the newest rows). After a reset the first inference runs ``warmup_steps``
steps with lag warmup_steps-1 .. 0 on the same window, skipping rows < 0, so
it computes every row of the window once and leaves the buffers as a stream
would. A stage's output buffer holds its last ``keep`` rows (oldest first);
before a step it slides up by ``new_rows`` rows and the new rows go at its
end. A buffer that keeps no more than one step's rows carries nothing from
one hop to the next: it is transient (two slots, by stage parity).

The C engine renders this plan (render.py, model.c.j2); ``IncrementalReference``
runs the same schedule in numpy (int8_rows.py) to prove it in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinykws.codegen.int8_rows import c_initializer_ints as _ints
from tinykws.codegen.lower import Layer, LoweredModel
from tinykws.errors import UnsupportedOperatorError

ROW_KERNELS = {"tkw_pad": "pad", "tkw_conv2d": "conv", "tkw_depthwise_conv2d": "depthwise"}
ALIGNMENT = 4
HOW_TO = ("incremental inference needs a model that is VALID in time (the ds-cnn-s-stream preset, "
          "time_padding 'valid'); the firmware's --stream mode recomputes the full window for this model")


class IncrementalError(UnsupportedOperatorError):
    """A model (or hop) whose time structure does not allow incremental inference."""


@dataclass(frozen=True)
class Stage:
    """One row-wise layer of the time part (PAD, CONV_2D, DEPTHWISE_CONV_2D) or the closing MEAN."""

    layer: Layer
    kind: str            # "pad", "conv", "depthwise" or "mean"
    stride: int          # time stride
    window: int          # input rows under one output row (dilated kernel height)
    window_rows: int     # output rows in one window (MEAN: its input rows)
    new_rows: int        # output rows per hop (MEAN: input rows per hop)
    need: int            # input rows one step reads
    in_row_bytes: int
    row_bytes: int       # bytes of one output row (MEAN: 4 * channels per row sum)
    keep: int = 0        # rows of its output buffer
    offset: int = 0      # of the output buffer in the stream state
    first_input_row: int = 0  # window row of the first input row a lag-0 step reads

    @property
    def transient(self) -> bool:
        return self.keep <= self.new_rows

    @property
    def buffer_bytes(self) -> int:
        return self.keep * self.row_bytes


@dataclass(frozen=True)
class IncrementalPlan:
    stages: tuple[Stage, ...]       # the row stages, then the MEAN
    tail: tuple[Layer, ...]         # the layers after the MEAN (run as in the full-window engine)
    hop_frames: int
    warmup_steps: int
    persistent_bytes: int           # rows kept from one hop to the next
    transient_bytes: int            # the two slots of rows that live within one step
    sums_offset: int                # MEAN: int32 row sums [window_rows][channels], then the total [channels]
    state_bytes: int                # all of it: the RAM incremental inference adds to the engine

    @property
    def mean(self) -> Stage:
        return self.stages[-1]

    @property
    def sums_bytes(self) -> int:
        return self.state_bytes - self.sums_offset


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _refuse(model: LoweredModel, layer: Layer | None, why: str) -> IncrementalError:
    where = f"layer {layer.index} ({layer.opcode})" if layer is not None else "the model"
    return IncrementalError(f"{model.source}: {where}: {why}; {HOW_TO}")


def _row_bytes(model: LoweredModel, tensor: int) -> int:
    t = model.tensors[tensor]
    return t.nbytes // t.shape[1]


def _time_chain(model: LoweredModel) -> tuple[list[Layer], list[Layer]]:
    """The layers from the input to the MEAN (each reading the one before, nothing else reading it),
    and the layers after."""
    users: dict[int, list[int]] = {}
    for layer in model.layers:
        for t in layer.inputs:
            users.setdefault(t, []).append(layer.index)
    chain: list[Layer] = []
    tensor = model.input
    for i, layer in enumerate(model.layers):
        if layer.inputs != (tensor,) or users.get(tensor) != [layer.index]:
            raise _refuse(model, layer, f"reads more than the layer before it, or its input feeds other "
                                        f"layers too (a branch or residual across time)")
        chain.append(layer)
        if layer.kernel == "tkw_mean_hw":
            return chain, list(model.layers[i + 1:])
        if layer.kernel not in ROW_KERNELS:
            raise _refuse(model, layer, "an operator before the global average pool that the incremental "
                                        "engine cannot run row by row (PAD, CONV_2D and DEPTHWISE_CONV_2D can)")
        tensor = layer.output
    raise _refuse(model, None, "no MEAN over height and width (global average pool) ends the time part")


def _check_tail(model: LoweredModel, chain: list[Layer], tail: list[Layer]) -> None:
    time_tensors = {model.input} | {layer.output for layer in chain[:-1]}
    for layer in tail:
        if set(layer.inputs) & time_tensors:
            raise _refuse(model, layer, "reads a tensor of the time part after the global average pool")


def _geometry(model: LoweredModel, layer: Layer) -> tuple[int, int]:
    """(time stride, window rows) of a row layer; refuses padding in time."""
    if layer.kernel == "tkw_pad":
        before = _ints(dict(layer.fields)["pad_before"])
        after = _ints(dict(layer.fields)["pad_after"])
        if before[1] or after[1] or before[0] or after[0]:
            raise _refuse(model, layer, "pads in time (only frequency and channel padding keeps rows aligned)")
        return 1, 1
    stride, window = layer.field("stride_h"), (layer.field("filter_h") - 1) * layer.field("dilation_h") + 1
    in_h, out_h = layer.field("in_h"), layer.field("out_h")
    if layer.field("pad_top") != 0 or out_h != (in_h - window) // stride + 1:
        raise _refuse(model, layer, "SAME padding in time: the rows at the window's edges see padding, so "
                                    "they change when the window slides")
    return stride, window


def _stages(model: LoweredModel, chain: list[Layer], hop_frames: int) -> list[Stage]:
    stages: list[Stage] = []
    total_stride = 1
    for layer in chain:
        producer = layer.inputs[0]
        if layer.kernel == "tkw_mean_hw":
            prev = stages[-1]
            stages.append(Stage(layer, "mean", 1, 1, prev.window_rows, prev.new_rows, prev.new_rows,
                                prev.row_bytes, 4 * layer.field("channels")))
            break
        stride, window = _geometry(model, layer)
        total_stride *= stride
        if hop_frames % total_stride:
            raise IncrementalError(f"{model.source}: layer {layer.index} ({layer.opcode}): a hop of {hop_frames} "
                                   f"frames is not a multiple of the time stride {total_stride} up to this layer "
                                   "(infer every N hops with N a multiple of the model's time stride)")
        new = hop_frames // total_stride
        out = model.tensors[layer.output].shape[1]
        stages.append(Stage(layer, ROW_KERNELS[layer.kernel], stride, window, out, new,
                            (new - 1) * stride + window, _row_bytes(model, producer), _row_bytes(model, layer.output)))
    return stages


def _with_buffers(stages: list[Stage], input_rows: int) -> list[Stage]:
    """keep rows of each output buffer (what the consumer's step reads, from its first row to the
    producer's newest) and the window row where each stage's lag-0 input starts."""
    out = []
    for i, stage in enumerate(stages):
        consumer = stages[i + 1] if i + 1 < len(stages) else None
        keep = 0
        if consumer is not None:
            last_read = (consumer.window_rows - 1) * consumer.stride + consumer.window
            keep = consumer.need + stage.window_rows - last_read
        first = (stage.window_rows - stage.new_rows) * stage.stride
        if i == 0 and first + stage.need > input_rows:
            raise IncrementalError(f"layer {stage.layer.index}: reads past the window (a generator bug)")
        out.append(Stage(**{**stage.__dict__, "keep": keep, "first_input_row": first}))
    return out


def _placed(stages: list[Stage]) -> tuple[list[Stage], int, int, int]:
    """Offsets in the stream state: persistent buffers, then two transient slots, then the MEAN sums."""
    placed: list[Stage] = []
    offset = 0
    for s in stages:
        if s.kind != "mean" and not s.transient:
            placed.append(Stage(**{**s.__dict__, "offset": offset}))
            offset += _align(s.buffer_bytes)
        else:
            placed.append(s)
    persistent = offset
    slot = [max((_align(s.buffer_bytes) for j, s in enumerate(stages) if s.kind != "mean" and s.transient
                 and j % 2 == parity), default=0) for parity in (0, 1)]
    for j, s in enumerate(placed):
        if s.kind != "mean" and s.transient:
            placed[j] = Stage(**{**s.__dict__, "offset": persistent + (slot[0] if j % 2 else 0)})
    return placed, persistent, slot[0] + slot[1], persistent + slot[0] + slot[1]


def plan_incremental(model: LoweredModel, hop_frames: int) -> IncrementalPlan:
    """The incremental schedule of ``model`` for a window that slides ``hop_frames`` frames per
    inference, or IncrementalError naming the layer that does not allow it."""
    if hop_frames < 1:
        raise IncrementalError(f"{model.source}: a hop of {hop_frames} frames (at least 1)")
    chain, tail = _time_chain(model)
    _check_tail(model, chain, tail)
    input_rows = model.tensors[model.input].shape[1]
    if hop_frames >= input_rows:
        raise IncrementalError(f"{model.source}: a hop of {hop_frames} frames is not shorter than the "
                               f"{input_rows}-frame window (nothing to reuse)")
    stages, persistent, transient, sums_offset = _placed(_with_buffers(_stages(model, chain, hop_frames),
                                                                      input_rows))
    mean = stages[-1]
    state = sums_offset + 4 * mean.layer.field("channels") * (mean.window_rows + 1)
    warmup = max(math.ceil(s.window_rows / s.new_rows) for s in stages[:-1])
    return IncrementalPlan(tuple(stages), tuple(tail), hop_frames, warmup, persistent, transient, sums_offset,
                           state)


def rows_to_skip(stage: Stage, lag: int) -> int:
    """Rows of a step's chunk that lie before the window's first row (computed by no step)."""
    end = stage.window_rows - stage.new_rows * lag
    return min(max(stage.new_rows - end, 0), stage.new_rows)


class IncrementalReference:
    """The incremental schedule in numpy, step for step as the C engine runs it: ``invoke(window)``
    returns the MEAN's int8 output (the last tensor that depends on time) for a window that slid
    ``plan.hop_frames`` frames since the previous call (any window after ``reset``)."""

    def __init__(self, plan: IncrementalPlan):
        self.plan = plan
        self.reset()

    def reset(self) -> None:
        self.buffers = {i: np.zeros((s.keep, s.row_bytes), np.int8) for i, s in enumerate(self.plan.stages[:-1])}
        mean = self.plan.mean
        self.row_sums = np.zeros((mean.window_rows, mean.layer.field("channels")), np.int64)
        self.total = np.zeros(mean.layer.field("channels"), np.int64)
        self.next_slot = 0
        self.ready = False

    def invoke(self, window: np.ndarray) -> np.ndarray:
        from tinykws.codegen import int8_rows

        x = np.asarray(window, np.int8).reshape(-1, self.plan.stages[0].in_row_bytes)
        for lag in range(0 if self.ready else self.plan.warmup_steps - 1, -1, -1):
            self._step(x, lag)
        self.ready = True
        return int8_rows.mean_finish(self.plan.mean.layer, self.total)

    def _input_rows(self, i: int, x: np.ndarray, lag: int) -> np.ndarray:
        stage = self.plan.stages[i]
        if i == 0:
            start = stage.first_input_row - stage.new_rows * stage.stride * lag
            return x[max(start, 0):start + stage.need] if start >= 0 else np.concatenate(
                [np.zeros((-start, x.shape[1]), np.int8), x[:start + stage.need]])
        return self.buffers[i - 1][:stage.need]

    def _step(self, x: np.ndarray, lag: int) -> None:
        from tinykws.codegen import int8_rows

        for i, stage in enumerate(self.plan.stages):
            skip = rows_to_skip(stage, lag)
            rows = self._input_rows(i, x, lag)
            if stage.kind == "mean":
                self._add_mean_rows(rows[skip:])
                continue
            buf = self.buffers[i]
            buf[:stage.keep - stage.new_rows] = buf[stage.new_rows:].copy()
            if skip < stage.new_rows:
                new = int8_rows.run_rows(stage.layer, rows[skip * stage.stride:], stage.new_rows - skip)
                buf[stage.keep - stage.new_rows + skip:] = new.reshape(stage.new_rows - skip, -1)

    def _add_mean_rows(self, rows: np.ndarray) -> None:
        channels = self.plan.mean.layer.field("channels")
        for row in rows:
            sums = row.reshape(-1, channels).astype(np.int64).sum(axis=0)
            self.total += sums - self.row_sums[self.next_slot]
            self.row_sums[self.next_slot] = sums
            self.next_slot = (self.next_slot + 1) % len(self.row_sums)
