"""Lowering: a .tflite graph to a list of C kernel calls with their constants.

Each supported TFLite operator becomes one Layer: the C kernel to call, the
fields of its const parameter struct (already requantized in Python), the
constant arrays it points to, and the tensors it reads and writes. RESHAPE
becomes an alias (no code, no copy). Anything else is refused here, at
generation time, with an error that names the operator and the layer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinykws.codegen import dsp, quant
from tinykws.errors import ModelError, UnsupportedOperatorError
from tinykws.codegen.graph import Graph, Operator, Tensor


@dataclass(frozen=True)
class ConstArray:
    """A constant array placed in flash: ``static const <ctype> <symbol>[]``."""

    symbol: str
    ctype: str
    values: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * (1 if self.ctype == "int8_t" else 4)


@dataclass(frozen=True)
class Layer:
    index: int                           # operator index in the .tflite
    opcode: str                          # TFLite builtin operator name
    kernel: str                          # C function; "" for an alias (RESHAPE)
    params_type: str                     # C struct type of the parameters
    symbol: str                          # C name of the parameter struct
    fields: tuple[tuple[str, str], ...]  # (field, C initializer) in struct order
    arrays: tuple[ConstArray, ...]
    inputs: tuple[int, ...]              # activation tensors read
    output: int                          # activation tensor written
    comment: str
    scratch_bytes: int = 0               # arena memory kept for the whole step (MEAN sums)
    work_bytes: int = 0                  # arena memory used only during one kernel call

    @property
    def is_alias(self) -> bool:
        return self.kernel == ""

    def field(self, name: str) -> int:
        return int(dict(self.fields)[name])

    def with_fields(self, **changes: int) -> "Layer":
        fields = tuple((k, str(int(changes[k])) if k in changes else v) for k, v in self.fields)
        return dataclasses.replace(self, fields=fields)


@dataclass(frozen=True)
class LoweredModel:
    layers: tuple[Layer, ...]
    tensors: dict[int, Tensor]  # activation tensors by index
    input: int
    output: int
    source: str


PADDING_NAMES = {0: "SAME", 1: "VALID"}


class _Ctx:
    """What one lowering step needs: the graph, the operator, the symbol prefix."""

    def __init__(self, graph: Graph, op: Operator, prefix: str):
        self.graph, self.op, self.prefix = graph, op, prefix
        self.symbol = f"{prefix}_layer{op.index}"

    def where(self) -> str:
        out = self.graph.tensor(self.op.outputs[0]).name if self.op.outputs else "?"
        return f"{self.graph.source}: layer {self.op.index} ({self.op.opcode}, output '{out}')"

    def refuse(self, what: str) -> UnsupportedOperatorError:
        return UnsupportedOperatorError(f"{self.where()}: {what} is not supported by the C engine generator")

    def tensor_in(self, position: int, required: bool = True) -> Tensor | None:
        index = self.op.input(position)
        if index is None:
            if required:
                raise ModelError(f"{self.where()}: input {position} is missing")
            return None
        return self.graph.tensor(index)

    def tensor_out(self) -> Tensor:
        return self.graph.tensor(self.op.outputs[0])

    def array(self, name: str, ctype: str, values) -> ConstArray:
        return ConstArray(f"{self.symbol}_{name}", ctype, np.asarray(values).reshape(-1))

    def option(self, name: str, default=None):
        return self.op.options.get(name, default)


# --- checks --------------------------------------------------------------------

def _check_int8(ctx: _Ctx, tensor: Tensor, role: str) -> None:
    if tensor.dtype != np.int8:
        raise ctx.refuse(f"{role} of type {tensor.dtype} (only int8 models)")
    if not tensor.scales:
        raise ctx.refuse(f"{role} without quantization parameters")


def _check_activation(ctx: _Ctx, tensor: Tensor, role: str) -> None:
    _check_int8(ctx, tensor, role)
    if tensor.is_constant:
        raise ctx.refuse(f"a constant {role}")
    if tensor.shape and tensor.shape[0] != 1:
        raise ctx.refuse(f"batch size {tensor.shape[0]} of the {role}")
    if 0 in tensor.shape:
        raise ModelError(f"{ctx.where()}: the {role} '{tensor.name}' has an empty shape {_shape_text(tensor.shape)}")


def _input_output(ctx: _Ctx) -> tuple[Tensor, Tensor]:
    """The operator's first input and its output, both checked as int8 activations."""
    x, y = ctx.tensor_in(0), ctx.tensor_out()
    _check_activation(ctx, x, "input")
    _check_activation(ctx, y, "output")
    return x, y


def _check_nhwc(ctx: _Ctx, tensor: Tensor, role: str) -> tuple[int, int, int]:
    if len(tensor.shape) != 4:
        raise ctx.refuse(f"a {len(tensor.shape)}-D {role} (4-D NHWC expected)")
    return tensor.shape[1], tensor.shape[2], tensor.shape[3]


def _fused_activation(ctx: _Ctx) -> int:
    act = int(ctx.option("FusedActivationFunction", 0))
    if act not in (quant.ACT_NONE, quant.ACT_RELU, quant.ACT_RELU6, quant.ACT_RELU_N1_TO_1):
        raise ctx.refuse(f"fused activation code {act} (supported: NONE, RELU, RELU6, RELU_N1_TO_1)")
    return act


def _weights(ctx: _Ctx, position: int, role: str) -> Tensor:
    w = ctx.tensor_in(position)
    if not w.is_constant:
        raise ctx.refuse(f"non-constant {role}")
    _check_int8(ctx, w, role)
    if 0 in w.shape:
        raise ModelError(f"{ctx.where()}: the {role} '{w.name}' has an empty shape {_shape_text(w.shape)}")
    if any(zp != 0 for zp in w.zero_points):
        raise ctx.refuse(f"{role} with a non-zero zero point")
    return w


def _bias(ctx: _Ctx, position: int, channels: int) -> ConstArray | None:
    b = ctx.tensor_in(position, required=False)
    if b is None:
        return None
    if not b.is_constant or b.dtype != np.int32 or b.size != channels:
        raise ctx.refuse(f"a bias of type {b.dtype} and {b.size} values (int32[{channels}] expected)")
    return ctx.array("bias", "int32_t", b.data.astype(np.int32))


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def _fields(**kwargs) -> tuple[tuple[str, str], ...]:
    return tuple((k, v if isinstance(v, str) else str(int(v))) for k, v in kwargs.items())


def _c_initializer(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _ref(array: ConstArray | None) -> str:
    return array.symbol if array is not None else "NULL"


# --- constants of the optimized kernels: tinykws.codegen.dsp ----------------------

def _fast_conv(ctx: _Ctx, w: Tensor, bias: ConstArray | None, zero_point: int, multipliers: np.ndarray,
               shifts: np.ndarray, depthwise: bool, multiplier: int, output_zero_point: int) -> dsp.FastConv:
    """The optimized kernels' constants and work buffer, or NULL/0 when they would not be used."""
    k_h, k_w = w.shape[1], w.shape[2]
    s_w, d_w = int(ctx.option("StrideW", 1)), int(ctx.option("DilationWFactor", 1))
    im2col = (k_h, k_w) != (1, 1) or ctx.option("StrideH", 1) != 1 or s_w != 1
    out_w = ctx.tensor_out().shape[2]
    geometry = dsp.ConvGeometry(k_h, k_w, w.shape[3], ctx.tensor_in(0).shape[2], out_w, s_w, d_w, im2col)
    columns = (out_w - 1) * s_w + (k_w - 1) * d_w + 1
    return dsp.fast_conv(ctx.array, w.data, bias.values if bias is not None else None, zero_point, multipliers,
                         shifts, output_zero_point, depthwise, multiplier, geometry, columns)


# --- operators -------------------------------------------------------------------

def _conv_depth_multiplier(ctx: _Ctx, w: Tensor, in_c: int, out_c: int, depthwise: bool) -> int:
    if len(w.shape) != 4:
        raise ctx.refuse(f"a {len(w.shape)}-D filter")
    if depthwise:
        if w.shape[0] != 1 or w.shape[3] != out_c or out_c % in_c:
            raise ctx.refuse(f"depthwise filter {_shape_text(w.shape)} for {in_c} -> {out_c} channels")
        return out_c // in_c
    if w.shape[0] != out_c or w.shape[3] != in_c:
        raise ctx.refuse(f"grouped convolution (filter {_shape_text(w.shape)}, input channels {in_c})")
    return 1


def _window_fields(ctx: _Ctx, x: Tensor, y: Tensor, k_h: int, k_w: int, dilated: bool) -> dict[str, int]:
    """Strides, dilation and TFLite's leading padding of a sliding-window operator."""
    padding = int(ctx.option("Padding", 0))
    if padding not in PADDING_NAMES:
        raise ctx.refuse(f"padding code {padding}")
    (in_h, in_w, _), (out_h, out_w, _) = _check_nhwc(ctx, x, "input"), _check_nhwc(ctx, y, "output")
    s_h, s_w = int(ctx.option("StrideH", 1)), int(ctx.option("StrideW", 1))
    d_h = int(ctx.option("DilationHFactor", 1)) if dilated else 1
    d_w = int(ctx.option("DilationWFactor", 1)) if dilated else 1
    for size, dim, k, s, d, name in ((out_h, in_h, k_h, s_h, d_h, "height"), (out_w, in_w, k_w, s_w, d_w, "width")):
        if quant.out_size(padding == 0, dim, k, s, d) != size:
            raise ModelError(f"{ctx.where()}: output {name} {size} does not follow from the options")
    return {"stride_h": s_h, "stride_w": s_w, "dilation_h": d_h, "dilation_w": d_w, "padding": padding,
            "pad_top": quant.compute_padding(s_h, d_h, in_h, k_h, out_h),
            "pad_left": quant.compute_padding(s_w, d_w, in_w, k_w, out_w)}


def _requant_arrays(ctx: _Ctx, mults: list[int], shifts: list[int]) -> tuple[ConstArray, ConstArray]:
    return (ctx.array("multiplier", "int32_t", np.array(mults, np.int64)),
            ctx.array("shift", "int32_t", np.array(shifts, np.int64)))


def _conv_like(ctx: _Ctx, depthwise: bool) -> Layer:
    x, y = _input_output(ctx)
    in_h, in_w, in_c = _check_nhwc(ctx, x, "input")
    out_h, out_w, out_c = _check_nhwc(ctx, y, "output")
    w = _weights(ctx, 1, "filter")
    multiplier = _conv_depth_multiplier(ctx, w, in_c, out_c, depthwise)
    k_h, k_w = w.shape[1], w.shape[2]
    win = _window_fields(ctx, x, y, k_h, k_w, dilated=True)
    if len(w.scales) not in (1, out_c):
        raise ctx.refuse(f"{len(w.scales)} filter scales for {out_c} output channels")
    act = _fused_activation(ctx)
    act_min, act_max = quant.activation_range(act, y.scale, y.zero_point)
    filt, bias = ctx.array("filter", "int8_t", w.data), _bias(ctx, 2, out_c)
    mult_a, shift_a = _requant_arrays(ctx, *quant.per_channel_multipliers(x.scale, w.scales, y.scale, out_c))
    fields = _fields(
        in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w, out_c=out_c, in_rows=in_h, out_rows=out_h,
        filter_h=k_h, filter_w=k_w, stride_h=win["stride_h"], stride_w=win["stride_w"],
        dilation_h=win["dilation_h"], dilation_w=win["dilation_w"], pad_top=win["pad_top"],
        pad_left=win["pad_left"], depth_multiplier=multiplier, input_offset=-x.zero_point,
        output_offset=y.zero_point, act_min=act_min, act_max=act_max, filter=filt.symbol, bias=_ref(bias),
        multiplier=mult_a.symbol, shift=shift_a.symbol)
    fast = _fast_conv(ctx, w, bias, x.zero_point, mult_a.values, shift_a.values, depthwise, multiplier,
                      y.zero_point)
    fields += fast.fields
    extra = f", depth multiplier {multiplier}" if depthwise else ""
    comment = (f"{ctx.op.opcode} {_shape_text(x.shape)} -> {_shape_text(y.shape)}, filter {_shape_text(w.shape)}, "
               f"stride {win['stride_h']}x{win['stride_w']}, dilation {win['dilation_h']}x{win['dilation_w']}, "
               f"{PADDING_NAMES[win['padding']]}{extra}, {quant.ACTIVATION_NAMES[act]}")
    arrays = tuple(a for a in (filt, bias, mult_a, shift_a) if a is not None) + fast.arrays
    kernel = "tkw_depthwise_conv2d" if depthwise else "tkw_conv2d"
    return Layer(ctx.op.index, ctx.op.opcode, kernel, "tkw_conv_params_t", ctx.symbol, fields, arrays,
                 (x.index,), y.index, comment, work_bytes=fast.work_bytes)


def _fully_connected(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    w = _weights(ctx, 1, "weights")
    if int(ctx.option("WeightsFormat", 0)) != 0 or ctx.option("AsymmetricQuantizeInputs", False):
        raise ctx.refuse("a non-default weights format or hybrid quantization")
    if len(w.shape) != 2 or x.size % w.shape[1]:
        raise ctx.refuse(f"weights {_shape_text(w.shape)} for input {_shape_text(x.shape)}")
    out_depth, accum = w.shape
    batches = x.size // accum
    if y.size != batches * out_depth:
        raise ModelError(f"{ctx.where()}: output {_shape_text(y.shape)} does not match the weights")
    if len(w.scales) > 1:
        mults, shifts = quant.per_channel_multipliers(x.scale, w.scales, y.scale, out_depth)
    else:
        m, s = quant.per_tensor_multiplier(x.scale, w.scale, y.scale)
        mults, shifts = [m] * out_depth, [s] * out_depth
    act = _fused_activation(ctx)
    act_min, act_max = quant.activation_range(act, y.scale, y.zero_point)
    filt, bias = ctx.array("weights", "int8_t", w.data), _bias(ctx, 2, out_depth)
    mult_a, shift_a = _requant_arrays(ctx, mults, shifts)
    fields = _fields(batches=batches, accum_depth=accum, out_depth=out_depth,
                     input_offset=-x.zero_point, filter_offset=-w.zero_point, output_offset=y.zero_point,
                     act_min=act_min, act_max=act_max, filter=filt.symbol, bias=_ref(bias),
                     multiplier=mult_a.symbol, shift=shift_a.symbol)
    kind = "per-channel" if len(w.scales) > 1 else "per-tensor"
    comment = (f"FULLY_CONNECTED {_shape_text(x.shape)} -> {_shape_text(y.shape)}, weights {_shape_text(w.shape)} "
               f"({kind}), {quant.ACTIVATION_NAMES[act]}")
    arrays = tuple(a for a in (filt, bias, mult_a, shift_a) if a is not None)
    return Layer(ctx.op.index, ctx.op.opcode, "tkw_fully_connected", "tkw_fc_params_t", ctx.symbol, fields,
                 arrays, (x.index,), y.index, comment)


def _same_quantization(ctx: _Ctx, x: Tensor, y: Tensor) -> None:
    if (x.scale, x.zero_point) != (y.scale, y.zero_point):
        raise ctx.refuse("different input and output quantization")


def _pool(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    in_h, in_w, c = _check_nhwc(ctx, x, "input")
    out_h, out_w, out_c = _check_nhwc(ctx, y, "output")
    _same_quantization(ctx, x, y)
    if out_c != c:
        raise ctx.refuse(f"pooling from {c} to {out_c} channels")
    k_h, k_w = int(ctx.option("FilterHeight", 1)), int(ctx.option("FilterWidth", 1))
    win = _window_fields(ctx, x, y, k_h, k_w, dilated=False)
    act = _fused_activation(ctx)
    act_min, act_max = quant.activation_range(act, y.scale, y.zero_point)
    fields = _fields(in_h=in_h, in_w=in_w, channels=c, out_h=out_h, out_w=out_w, in_rows=in_h, out_rows=out_h,
                     filter_h=k_h, filter_w=k_w, stride_h=win["stride_h"], stride_w=win["stride_w"],
                     pad_top=win["pad_top"], pad_left=win["pad_left"], act_min=act_min, act_max=act_max)
    kernel = "tkw_average_pool2d" if ctx.op.opcode == "AVERAGE_POOL_2D" else "tkw_max_pool2d"
    comment = (f"{ctx.op.opcode} {_shape_text(x.shape)} -> {_shape_text(y.shape)}, window {k_h}x{k_w}, "
               f"stride {win['stride_h']}x{win['stride_w']}, {PADDING_NAMES[win['padding']]}, "
               f"{quant.ACTIVATION_NAMES[act]}")
    return Layer(ctx.op.index, ctx.op.opcode, kernel, "tkw_pool_params_t", ctx.symbol, fields, (),
                 (x.index,), y.index, comment)


def _mean(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    in_h, in_w, c = _check_nhwc(ctx, x, "input")
    axis = ctx.tensor_in(1)
    if not axis.is_constant:
        raise ctx.refuse("a non-constant axis")
    axes = sorted({int(a) % 4 for a in axis.data.reshape(-1)})
    if axes != [1, 2] or y.size != c:
        raise ctx.refuse(f"MEAN over axes {axes} (only height and width, axes [1, 2])")
    multiplier, shift = quant.mean_constants(x.scale, y.scale, in_h * in_w)
    fields = _fields(in_h=in_h, in_w=in_w, channels=c, in_rows=in_h, input_zero_point=x.zero_point,
                     output_zero_point=y.zero_point, multiplier=multiplier, shift=shift)
    comment = f"MEAN {_shape_text(x.shape)} -> {_shape_text(y.shape)} over height and width"
    return Layer(ctx.op.index, ctx.op.opcode, "tkw_mean_hw", "tkw_mean_params_t", ctx.symbol, fields, (),
                 (x.index,), y.index, comment)


def _add(ctx: _Ctx) -> Layer:
    a, b, y = ctx.tensor_in(0), ctx.tensor_in(1), ctx.tensor_out()
    for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
        _check_activation(ctx, t, role)
    if a.shape != y.shape or b.shape != y.shape:
        raise ctx.refuse(f"broadcasting ADD ({_shape_text(a.shape)} + {_shape_text(b.shape)})")
    k = quant.add_constants(a.scale, b.scale, y.scale)
    act = _fused_activation(ctx)
    act_min, act_max = quant.activation_range(act, y.scale, y.zero_point)
    fields = _fields(size=y.size, left_shift=k.left_shift,
                     input1_offset=-a.zero_point, input1_multiplier=k.input1_multiplier, input1_shift=k.input1_shift,
                     input2_offset=-b.zero_point, input2_multiplier=k.input2_multiplier, input2_shift=k.input2_shift,
                     output_offset=y.zero_point, output_multiplier=k.output_multiplier,
                     output_shift=k.output_shift, act_min=act_min, act_max=act_max)
    comment = f"ADD {_shape_text(a.shape)} + {_shape_text(b.shape)} -> {_shape_text(y.shape)}, " \
              f"{quant.ACTIVATION_NAMES[act]}"
    return Layer(ctx.op.index, ctx.op.opcode, "tkw_add", "tkw_add_params_t", ctx.symbol, fields, (),
                 (a.index, b.index), y.index, comment)


def _softmax(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    if y.zero_point != -128 or abs(y.scale - 1.0 / 256) > 1e-9:
        raise ctx.refuse("a SOFTMAX output quantization other than scale 1/256, zero point -128")
    if not x.shape or x.size != y.size:
        raise ModelError(f"{ctx.where()}: SOFTMAX from {_shape_text(x.shape)} to {_shape_text(y.shape)}")
    k = quant.softmax_constants(float(ctx.option("Beta", 1.0)), x.scale)
    depth = x.shape[-1]
    fields = _fields(outer_size=x.size // depth, depth=depth, input_multiplier=k.input_multiplier,
                     input_left_shift=k.input_left_shift, diff_min=k.diff_min)
    comment = f"SOFTMAX {_shape_text(x.shape)} -> {_shape_text(y.shape)}, beta {ctx.option('Beta', 1.0):g}"
    return Layer(ctx.op.index, ctx.op.opcode, "tkw_softmax", "tkw_softmax_params_t", ctx.symbol, fields, (),
                 (x.index,), y.index, comment)


def _pad(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    _same_quantization(ctx, x, y)
    paddings = ctx.tensor_in(1)
    if not paddings.is_constant or len(x.shape) > 4:
        raise ctx.refuse("non-constant paddings or a tensor of more than 4 dimensions")
    if paddings.size != 2 * len(x.shape) or paddings.dtype.kind != "i" or np.any(paddings.data < 0):
        raise ModelError(f"{ctx.where()}: paddings '{paddings.name}' {paddings.data.reshape(-1).tolist()} "
                         f"for a {len(x.shape)}-D input (one non-negative pair per dimension expected)")
    pads = np.zeros((4, 2), np.int64)
    pads[4 - len(x.shape):] = paddings.data.reshape(-1, 2)
    dims = (1,) * (4 - len(x.shape)) + x.shape
    if tuple(int(d) for d in pads[4 - len(x.shape):].sum(axis=1) + x.shape) != y.shape:
        raise ModelError(f"{ctx.where()}: output {_shape_text(y.shape)} does not follow from the paddings")
    value = y.zero_point
    constant = ctx.tensor_in(2, required=False) if ctx.op.opcode == "PADV2" else None
    if constant is not None:
        if not constant.is_constant or constant.dtype != np.int8 or constant.size < 1:
            raise ctx.refuse("a pad value that is not a constant int8")
        value = int(constant.data.reshape(-1)[0])
    fields = (("in_dims", _c_initializer(dims)), ("pad_before", _c_initializer(pads[:, 0])),
              ("pad_after", _c_initializer(pads[:, 1])), ("pad_value", str(value)))
    comment = f"{ctx.op.opcode} {_shape_text(x.shape)} -> {_shape_text(y.shape)}, value {value}"
    return Layer(ctx.op.index, ctx.op.opcode, "tkw_pad", "tkw_pad_params_t", ctx.symbol, fields, (),
                 (x.index,), y.index, comment)


def _reshape(ctx: _Ctx) -> Layer:
    x, y = _input_output(ctx)
    _same_quantization(ctx, x, y)
    if x.size != y.size:
        raise ModelError(f"{ctx.where()}: reshape from {x.size} to {y.size} elements")
    comment = f"{ctx.op.opcode} {_shape_text(x.shape)} -> {_shape_text(y.shape)} (alias, no copy)"
    return Layer(ctx.op.index, ctx.op.opcode, "", "", ctx.symbol, (), (), (x.index,), y.index, comment)


_LOWERINGS: dict[str, Callable[[_Ctx], Layer]] = {
    "ADD": _add,
    "AVERAGE_POOL_2D": _pool,
    "CONV_2D": lambda ctx: _conv_like(ctx, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda ctx: _conv_like(ctx, depthwise=True),
    "FULLY_CONNECTED": _fully_connected,
    "MAX_POOL_2D": _pool,
    "MEAN": _mean,
    "PAD": _pad,
    "PADV2": _pad,
    "RESHAPE": _reshape,
    "SOFTMAX": _softmax,
    "SQUEEZE": _reshape,
}
SUPPORTED_OPERATORS: tuple[str, ...] = tuple(sorted(_LOWERINGS))


def _lower_op(graph: Graph, op: Operator, prefix: str) -> Layer:
    ctx = _Ctx(graph, op, prefix)
    lowering = _LOWERINGS.get(op.opcode)
    if lowering is None:
        raise UnsupportedOperatorError(
            f"{ctx.where()}: operator {op.opcode} is not supported by the C engine generator; "
            f"supported operators: {', '.join(SUPPORTED_OPERATORS)}")
    if len(op.outputs) != 1:
        raise ctx.refuse(f"{len(op.outputs)} outputs")
    try:
        return lowering(ctx)
    except quant.QuantizationRangeError as exc:
        raise ModelError(f"{ctx.where()}: {exc}") from None


def _check_dataflow(graph: Graph, layers: tuple[Layer, ...]) -> None:
    """Every layer reads the model input or an earlier layer's output; each tensor is written once;
    the model output is written by a layer."""
    written = {graph.inputs[0]}
    for layer in layers:
        for t in layer.inputs:
            if t not in written:
                raise ModelError(f"{graph.source}: layer {layer.index} ({layer.opcode}) reads tensor {t} "
                                 f"('{graph.tensor(t).name}'), which no earlier layer writes")
        if layer.output in written:
            raise ModelError(f"{graph.source}: layer {layer.index} ({layer.opcode}) writes tensor {layer.output} "
                             f"('{graph.tensor(layer.output).name}'), which is already written")
        written.add(layer.output)
    if graph.outputs[0] not in {layer.output for layer in layers}:
        raise ModelError(f"{graph.source}: no layer writes the model output tensor {graph.outputs[0]} "
                         f"('{graph.tensor(graph.outputs[0]).name}')")


def lower(graph: Graph, prefix: str) -> LoweredModel:
    """Lower every operator of ``graph``; raise UnsupportedOperatorError on the first refusal."""
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOperatorError(f"{graph.source}: {len(graph.inputs)} inputs and {len(graph.outputs)} "
                                       "outputs (the C engine supports one input and one output)")
    for role, index in (("input", graph.inputs[0]), ("output", graph.outputs[0])):
        if graph.tensor(index).dtype != np.int8:
            raise UnsupportedOperatorError(f"{graph.source}: model {role} is {graph.tensor(index).dtype}, "
                                           "not int8 (quantize with int8 input and output)")
    layers = tuple(_lower_op(graph, op, prefix) for op in graph.operators)
    _check_dataflow(graph, layers)
    used = {t for layer in layers for t in layer.inputs} | {layer.output for layer in layers}
    tensors = {i: graph.tensor(i) for i in sorted(used)}
    return LoweredModel(layers, tensors, graph.inputs[0], graph.outputs[0], graph.source)
