"""The C feature front end on an emulated Cortex-M4F (QEMU mps2-an386) and
Cortex-M55 (QEMU mps3-an547).

The front end is cross-compiled with the platform's startup code into an ELF
whose main reads PCM from a host file (semihosting), writes the features to
another host file and prints instructions_per_frame (under `-icount shift=0`:
M4 CMSDK timer, 40 instructions per tick; M55 SysTick, 31.25). The features
are compared with numpy at the tolerances of the host test (test_frontend.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from test_frontend import (
    FEATURES,
    INPUT_SCALE,
    INPUT_ZERO_POINT,
    NORM,
    RECORD,
    TOL_REAL,
    TOL_TONE,
    check_quantization_of_own_floats,
    cli_source,
    quantize_reference,
    real_clips,
    reference,
    speech_like_signals,
    tone_signals,
)
from tinykws.errors import InputError
from tinykws.audio.frontend import render_frontend
from tinykws.toolchain import (
    QemuError,
    QemuResult,
    build_elf,
    get_platform,
    qemu_command,
    run_firmware,
    toolchain_available,
)

pytestmark = pytest.mark.qemu

# Regression budget for one 20 ms frame (measured in stream mode: M4 14,366, M55 14,366).
MAX_INSTRUCTIONS_PER_FRAME = 18_000


def platform_param(name: str, *values: object):
    available, why_not = toolchain_available(name)
    return pytest.param(name, *values, marks=pytest.mark.skipif(not available, reason=why_not), id=name)


PLATFORMS = [platform_param("cortex-m4"), platform_param("cortex-m55")]
# instructions per counter tick under -icount shift=0: 25 MHz CMSDK timer, 32 MHz SysTick
TICK_CASES = [platform_param("cortex-m4", 40.0), platform_param("cortex-m55", 31.25)]

CALIBRATION_MAIN = r"""
#include <stdio.h>
#include "tk_platform.h"
int main(void)
{
    uint32_t n = 1000000u;
    const uint32_t start = tk_platform_ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
    printf("ticks=%lu\n", (unsigned long)(tk_platform_ticks() - start));
    return 7;
}
"""


HANG_MAIN = r"""
int main(void)
{
    for (;;) {
        __asm__ volatile("nop");
    }
}
"""

FAULT_MAIN = r"""
int main(void)
{
    __asm__ volatile("udf #0");
    return 0;
}
"""


@dataclass(frozen=True)
class Firmware:
    platform: str
    elf: Path

    def run(self, mode: str, data: np.ndarray, work: Path) -> tuple[np.ndarray, QemuResult]:
        src, dst = work / f"{mode}.in", work / f"{mode}.out"
        data.tofile(src)
        result = run_firmware(self.elf, [mode, src, dst], platform=self.platform, timeout=120)
        assert result.exit_code == 0, result.stdout + result.stderr
        return np.fromfile(dst, RECORD), result


@pytest.fixture(scope="module", params=PLATFORMS)
def firmware(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Firmware:
    platform = request.param
    work = tmp_path_factory.mktemp(platform)
    src = work / "src"
    render_frontend(src, FEATURES, NORM, INPUT_SCALE, INPUT_ZERO_POINT)
    sources = [*sorted(src.glob("*.c")), cli_source()]
    return Firmware(platform, build_elf(sources, work / "features.elf", include_dirs=[src], platform=platform))


@pytest.mark.parametrize(("platform", "per_tick"), TICK_CASES)
def test_counter_counts_instructions(platform: str, per_tick: float, tmp_path: Path) -> None:
    main = tmp_path / "calibrate.c"
    main.write_text(CALIBRATION_MAIN)
    elf = build_elf([main], tmp_path / "calibrate.elf", platform=platform)
    result = run_firmware(elf, platform=platform, timeout=60)
    assert result.exit_code == 7  # main's return value reaches the host
    ticks = result.metrics()["ticks"]
    assert ticks * per_tick == pytest.approx(2_000_000, abs=2 * per_tick)  # subs + bne, a million times


def test_device_matches_numpy_on_real_clips(firmware: Firmware, tmp_path: Path, record_property) -> None:
    pcm = real_clips(per_label=1)
    records, result = firmware.run("clip", pcm, tmp_path)
    records = records.reshape(len(pcm), FEATURES.n_frames)
    ref = reference(pcm)
    error = float(np.abs(records["mfcc"] - ref).max())
    assert error < TOL_REAL
    check_quantization_of_own_floats(records)
    diff = records["q"].astype(int) - quantize_reference(ref).astype(int)
    assert np.abs(diff).max() <= 1
    metrics = result.metrics()
    assert metrics["frames"] == len(pcm) * FEATURES.n_frames
    assert 0 < metrics["instructions_per_frame"] < MAX_INSTRUCTIONS_PER_FRAME
    record_property("max_abs_error", error)
    record_property("instructions_per_frame", metrics["instructions_per_frame"])


def test_device_matches_numpy_on_synthetic_signals(firmware: Firmware, tmp_path: Path) -> None:
    broadband, tones = speech_like_signals(), tone_signals()
    pcm = np.stack([*broadband.values(), *tones.values()])
    records, _ = firmware.run("clip", pcm, tmp_path)
    errors = np.abs(records["mfcc"].reshape(len(pcm), -1) - reference(pcm).reshape(len(pcm), -1)).max(axis=1)
    assert errors[: len(broadband)].max() < TOL_REAL
    assert errors[len(broadband) :].max() < TOL_TONE
    check_quantization_of_own_floats(records)


def test_device_stream_is_deterministic_and_within_budget(
    firmware: Firmware, tmp_path: Path, record_property
) -> None:
    pcm = speech_like_signals()["noise_bursts"]
    first, result = firmware.run("stream", pcm, tmp_path)
    again, result_again = firmware.run("stream", pcm, tmp_path)
    np.testing.assert_array_equal(first, again)
    metrics = result.metrics()
    assert metrics == result_again.metrics()  # -icount: the same count every run
    assert metrics["frames"] == FEATURES.clip_samples // FEATURES.hop_samples
    assert metrics["instructions_per_frame"] <= metrics["instructions_per_frame_max"] < MAX_INSTRUCTIONS_PER_FRAME
    record_property("instructions_per_frame_max", metrics["instructions_per_frame_max"])


def test_bad_arguments_give_a_nonzero_exit(firmware: Firmware, tmp_path: Path) -> None:
    args = ["clip", tmp_path / "missing.pcm", tmp_path / "out.bin"]
    result = run_firmware(firmware.elf, args, platform=firmware.platform, timeout=60)
    assert result.exit_code == 2
    assert "cannot open" in result.stderr + result.stdout


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_fault_stops_the_emulator_with_status_134(platform: str, tmp_path: Path) -> None:
    main = tmp_path / "fault.c"
    main.write_text(FAULT_MAIN)
    result = run_firmware(build_elf([main], tmp_path / "fault.elf", platform=platform), platform=platform, timeout=60)
    assert result.exit_code == 134
    assert "tk_platform: fault, IPSR=0x00000003" in result.stderr  # HardFault; SYS_WRITE0 goes to stderr


@pytest.mark.parametrize("platform", PLATFORMS[:1])
def test_a_hung_firmware_times_out(platform: str, tmp_path: Path) -> None:
    main = tmp_path / "hang.c"
    main.write_text(HANG_MAIN)
    elf = build_elf([main], tmp_path / "hang.elf", platform=platform)
    with pytest.raises(QemuError, match="did not exit within"):
        run_firmware(elf, platform=platform, timeout=1.0)


def test_qemu_command_passes_arguments_through_semihosting(tmp_path: Path) -> None:
    cmd = qemu_command(tmp_path / "fw.elf", ["clip", "/a,b/in.pcm"], platform="cortex-m55")
    assert cmd[cmd.index("-M") + 1] == "mps3-an547"
    assert "enable=on,target=native,arg=fw.elf,arg=clip,arg=/a,,b/in.pcm" in cmd
    assert cmd[cmd.index("-icount") + 1] == "shift=0"
    with pytest.raises(InputError):
        qemu_command(tmp_path / "fw.elf", ["has space"])
    with pytest.raises(InputError):
        get_platform("cortex-m0")


def test_metrics_reads_name_value_lines() -> None:
    result = QemuResult(stdout="frames=49\nnoise\ninstructions_per_frame=34078\n", stderr="", exit_code=0)
    assert result.metrics() == {"frames": 49, "instructions_per_frame": 34078}
