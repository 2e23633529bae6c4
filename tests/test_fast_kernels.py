"""The optimized kernels (tkw_conv_dsp.c: Cortex-M DSP extension, and Helium
for 1x1 convolutions on the Cortex-M55) against TFLite Micro, run where they run: the generated engine is cross-compiled for
a Cortex-M4 (and M55) with a small driver that reads int8 inputs through
semihosting and writes the outputs back (tinykws.codegen.device); QEMU runs it
under -icount shift=0, so instruction counts are exact and may be asserted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import codegen_models as cm
from test_codegen import varied_inputs
from tinykws.codegen import generate_engine
from tinykws.codegen.device import DEVICE_OPTIMIZE, build_device_program, run_device_program
from tinykws.codegen.dsp import requant_is_fast as _requant_is_fast
from tinykws.codegen.bitexact import compare_outputs
from tinykws.toolchain import toolchain_available
from tinykws.verify.engines import TFLMEngine

pytestmark = pytest.mark.qemu

#: The goal of the optimized kernels: DS-CNN-S under 4 M instructions on a Cortex-M4.
DS_CNN_S_BUDGET = 4_000_000


def _platform(name: str):
    available, why_not = toolchain_available(name)
    return pytest.param(name, marks=pytest.mark.skipif(not available, reason=why_not), id=name)


M4 = _platform("cortex-m4")
M55 = _platform("cortex-m55")


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {
        "ds-cnn-like": cm.to_int8_tflite(cm.ds_cnn_like(filters=16, blocks=2), (49, 10, 1)),
        "ds-cnn-strided": cm.to_int8_tflite(
            cm.ds_cnn_like(filters=12, blocks=2, first_stride=(2, 1), block_strides=[(2, 2), (1, 1)], head=False),
            (49, 10, 1)),
        "odd-channels": cm.to_int8_tflite(cm.ds_cnn_like(filters=7, blocks=1, input_shape=(13, 9, 3)), (13, 9, 3)),
        "kitchen-sink": cm.to_int8_tflite(cm.kitchen_sink(), (24, 12, 3)),
        "kitchen-sink-softmax": cm.to_int8_tflite(cm.kitchen_sink(seed=3, softmax=True), (24, 12, 3)),
        "residual": cm.to_int8_tflite(cm.residual(), (10, 8, 4)),
        "strided-chain": cm.to_int8_tflite(cm.strided_chain(), (23, 9, 3)),
    }


@pytest.fixture(scope="module")
def ds_cnn_s() -> bytes:
    return _preset("ds-cnn-s")


def _preset(name: str) -> bytes:
    from test_codegen import _ds_cnn_preset

    return _ds_cnn_preset(name)


def _device_check(model: bytes, work: Path, n: int, platform: str = "cortex-m4", kernels: str = "optimized",
                  seed: int = 1, optimize: str = DEVICE_OPTIMIZE):
    engine = generate_engine(model)
    x = varied_inputs(n, engine.model.tensors[engine.model.input].size, seed=seed)
    reference = TFLMEngine(model).run(x)
    elf = build_device_program(engine, work, platform=platform, kernels=kernels, optimize=optimize)
    run = run_device_program(elf, engine, x, platform=platform)
    report = compare_outputs(run.outputs, reference)
    assert report.ok, report
    return engine, run


def _fast_layers(engine) -> list[str]:
    return [layer.opcode for layer in engine.model.layers if dict(layer.fields).get("fast_requant") == "1"]


@pytest.mark.parametrize("platform", [M4])
@pytest.mark.parametrize("name", ["ds-cnn-like", "ds-cnn-strided", "odd-channels", "kitchen-sink",
                                  "kitchen-sink-softmax", "residual", "strided-chain"])
def test_optimized_kernels_bit_exact_on_device(models, tmp_path, name, platform):
    """Every layer shape the models have (strides, dilation, SAME/VALID, odd channel
    counts, im2col tails, depth multiplier, RELU6) gives TFLite Micro's bytes."""
    engine, _ = _device_check(models[name], tmp_path, 200, platform)
    assert _fast_layers(engine), "no layer took the optimized path: the test proves nothing"


@pytest.mark.parametrize("platform", [M4, M55])
@pytest.mark.parametrize("optimize", ["-O0", "-Os", "-O3"])
def test_other_optimization_levels_bit_exact(models, tmp_path, platform, optimize):
    """Unoptimized builds use C forms of the assembler loops (r7 is the frame
    pointer there); -Os is what firmware is often built with; -O3 inlines more
    (the assembler loops must still find their registers)."""
    model = models["ds-cnn-like"] if optimize == "-O3" else models["kitchen-sink-softmax"]
    engine = generate_engine(model)
    x = varied_inputs(60, engine.model.tensors[engine.model.input].size, seed=8)
    elf = build_device_program(engine, tmp_path, platform=platform, optimize=optimize)
    report = compare_outputs(run_device_program(elf, engine, x, platform=platform).outputs, TFLMEngine(model).run(x))
    assert report.ok, report


@pytest.mark.parametrize("platform", [M4])
def test_ds_cnn_s_on_cortex_m4_bit_exact_and_under_budget(ds_cnn_s, tmp_path, platform, record_property):
    engine, optimized = _device_check(ds_cnn_s, tmp_path / "opt", 300, platform)
    assert sorted(set(_fast_layers(engine))) == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    _, portable = _device_check(ds_cnn_s, tmp_path / "portable", 2, platform, kernels="portable")
    # -icount: counts are exact; inferences differ only by the counter's 40-instruction
    # tick and the few data-dependent branches (softmax), so the slowest one is the budget
    assert optimized.instructions_max - optimized.instructions_min <= 400
    assert optimized.instructions_max < DS_CNN_S_BUDGET
    assert optimized.instructions_per_inference * 5 < portable.instructions_per_inference
    record_property("instructions_optimized", optimized.instructions_per_inference)
    record_property("instructions_portable", portable.instructions_per_inference)


@pytest.mark.parametrize("platform", [M55])
def test_ds_cnn_s_on_cortex_m55_bit_exact(ds_cnn_s, tmp_path, platform, record_property):
    """The M55 runs the DSP kernels and the Helium (MVE) pointwise kernel."""
    _, run = _device_check(ds_cnn_s, tmp_path, 100, platform)
    assert run.instructions_max < DS_CNN_S_BUDGET
    record_property("instructions_m55", run.instructions_per_inference)


@pytest.mark.slow
@pytest.mark.parametrize("platform", [M4])
@pytest.mark.parametrize("name", ["ds-cnn-s", "ds-cnn-m", "ds-cnn-l"])
def test_presets_bit_exact_on_device_many_inputs(tmp_path, name, platform):
    _device_check(_preset(name), tmp_path, 1000 if name == "ds-cnn-s" else 300, platform, seed=11)


def test_fast_requantization_is_only_claimed_when_exact():
    """SMMULR is TFLite's rounding only for right shifts and |accumulator| < 2^30."""
    w = np.full((2, 9), 100, np.int64)
    bias = np.array([1000, -1000], np.int64)
    shifts = np.array([-5, -7], np.int64)
    assert _requant_is_fast(w, bias, 0, shifts, -128)
    assert not _requant_is_fast(w, bias, 0, np.array([-5, 0]), -128)          # not a right shift
    assert not _requant_is_fast(w * 10_000, bias, 0, shifts, -128)            # accumulator may pass 2^30
    assert not _requant_is_fast(w, bias, 0, np.array([-5, -24]), -128)        # offset * 2^24 overflows


def test_work_buffer_size_is_generated_and_checked_by_the_kernels(models, tmp_path):
    """The work buffer's size is generated into each fast layer (work_words, from the memory plan) and
    the kernels check their need against it: with one word too few they decline the layer (outputs
    change, nothing is written past the buffer) instead of trusting the generator."""
    model = models["ds-cnn-like"]
    engine = generate_engine(model)
    fast = [layer for layer in engine.model.layers if dict(layer.fields).get("fast_requant") == "1"]
    assert fast
    source = engine.files[f"{engine.prefix}.c"]
    for layer in fast:
        work = engine.plan.work_of_step(engine.schedule.step_of(layer.index))
        assert f".work_words = {work.size // 4}" in source and work.size >= layer.work_bytes > 0
    x = varied_inputs(20, engine.model.tensors[engine.model.input].size, seed=5)
    reference = TFLMEngine(model).run(x)
    platform = "cortex-m4"
    if not toolchain_available(platform)[0]:
        pytest.skip(toolchain_available(platform)[1])
    needed = max(layer.work_bytes for layer in fast) // 4
    size = engine.plan.work_of_step(engine.schedule.step_of(fast[0].index)).size // 4
    short = source.replace(f".work_words = {size}", f".work_words = {needed - 1}")
    assert short != source
    broken = dataclasses.replace(engine, files={**engine.files, f"{engine.prefix}.c": short})
    run = run_device_program(build_device_program(broken, tmp_path, platform=platform), broken, x, platform=platform)
    assert not compare_outputs(run.outputs, reference).ok
