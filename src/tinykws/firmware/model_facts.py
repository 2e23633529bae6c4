"""What a bundle needs to know about a run's int8 model, read once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tinykws.errors import InputError, ModelError
from tinykws.run import Run, require
from tinykws.verify.engines import read_model_bytes
from tinykws.templates import unique_macro_names
from tinykws.export.tflite_info import read_model_info

#: TFLite operator -> MicroMutableOpResolver method.
RESOLVER_METHODS: dict[str, str] = {
    "ADD": "AddAdd", "AVERAGE_POOL_2D": "AddAveragePool2D", "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "DEQUANTIZE": "AddDequantize",
    "FULLY_CONNECTED": "AddFullyConnected", "HARD_SWISH": "AddHardSwish", "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean", "MUL": "AddMul", "PAD": "AddPad",
    "QUANTIZE": "AddQuantize", "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape",
    "SOFTMAX": "AddSoftmax", "SQUEEZE": "AddSqueeze", "STRIDED_SLICE": "AddStridedSlice",
}


@dataclass(frozen=True)
class ModelFacts:
    data: bytes
    input_size: int
    output_size: int
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    ops: tuple[str, ...]  # distinct operators, in the order of the model's opcode table
    stream_hop_frames: int = 0  # frames the window slides between two inferences of --stream (0: none)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def resolver_methods(self) -> tuple[str, ...]:
        return tuple(RESOLVER_METHODS[op] for op in self.ops)


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def read_model_facts(run: Run) -> ModelFacts:
    """The int8 model's sizes, quantization and operators; InputError when the run has none."""
    from tinykws.verify.engines import LiteRTEngine

    data = read_model_bytes(require(run.int8_tflite, "int8.tflite (run `tinykws export` first)"))
    engine = LiteRTEngine(data, source=str(run.int8_tflite))
    if engine.input.dtype.name != "int8" or engine.output.dtype.name != "int8":
        raise ModelError(f"{run.int8_tflite}: input and output must be int8, got "
                         f"{engine.input.dtype.name} and {engine.output.dtype.name}")
    info = read_model_info(data, str(run.int8_tflite))
    return ModelFacts(data, _size(engine.input.shape), _size(engine.output.shape), engine.input.scale,
                      engine.input.zero_point, engine.output.scale, engine.output.zero_point,
                      tuple(dict.fromkeys(name for name, _ in info.ops)), run.config.stream.infer_every_hops)


def check_fits_run(facts: ModelFacts, run: Run) -> None:
    """The model's input is the front end's frames, its outputs are the run's labels."""
    f = run.config.features
    if facts.input_size != f.n_frames * f.n_mfcc:
        raise InputError(f"{run.int8_tflite}: model input has {facts.input_size} values but the features are "
                         f"{f.n_frames} x {f.n_mfcc}")
    if facts.output_size != len(run.config.labels):
        raise InputError(f"{run.int8_tflite}: model has {facts.output_size} outputs but the run has "
                         f"{len(run.config.labels)} labels")


def check_tflm_ops(facts: ModelFacts, source: str) -> None:
    unknown = [op for op in facts.ops if op not in RESOLVER_METHODS]
    if unknown:
        raise InputError(f"{source}: no MicroMutableOpResolver method known for {', '.join(unknown)}")


def label_macros(labels: tuple[str, ...]) -> list[str]:
    return unique_macro_names(labels)
