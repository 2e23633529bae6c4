"""A .tflite model's operators (with versions) and tensor types: a summary of tflite_graph.Graph."""

from __future__ import annotations

from dataclasses import dataclass

from tinykws.codegen.graph import parse_graph


@dataclass(frozen=True)
class TensorSummary:
    name: str
    type: str  # "INT8", "INT32", "FLOAT32", ...
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelInfo:
    ops: tuple[tuple[str, int], ...]  # (operator name, version), distinct, in order of first use
    op_sequence: tuple[str, ...]  # operator of every node, in execution order
    tensors: tuple[TensorSummary, ...]


def read_model_info(data: bytes, source: str) -> ModelInfo:
    """Raises ModelError naming ``source`` for a corrupt or truncated file."""
    graph = parse_graph(data, source)
    ops = tuple(dict.fromkeys((op.opcode, op.version) for op in graph.operators))
    tensors = tuple(TensorSummary(t.name, t.dtype.name.upper(), t.shape) for t in graph.tensors)
    return ModelInfo(ops, tuple(op.opcode for op in graph.operators), tensors)
