"""A .tflite file read into a small plain graph: tensors, operators, options.

Reads the flatbuffer with the `tflite` schema package only (no TensorFlow,
no interpreter). The graph is what the C engine generator and the profiler
work from: every tensor with its shape, type, quantization and constant data,
every operator with its builtin name, inputs, outputs and options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinykws.errors import ModelError

_DTYPES: dict[int, np.dtype] = {
    0: np.dtype(np.float32),
    1: np.dtype(np.float16),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint8),
    4: np.dtype(np.int64),
    6: np.dtype(np.bool_),
    7: np.dtype(np.int16),
    9: np.dtype(np.int8),
    10: np.dtype(np.float64),
}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def scale(self) -> float:
        """The (first) scale as a float32 value widened to Python float."""
        return float(self.scales[0]) if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points else 0


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str
    inputs: tuple[int, ...]  # -1 marks an absent optional input (e.g. no bias)
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    version: int = 1

    def input(self, position: int) -> int | None:
        """The tensor index of input ``position``, or None when absent."""
        if position >= len(self.inputs) or self.inputs[position] < 0:
            return None
        return self.inputs[position]


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    source: str = "<model>"

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def consumers(self, tensor_index: int) -> list[int]:
        return [op.index for op in self.operators if tensor_index in op.inputs]


# --- flatbuffer helpers -------------------------------------------------------

def _opcode_name(code) -> tuple[str, int]:
    import tflite

    builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
    if builtin == 32:  # CUSTOM
        return "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace"), int(code.Version())
    try:
        return tflite.opcode2name(builtin), int(code.Version())
    except ValueError:
        return f"UNKNOWN_{builtin}", int(code.Version())


def _buffer_data(model, data: bytes, index: int) -> bytes | None:
    if index < 0 or index >= max(model.BuffersLength(), 1):
        raise ModelError(f"buffer index {index} out of range (the file has {model.BuffersLength()} buffers)")
    if index == 0:
        return None
    buf = model.Buffers(index)
    offset = int(buf.Offset()) if hasattr(buf, "Offset") else 0
    if offset > 1:
        size = int(buf.Size())
        if offset + size > len(data):
            raise ModelError(f"buffer {index} points outside the file")
        return data[offset:offset + size]
    if buf.DataLength() == 0:
        return None
    return buf.DataAsNumpy().tobytes()


MAX_TENSOR_BYTES = 1 << 30  # no tensor of a microcontroller model comes near this


def _tensor_label(index: int, name: str) -> str:
    return f"tensor {index} ('{name}')"


def _check_shape(label: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if any(d < 0 for d in shape):
        raise ModelError(f"{label} has a negative dimension in its shape {list(shape)}")
    if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > MAX_TENSOR_BYTES:
        raise ModelError(f"{label} with shape {list(shape)} is larger than {MAX_TENSOR_BYTES:,} bytes")


def _check_quantization(label: str, dtype: np.dtype, shape: tuple[int, ...], scales: tuple[float, ...],
                        zps: tuple[int, ...], qdim: int) -> None:
    """Every scale finite and positive, zero points in the type's range, one per channel."""
    bad = [s for s in scales if not (np.isfinite(s) and s > 0.0)]
    if bad:
        raise ModelError(f"{label} has quantization scale {bad[0]!r} (scales must be finite and positive)")
    if len(zps) != len(scales):
        raise ModelError(f"{label} has {len(scales)} scales but {len(zps)} zero points")
    lo, hi = (np.iinfo(dtype).min, np.iinfo(dtype).max) if dtype.kind in "iu" else (-2 ** 31, 2 ** 31 - 1)
    out = [z for z in zps if not lo <= z <= hi]
    if out:
        raise ModelError(f"{label} has zero point {out[0]} outside the {dtype} range [{lo}, {hi}]")
    if len(scales) > 1 and not (0 <= qdim < len(shape) and shape[qdim] == len(scales)):
        raise ModelError(f"{label} has {len(scales)} per-channel scales along dimension {qdim} "
                         f"of shape {list(shape)}")


def _read_tensor(model, data: bytes, t, index: int) -> Tensor:
    name = (t.Name() or b"").decode("utf-8", "replace")
    label = _tensor_label(index, name)
    type_code = int(t.Type())
    if type_code not in _DTYPES:
        raise ModelError(f"{label} has unsupported type code {type_code}")
    dtype = _DTYPES[type_code]
    shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    _check_shape(label, shape, dtype)
    scales: tuple[float, ...] = ()
    zps: tuple[int, ...] = ()
    qdim = 0
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        scales = tuple(float(v) for v in q.ScaleAsNumpy().astype(np.float32))
        zps = tuple(int(v) for v in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scales)
        qdim = int(q.QuantizedDimension())
        _check_quantization(label, dtype, shape, scales, zps, qdim)
    try:
        raw = _buffer_data(model, data, int(t.Buffer()))
    except ModelError as exc:
        raise ModelError(f"{label}: {exc}") from None
    array = None
    if raw is not None:
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if len(raw) != count * dtype.itemsize:
            raise ModelError(f"{label} has {len(raw)} data bytes, expected {count * dtype.itemsize}")
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return Tensor(index, name, shape, dtype, scales, zps, qdim, array)


def _options_class(op) -> Any | None:
    import tflite

    opt_type = int(op.BuiltinOptionsType())
    if opt_type == 0:
        return None
    names = {v: k for k, v in vars(tflite.BuiltinOptions).items() if isinstance(v, int)}
    cls = getattr(tflite, names.get(opt_type, ""), None)
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return None
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    return obj


def _options_dict(obj: Any | None) -> dict[str, Any]:
    """Every scalar getter of a flatbuffer options table, by its CamelCase name."""
    if obj is None:
        return {}
    out: dict[str, Any] = {}
    for name in dir(obj):
        if name.startswith("_") or name in ("Init",) or name.startswith("GetRoot"):
            continue
        if name.endswith(("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")):
            continue
        attr = getattr(obj, name)
        if not callable(attr):
            continue
        try:
            value = attr()
        except TypeError:
            continue
        if isinstance(value, (int, float, bool, np.integer, np.floating)):
            out[name] = value.item() if hasattr(value, "item") else value
    return out


def _read_operator(model, codes: list[tuple[str, int]], op, index: int) -> Operator:
    opcode_index = int(op.OpcodeIndex())
    if opcode_index >= len(codes):
        raise ModelError(f"operator {index} has opcode index {opcode_index} out of range")
    name, version = codes[opcode_index]
    inputs = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
    outputs = tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()
    options = _options_dict(_options_class(op))
    _check_options(f"operator {index} ({name})", options)
    return Operator(index, name, inputs, outputs, options, version)


# option -> allowed values (a predicate and what it means), checked for every operator that has it
_OPTION_RULES: dict[str, tuple[Any, str]] = {
    **{k: (lambda v: v >= 1, "at least 1") for k in (
        "StrideH", "StrideW", "DilationHFactor", "DilationWFactor", "FilterHeight", "FilterWidth")},
    "Padding": (lambda v: v in (0, 1), "0 (SAME) or 1 (VALID)"),
    "FusedActivationFunction": (lambda v: 0 <= v <= 5, "an ActivationFunctionType code 0-5"),
    "DepthMultiplier": (lambda v: v >= 0, "at least 0"),
    "Beta": (lambda v: np.isfinite(v) and v > 0, "finite and positive"),
}


def _check_options(label: str, options: dict[str, Any]) -> None:
    for key, (ok, meaning) in _OPTION_RULES.items():
        if key in options and not ok(options[key]):
            raise ModelError(f"{label} has option {key} = {options[key]!r} (must be {meaning})")


def _parse(data: bytes, source: str) -> Graph:
    import tflite

    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError("the model has no subgraph")
    sub = model.Subgraphs(0)
    codes = [_opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    tensors = tuple(_read_tensor(model, data, sub.Tensors(i), i) for i in range(sub.TensorsLength()))
    ops = tuple(_read_operator(model, codes, sub.Operators(i), i) for i in range(sub.OperatorsLength()))
    for op in ops:
        for t in op.inputs + op.outputs:
            if t >= len(tensors) or t < -1 or (t == -1 and t in op.outputs):
                raise ModelError(f"operator {op.index} ({op.opcode}) refers to tensor {t}, "
                                 f"but there are only {len(tensors)}")
    inputs = tuple(int(v) for v in sub.InputsAsNumpy()) if sub.InputsLength() else ()
    outputs = tuple(int(v) for v in sub.OutputsAsNumpy()) if sub.OutputsLength() else ()
    for role, t in [("input", t) for t in inputs] + [("output", t) for t in outputs]:
        if not 0 <= t < len(tensors):
            raise ModelError(f"model {role} tensor {t} out of range (the model has {len(tensors)} tensors)")
    return Graph(tensors, ops, inputs, outputs, source)


def parse_graph(data: bytes, source: str = "<model>") -> Graph:
    """Parse .tflite bytes into a Graph; a corrupt file raises ModelError naming ``source``."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{source}: not a .tflite flatbuffer (missing 'TFL3' identifier; corrupt or wrong file)")
    try:
        return _parse(bytes(data), source)
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from None
    except Exception:  # a truncated flatbuffer fails anywhere inside the generated reader
        raise ModelError(f"{source}: corrupt or truncated .tflite file (a table or vector of the flatbuffer "
                         "points outside the file or holds an invalid value)") from None


def read_model_bytes(path: Path) -> bytes:
    """The bytes of a .tflite file, checked for the flatbuffer identifier (errors name the file)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory, not a .tflite file") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a .tflite flatbuffer (missing 'TFL3' identifier; corrupt or wrong file)")
    return data


def read_graph(path: Path) -> Graph:
    """Read a .tflite file into a Graph (errors name the file)."""
    return parse_graph(read_model_bytes(path), str(path))
