"""The bench's TFLite Micro rows (tinykws.bench_tflm) without a TFLM tree: what it says without
one, how it reads a linker map, which kernel sources it builds, how it lays out its rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinykws.bench import Results
from tinykws.bench_tflm import SECTION, Measured, add_rows, kernel_sources, text_by_file, text_parts, tflm_section

MAP = """\
Discarded input sections

 .text.unused   0x00000000       0x40 build/model/tkw_conv.o

Linker script and memory map

.isr_vector     0x00000000       0xc0
 .isr_vector    0x00000000       0xc0 build/platform/startup.o

.text           0x000000c0      0x200
 *(.text .text.*)
 .text.main     0x000000c0       0x40 build/main.o
                0x000000c0                main
 .text._ZN6tflite16MicroInterpreter6InvokeEv
                0x00000100       0x80 /t/gen/lib/libtensorflow-microlite.a(micro_interpreter.o)
 *fill*         0x00000180        0x4
 .rodata.str1.1
                0x00000184       0x20 build/main.o
 .rodata.str1.1
                0x00000194       0x30 /t/gen/lib/libtensorflow-microlite.a(micro_log.o)
 .rodata.g_model
                0x000001c4       0xfc build/tflite/model_data.o

.ARM.exidx      0x000002c0        0x8
 .ARM.exidx     0x000002c0        0x8 build/main.o
.data           0x20000000       0x10 load address 0x000002c8
 .data          0x20000000       0x10 build/main.o
"""


def test_without_a_tflm_tree_the_bench_says_so(tmp_path: Path) -> None:
    results = Results()
    tflm_section(results, None, tmp_path)
    assert results.rows == []
    assert "no TFLM_DIR given" in results.facts["tflm_cortex_m"]
    assert "published figures" in results.facts["tflm_cortex_m"]


def test_text_of_a_linker_map_by_file() -> None:
    sizes = text_by_file(MAP)
    # .text only; the discarded section, the fill, .isr_vector, .ARM.exidx and .data do not count;
    # main.o's merged strings (0x20 before merging) end where micro_log.o's start, 0x10 on
    assert sizes == {"build/main.o": 0x40 + 0x10, "/t/gen/lib/libtensorflow-microlite.a(micro_interpreter.o)": 0x80,
                     "/t/gen/lib/libtensorflow-microlite.a(micro_log.o)": 0x30, "build/tflite/model_data.o": 0xfc}
    parts = text_parts(MAP, {"library": r"libtensorflow-microlite\.a", "model": r"tflite/model_data\.o"})
    assert parts == {"library": 0xb0, "model": 0xfc, "other": 0x50}
    assert sum(parts.values()) == 0x200 - 0x4  # the section less its fill


def fake_kernels(root: Path) -> Path:
    kernels = root / "tensorflow/lite/micro/kernels"
    (kernels / "cmsis_nn").mkdir(parents=True)
    (kernels / "conv.cc").write_text("TFLMRegistration Register_CONV_2D() {\n  return {};\n}\n")
    (kernels / "conv_common.cc").write_text("// helpers\n")
    (kernels / "conv_test.cc").write_text("TFLMRegistration Register_CONV_2D() {\n}\n")
    (kernels / "reduce.cc").write_text("TFLMRegistration Register_MEAN() { return {}; }\n"
                                       "TFLMRegistration Register_SUM() { return {}; }\n")
    (kernels / "reduce_common.cc").write_text("// helpers\n")
    (kernels / "kernel_util.cc").write_text("// helpers\n")
    (kernels / "cmsis_nn" / "conv.cc").write_text("TFLMRegistration Register_CONV_2D() {\n}\n")
    return root


def test_kernel_sources_of_the_models_operators(tmp_path: Path) -> None:
    root = fake_kernels(tmp_path)
    k = "tensorflow/lite/micro/kernels"
    assert kernel_sources(root, ("CONV_2D", "MEAN"), "reference") == [
        f"{k}/conv.cc", f"{k}/conv_common.cc", f"{k}/reduce.cc", f"{k}/reduce_common.cc", f"{k}/kernel_util.cc"]
    # TFLM's specialization: the optimized file of the same name replaces the reference one
    assert kernel_sources(root, ("CONV_2D", "MEAN"), "cmsis_nn")[:2] == [f"{k}/cmsis_nn/conv.cc", f"{k}/conv_common.cc"]
    with pytest.raises(FileNotFoundError, match="Register_SOFTMAX"):
        kernel_sources(root, ("SOFTMAX",), "reference")


def test_rows_put_tflm_beside_the_engine() -> None:
    outputs = bytes(range(24))
    engine = Measured({"instructions_per_inference": 1_000, "arena_bytes": 100, "self_test_pass": 1},
                      {"engine": 5_000, "other": 1}, outputs, {"build": "the cortex-m4 bundle"})
    tflm = Measured({"instructions_per_inference": 16_000, "tflm_arena_used_bytes": 400, "self_test_pass": 1},
                    {"library": 3_000, "model": 4_000, "other": 1}, outputs[:12] + bytes(12), {"tflm_build": "make x"})
    results = Results()
    add_rows(results, "m", engine, {"reference": tflm}, 2)
    rows = {r.figure: r for r in results.rows}
    assert all(r.section == SECTION for r in results.rows)
    assert rows["m tinykws engine (cortex-m4 bundle), instructions per inference"].ratio == 16.0
    assert rows["m tinykws engine arena"].ratio == 4.0
    assert rows["m tinykws engine .text (code + constants)"].baseline == 7_000
    assert results.facts["tflm_reference_identical_outputs"] == "1/2"  # the second clip differs
    assert results.facts["tflm_reference_build"] == "make x"
