"""The Helium (MVE) convolution kernels of the Cortex-M55 (tkw_conv_mve.c: 1x1
convolutions on the input in place, every other CONV_2D on the im2col windows
tkw_conv_dsp.c stages) against TFLite Micro, in QEMU: every layer shape of
the test models at the device build's optimization and at -O0 (C intrinsics),
-Os and -O3 (the assembler channel loop), and the shipped model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import codegen_models as cm
from test_fast_kernels import M55, _device_check, _fast_layers
from tinykws.codegen import generate_engine

pytestmark = pytest.mark.qemu

SHIPPED = Path(__file__).resolve().parents[1] / "models" / "ds-cnn-s-kws12" / "int8.tflite"

#: Models whose layers reach every branch of the Helium convolution: 1x1 layers with stride 1 (in
#: place) and 2 (im2col), one-word-span and general im2col first layers, filter rows that are not a
#: multiple of 16 bytes (the tail-predicated vector), short last blocks of a row.
MODELS = {
    "ds-cnn-like": lambda: cm.ds_cnn_like(filters=16, blocks=2),
    "ds-cnn-strided": lambda: cm.ds_cnn_like(filters=12, blocks=2, first_stride=(2, 1),
                                             block_strides=[(2, 2), (1, 1)], head=False),
    "ds-cnn-wide": lambda: cm.ds_cnn_like(filters=36, blocks=1, input_shape=(21, 40, 1)),
    "odd-channels": lambda: cm.ds_cnn_like(filters=7, blocks=1, input_shape=(13, 9, 3)),
    "kitchen-sink": lambda: cm.kitchen_sink(),
    "strided-chain": lambda: cm.strided_chain(),
}
SHAPES = {"ds-cnn-wide": (21, 40, 1), "odd-channels": (13, 9, 3), "kitchen-sink": (24, 12, 3),
          "strided-chain": (23, 9, 3)}


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {name: cm.to_int8_tflite(make(), SHAPES.get(name, (49, 10, 1))) for name, make in MODELS.items()}


@pytest.mark.parametrize("platform", [M55])
@pytest.mark.parametrize("name", list(MODELS))
def test_helium_kernels_bit_exact_on_m55(models, tmp_path, name, platform):
    engine, _ = _device_check(models[name], tmp_path, 150, platform)
    assert _fast_layers(engine), "no layer took the optimized path: the test proves nothing"


@pytest.mark.parametrize("platform", [M55])
@pytest.mark.parametrize("optimize", ["-O0", "-Os", "-O3"])
@pytest.mark.parametrize("name", ["ds-cnn-strided", "kitchen-sink", "ds-cnn-wide"])
def test_helium_kernels_bit_exact_at_every_optimization_level(models, tmp_path, name, optimize, platform):
    """-O0 runs the C intrinsics forms, -Os and -O3 the assembler loops (with other register choices
    around them)."""
    _device_check(models[name], tmp_path, 60, platform, seed=9, optimize=optimize)


@pytest.mark.parametrize("platform", [M55])
def test_shipped_model_bit_exact_on_m55(tmp_path, platform, record_property):
    engine, run = _device_check(SHIPPED.read_bytes(), tmp_path, 100, platform, seed=3)
    assert sorted(set(_fast_layers(engine))) == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    record_property("instructions_m55", run.instructions_per_inference)


def test_models_cover_the_helium_branches(models):
    """The models above have what the Helium convolution branches on."""
    seen = set()
    for model in models.values():
        for layer in generate_engine(model).model.layers:
            f = {k: int(v) for k, v in layer.fields if v.lstrip("-").isdigit()}
            if layer.opcode != "CONV_2D" or f.get("fast_requant") != 1:
                continue
            k = f["filter_h"] * f["filter_w"] * f["in_c"]
            if f["filter_h"] == f["filter_w"] == 1:
                seen.add("1x1" if f["stride_w"] == 1 else "1x1-strided")
            else:
                seen.add("word-span" if f["filter_w"] * f["in_c"] == 4 else "im2col")
            seen.add("tail" if k % 16 else "whole-vectors")
            seen.add("short-block" if f["out_w"] % 5 else "whole-blocks")
    assert {"1x1", "1x1-strided", "word-span", "im2col", "tail", "whole-vectors", "short-block"} <= seen, seen
