"""Full-integer int8 post-training quantization and its checks.

int8 weights (per channel) and activations, int32 biases, int8 input and
output, TFLITE_BUILTINS_INT8 only. The representative data set is drawn from
the training split, stratified over every label (silence and unknown too),
with the normalisation the model was trained on.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass
import numpy as np

from tinykws.config import RunConfig
from tinykws.data.loading import load_clips
from tinykws.data.speech_commands import TRAIN, Dataset
from tinykws.errors import ModelError, TinyKWSError
from tinykws.audio.mfcc import model_input

INT8_TENSOR_TYPES = ("INT8", "INT32")


@dataclass(frozen=True)
class QuantizedModel:
    float_tflite: bytes
    int8_tflite: bytes
    representative_clips: int


def stratified_train_clips(dataset: Dataset, n: int, seed: int):
    """Up to ``n`` training clips, the same number from every label (round robin)."""
    rng = np.random.default_rng(seed)
    by_label = {label: [c for c in dataset.split(TRAIN) if c.label == label] for label in dataset.labels}
    for clips in by_label.values():
        rng.shuffle(clips)
    chosen = []
    depth = 0
    while len(chosen) < n and any(depth < len(v) for v in by_label.values()):
        for label in dataset.labels:
            if depth < len(by_label[label]) and len(chosen) < n:
                chosen.append(by_label[label][depth])
        depth += 1
    return chosen


def representative_features(dataset: Dataset, cfg: RunConfig) -> np.ndarray:
    clips = stratified_train_clips(dataset, cfg.quant.representative_clips, cfg.train.seed)
    loaded = load_clips(clips, cfg.features)
    return model_input(loaded.audio, cfg.features, cfg.normalisation)


def _tensorflow():
    try:
        import tensorflow as tf
    except ImportError:
        raise TinyKWSError("TensorFlow is needed to convert a model: pip install 'tensorflow~=2.21'") from None
    if not hasattr(tf, "lite") or not hasattr(tf.lite, "TFLiteConverter"):
        raise TinyKWSError(f"this TensorFlow ({tf.__version__}) has no tf.lite.TFLiteConverter")
    return tf


def _converter(model, saved_dir: str):
    """Keras 3 models go through a SavedModel export, the path that works in TF 2.21."""
    tf = _tensorflow()
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(saved_dir, format="tf_saved_model", verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(saved_dir), tf


def convert_float(model) -> bytes:
    with tempfile.TemporaryDirectory(prefix="tinykws-savedmodel-") as saved:
        converter, _ = _converter(model, saved)
        return bytes(converter.convert())


def convert_int8(model, representative: np.ndarray) -> bytes:
    with tempfile.TemporaryDirectory(prefix="tinykws-savedmodel-") as saved:
        converter, tf = _converter(model, saved)
        return _convert_int8(converter, tf, representative)


def _convert_int8(converter, tf, representative: np.ndarray) -> bytes:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def samples():
        for x in representative:
            yield [x[None, ...]]

    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def quantize(model, dataset: Dataset, cfg: RunConfig) -> QuantizedModel:
    rep = representative_features(dataset, cfg)
    if len(rep) == 0:
        raise ModelError("no representative clips: the training split is empty")
    int8 = convert_int8(model, rep)
    verify_int8(int8, "int8.tflite")
    return QuantizedModel(convert_float(model), int8, len(rep))


def verify_int8(model: bytes, source: str) -> None:
    """Refuse anything TFLite Micro's int8 kernels cannot run, and prove it loads."""
    from tinykws.verify.engines import LiteRTEngine, TFLMEngine
    from tinykws.export.tflite_info import read_model_info

    info = read_model_info(model, source)
    bad = [t for t in info.tensors if t.type not in INT8_TENSOR_TYPES]
    if bad:
        names = ", ".join(f"{t.name} ({t.type})" for t in bad[:5])
        kind = "a float model" if all(t.type == "FLOAT32" for t in bad) and len(bad) == len(info.tensors) else \
            "not fully int8 (a hybrid or float model)"
        raise ModelError(f"{source}: {kind}: TFLite Micro's int8 path cannot run it; non-int8 tensors: {names}")
    LiteRTEngine(model, source=source)
    TFLMEngine(model, source=source)
