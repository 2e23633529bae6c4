"""One interface over LiteRT, TFLite Micro and compiled C engines.

An engine takes a batch of model inputs (already quantized for int8 models)
and returns the batch of raw model outputs. TensorFlow is not imported here.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tinykws.errors import ModelError
from tinykws.codegen.graph import read_model_bytes  # noqa: F401 (part of this module's interface)


class Engine(Protocol):
    name: str

    def run(self, inputs: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int


def _litert_interpreter_class():
    """LiteRT first, then tflite_runtime, then tf.lite."""
    try:
        from ai_edge_litert import interpreter as mod

        return mod.Interpreter, getattr(mod, "OpResolverType", None)
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter as mod  # type: ignore[import-not-found]

        return mod.Interpreter, getattr(mod, "OpResolverType", None)
    except ImportError:
        pass
    try:
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    except ImportError:
        raise ModelError("no TFLite interpreter: install ai-edge-litert (or tflite-runtime or tensorflow)") from None


def _tensor_info(detail: dict) -> TensorInfo:
    scale, zp = detail.get("quantization", (0.0, 0))
    return TensorInfo(tuple(int(v) for v in detail["shape"]), np.dtype(detail["dtype"]), float(scale), int(zp))


class LiteRTEngine:
    """A .tflite model on LiteRT. ``reference=True`` uses the reference kernels
    (BUILTIN_REF: no XNNPACK, no optimized kernels); otherwise the default
    resolver with XNNPACK."""

    def __init__(self, model: bytes, name: str = "litert", reference: bool = True, threads: int = 1,
                 source: str = "<model>"):
        interpreter_cls, resolver = _litert_interpreter_class()
        kwargs: dict = {"model_content": model, "num_threads": threads}
        if resolver is not None:
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF if reference else resolver.AUTO
        try:
            self._it = interpreter_cls(**kwargs)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{source}: LiteRT cannot load the model: {exc}") from None
        self.name = name
        self.input = _tensor_info(self._it.get_input_details()[0])
        self.output = _tensor_info(self._it.get_output_details()[0])

    def run(self, inputs: np.ndarray) -> np.ndarray:
        i_idx = self._it.get_input_details()[0]["index"]
        o_idx = self._it.get_output_details()[0]["index"]
        out = []
        for x in inputs:
            self._it.set_tensor(i_idx, np.asarray(x, self.input.dtype).reshape(self.input.shape))
            self._it.invoke()
            out.append(self._it.get_tensor(o_idx).reshape(-1).copy())
        return np.stack(out)


def _libc_fflush() -> None:
    import ctypes

    ctypes.CDLL(None).fflush(None)


class _CapturedFd:
    """Capture what C code writes to stdout and stderr (fds 1, 2) while the block runs."""

    def __enter__(self) -> "_CapturedFd":
        sys.stdout.flush()
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(self._tmp.fileno(), 1)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        _libc_fflush()
        for fd, saved in ((1, self._saved[0]), (2, self._saved[1])):
            os.dup2(saved, fd)
            os.close(saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()


class TFLMEngine:
    """A .tflite model on the TFLite Micro Python runtime (reference kernels)."""

    def __init__(self, model: bytes, name: str = "tflm", source: str = "<model>", arena_size: int | None = None):
        from tflite_micro.python.tflite_micro import runtime

        try:
            with _CapturedFd():
                self._it = runtime.Interpreter.from_bytes(bytes(model), arena_size=arena_size)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{source}: TFLite Micro cannot load the model: {exc}") from None
        self.name = name
        d = self._it.get_input_details(0)
        q = d["quantization_parameters"]
        self.input = TensorInfo(tuple(int(v) for v in d["shape"]), np.dtype(d["dtype"]),
                                float(q["scales"][0]) if len(q["scales"]) else 0.0,
                                int(q["zero_points"][0]) if len(q["zero_points"]) else 0)
        self.output_shape = tuple(int(v) for v in self._it.get_output_details(0)["shape"])

    def run(self, inputs: np.ndarray) -> np.ndarray:
        out = []
        for x in inputs:
            self._it.set_input(np.asarray(x, self.input.dtype).reshape(self.input.shape), 0)
            self._it.invoke()
            out.append(np.asarray(self._it.get_output(0)).reshape(-1).copy())
        return np.stack(out)

    def arena_used_bytes(self) -> int:
        """Bytes of the tensor arena TFLite Micro actually used (after one invoke)."""
        with _CapturedFd() as cap:
            self._it.print_allocations()
        match = re.search(r"Arena allocation total (\d+) bytes", cap.text)
        if not match:
            raise ModelError("TFLite Micro did not report its arena allocation")
        return int(match.group(1))


def tflm_arena_bytes(model: bytes) -> int:
    engine = TFLMEngine(model)
    engine.run(np.zeros((1,) + engine.input.shape[1:], engine.input.dtype))
    return engine.arena_used_bytes()

