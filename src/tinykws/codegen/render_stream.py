"""The C of incremental inference (tinykws.codegen.incremental), for model.c.j2 and model.h.j2.

Python computes every offset, row count and byte size of the schedule; the
generated C step only slides buffers, computes how many of a chunk's rows lie
before the window (the first call after a reset) and calls the row kernels.
"""

from __future__ import annotations

import dataclasses

from tinykws.codegen.incremental import IncrementalPlan, Stage
from tinykws.codegen.lower import Layer

def _step_params(stage: Stage, layer: Layer) -> Layer:
    """A conv layer's parameters for one step: `need` input rows in, `new_rows` rows out (the same
    constants, so the same arithmetic)."""
    rows = {"in_h": stage.need, "in_rows": stage.need, "out_h": stage.new_rows, "out_rows": stage.new_rows}
    fields = tuple((k, str(rows[k]) if k in rows else v) for k, v in layer.fields)
    return dataclasses.replace(layer, symbol=f"{layer.symbol}_step", fields=fields)


def _input_pointer(plan: IncrementalPlan, i: int) -> str:
    stage = plan.stages[i]
    step = stage.stride * stage.in_row_bytes
    if i == 0:
        lag_rows = stage.new_rows * stage.stride
        return f"input + ({stage.first_input_row} - {lag_rows} * lag + skip * {stage.stride}) * {stage.in_row_bytes}"
    return f"&state[{plan.stages[i - 1].offset} + skip * {step}]"


def _stage_lines(plan: IncrementalPlan, i: int, symbol: str) -> list[str]:
    s = plan.stages[i]
    src = _input_pointer(plan, i)
    lines = []
    if s.kind != "mean" and not s.transient:
        lines.append(f"tkw_stream_slide(&state[{s.offset}], {s.buffer_bytes}, {s.new_rows * s.row_bytes});")
    lines.append(f"skip = rows_to_skip({s.new_rows}, {s.window_rows}, lag);")
    if s.kind == "mean":
        sums = plan.sums_offset
        total = sums + 4 * s.window_rows * s.layer.field("channels")
        lines.append(f"tkw_stream_mean_add_rows(&{symbol}, {src}, {s.new_rows} - skip, (int32_t *)&state[{sums}], "
                     f"(int32_t *)&state[{total}], &next_row_sum);")
        return lines
    dst = f"&state[{s.offset} + ({s.keep - s.new_rows} + skip) * {s.row_bytes}]"
    if s.kind == "pad":
        lines.append(f"tkw_stream_pad_rows(&{symbol}, {src}, {dst}, {s.new_rows} - skip);")
    else:
        kernel = "tkw_conv2d_rows" if s.kind == "conv" else "tkw_depthwise_conv2d_rows"
        lines.append(f"{kernel}(&{symbol}, {src}, {dst}, 0, {s.new_rows} - skip);")
    return lines


def _comment(s: Stage) -> str:
    kept = "transient" if s.transient else "kept across hops"
    if s.kind == "mean":
        return (f"Layer {s.layer.index} MEAN: running sums of the {s.window_rows} rows of the window "
                f"({s.new_rows} new per hop)")
    return (f"Layer {s.layer.index} {s.layer.opcode}: {s.new_rows} new of {s.window_rows} rows per hop from "
            f"{s.need} input rows; output buffer of {s.keep} rows ({s.buffer_bytes} bytes, {kept})")


def stream_context(plan: IncrementalPlan | None, layers: tuple[Layer, ...]) -> dict | None:
    """Template values of the incremental engine (None: the engine has none)."""
    if plan is None:
        return None
    by_index = {layer.index: layer for layer in layers}
    params, stages = [], []
    for i, s in enumerate(plan.stages):
        layer = by_index[s.layer.index]
        symbol = layer.symbol
        if s.kind in ("conv", "depthwise"):
            step = _step_params(s, layer)
            params.append(step)
            symbol = step.symbol
        stages.append({"comment": _comment(s), "lines": _stage_lines(plan, i, symbol)})
    mean = plan.mean
    return {
        "hop_frames": plan.hop_frames, "warmup_steps": plan.warmup_steps, "state_bytes": plan.state_bytes,
        "state_words": (plan.state_bytes + 3) // 4, "persistent_bytes": plan.persistent_bytes,
        "transient_bytes": plan.transient_bytes, "sums_bytes": plan.sums_bytes,
        "params": params, "stages": stages, "mean_symbol": by_index[mean.layer.index].symbol,
        "total_offset": plan.sums_offset + 4 * mean.window_rows * mean.layer.field("channels"),
        "mean_output": mean.layer.output, "tail": plan.tail,
    }
