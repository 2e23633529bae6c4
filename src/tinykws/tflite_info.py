"""Read a .tflite flatbuffer's operators (with versions) and tensor types, without TensorFlow."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tinykws.errors import ModelError


@dataclass(frozen=True)
class TensorSummary:
    name: str
    type: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelInfo:
    ops: tuple[tuple[str, int], ...]  # (operator name, version) per distinct opcode
    op_sequence: tuple[str, ...]  # operator of every node, in execution order
    tensors: tuple[TensorSummary, ...]


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def read_model_info(data: bytes, source: str) -> ModelInfo:
    import tflite

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{source}: not a .tflite flatbuffer (missing 'TFL3' identifier)")
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        op_names = _enum_names(tflite.BuiltinOperator)
        type_names = _enum_names(tflite.TensorType)
        codes = []
        for i in range(model.OperatorCodesLength()):
            oc = model.OperatorCodes(i)
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            codes.append((op_names.get(code, f"BUILTIN_{code}"), oc.Version()))
        graph = model.Subgraphs(0)
        seq = tuple(codes[graph.Operators(i).OpcodeIndex()][0] for i in range(graph.OperatorsLength()))
        tensors = tuple(
            TensorSummary(graph.Tensors(i).Name().decode("utf-8", "replace"),
                          type_names.get(graph.Tensors(i).Type(), str(graph.Tensors(i).Type())),
                          tuple(int(v) for v in graph.Tensors(i).ShapeAsNumpy()) if graph.Tensors(i).ShapeLength() else ())
            for i in range(graph.TensorsLength())
        )
    except (IndexError, ValueError, TypeError, AttributeError, UnicodeDecodeError, struct.error) as exc:
        raise ModelError(f"{source}: corrupt or truncated .tflite ({type(exc).__name__}: {exc})") from None
    return ModelInfo(tuple(codes), seq, tensors)
