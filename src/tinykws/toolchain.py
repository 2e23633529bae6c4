"""Build bare-metal firmware for an emulated Cortex-M and run it in QEMU.

The platform code (startup, linker script, semihosting, instruction counter)
lives in ``firmware_templates/platform/<name>/``. Firmware talks to the host
through Arm semihosting: stdio and files via newlib's librdimon, argv from
``-semihosting-config arg=...``, and main's return value becomes QEMU's exit
status (SYS_EXIT_EXTENDED). With ``-icount shift=0`` every instruction is one
virtual nanosecond, so the platform's timer counts instructions exactly and
the same run gives the same count every time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from tinykws.errors import EnvironmentFailure, InputError, TinyKWSError
from tinykws.templates import templates_dir

QEMU = "qemu-system-arm"
CROSS_GCC = "arm-none-eabi-gcc"

#: Flags every file we build for a Cortex-M is compiled with.
WARNING_FLAGS: tuple[str, ...] = ("-std=c99", "-Wall", "-Wextra", "-Werror")
#: Host builds of generated C (gcc): strict C99, and the sanitizer build.
STRICT_FLAGS: tuple[str, ...] = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic")
SANITIZE_FLAGS: tuple[str, ...] = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1")


class BuildError(TinyKWSError):
    """A C build failed, on the host or for a Cortex-M (compiler missing or rejecting the code, make
    failing): the one build error of the project; the message carries the tool's output."""


class CompilerMissing(BuildError, EnvironmentFailure):
    """No C compiler on PATH: the environment failed (CLI exit code 3)."""


def find_compiler(name: str = "gcc") -> str:
    path = shutil.which(name)
    if path is None:
        raise CompilerMissing(f"C compiler {name!r} not found on PATH")
    return path


def run_compiler(args: list[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0 or proc.stderr.strip():
        raise BuildError(f"{' '.join(args[:1])} failed in {cwd}:\n{proc.stderr.strip()[:4000]}")


class QemuError(EnvironmentFailure):
    """QEMU could not run the firmware to its end (missing, timed out, crashed): CLI exit code 3."""


@dataclass(frozen=True)
class Platform:
    """A QEMU machine and how to build for it.

    ``platform/<name>/`` holds the counter (tk_platform.{h,c}) and the linker
    script; ``platform/cortex-m/`` the startup code, semihosting and section
    layout that every Cortex-M platform shares.
    """

    name: str
    machine: str
    cpu_flags: tuple[str, ...]
    linker_script: str
    common: str = "cortex-m"

    @property
    def directory(self) -> Path:
        return templates_dir() / "platform" / self.name

    @property
    def common_directory(self) -> Path:
        return templates_dir() / "platform" / self.common

    @property
    def sources(self) -> tuple[Path, ...]:
        common = self.common_directory
        return (common / "startup.c", common / "tk_semihost.c", self.directory / "tk_platform.c")

    @property
    def include_dirs(self) -> tuple[Path, ...]:
        return (self.directory, self.common_directory)


PLATFORMS: dict[str, Platform] = {
    "cortex-m4": Platform(
        name="cortex-m4",
        machine="mps2-an386",
        cpu_flags=("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
        linker_script="mps2_an386.ld",
    ),
    "cortex-m55": Platform(
        name="cortex-m55",
        machine="mps3-an547",
        cpu_flags=("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
        linker_script="mps3_an547.ld",
    ),
}

#: Object files for a Cortex-M4 flash figure (arm-none-eabi-gcc -Os, no link).
CORTEX_M4_FLAGS: tuple[str, ...] = (*PLATFORMS["cortex-m4"].cpu_flags, *WARNING_FLAGS, "-Os")


@dataclass(frozen=True)
class QemuResult:
    stdout: str
    stderr: str
    exit_code: int

    def metrics(self) -> dict[str, int]:
        """Every ``name=integer`` line the firmware printed."""
        return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)=(-?\d+)\s*$", self.stdout, re.MULTILINE)}


def get_platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise InputError(f"unknown platform {name!r}; known: {', '.join(sorted(PLATFORMS))}") from None


@lru_cache(maxsize=8)
def toolchain_available(platform: str = "cortex-m4") -> tuple[bool, str]:
    """(True, "") when firmware for `platform` can be built and run here, else (False, why not)."""
    target = get_platform(platform)
    for tool in (CROSS_GCC, QEMU):
        if shutil.which(tool) is None:
            return False, f"{tool} not found on PATH"
    for name in ("rdimon.specs", "librdimon.a"):
        found = _run_quiet([CROSS_GCC, *target.cpu_flags, f"-print-file-name={name}"])
        if found is None or not Path(found.strip()).is_file():
            return False, f"newlib's {name} (libnewlib-arm-none-eabi) is not installed for {platform}"
    machines = _run_quiet([QEMU, "-machine", "help"])
    if machines is None or not re.search(rf"^{re.escape(target.machine)}\s", machines, re.MULTILINE):
        return False, f"{QEMU} does not provide the machine {target.machine}"
    return True, ""


def _run_quiet(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def compile_command(
    sources: Sequence[Path],
    out: Path,
    *,
    include_dirs: Sequence[Path] = (),
    platform: str = "cortex-m4",
    optimize: str = "-O2",
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The arm-none-eabi-gcc command that links `sources` with the platform into an ELF."""
    target = get_platform(platform)
    includes = [f"-I{d}" for d in (*include_dirs, *target.include_dirs)]
    return [
        CROSS_GCC,
        *target.cpu_flags,
        *WARNING_FLAGS,
        optimize,
        "-ffunction-sections",
        "-fdata-sections",
        *extra_flags,
        *includes,
        *(str(s) for s in (*sources, *target.sources)),
        f"-L{target.common_directory}",
        "-T",
        str(target.directory / target.linker_script),
        "--specs=rdimon.specs",
        "-nostartfiles",
        "-Wl,--gc-sections",
        "-lm",
        "-o",
        str(out),
    ]


def build_elf(
    sources: Sequence[Path],
    out: Path,
    *,
    include_dirs: Sequence[Path] = (),
    platform: str = "cortex-m4",
    optimize: str = "-O2",
    extra_flags: Sequence[str] = (),
    timeout: float = 300.0,
) -> Path:
    """Compile and link `sources` with the platform's startup code; returns the ELF path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = compile_command(
        sources, out, include_dirs=include_dirs, platform=platform, optimize=optimize, extra_flags=extra_flags
    )
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise BuildError(f"{CROSS_GCC} not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{CROSS_GCC} did not finish within {timeout} s building {out.name}") from None
    if done.returncode != 0:
        raise BuildError(f"building {out.name} failed:\n{done.stderr.strip()}")
    return out


def _semihosting_config(program: str, args: Sequence[str]) -> str:
    """-semihosting-config value; argv reaches the firmware split on spaces."""
    parts = ["enable=on", "target=native"]
    for arg in (program, *args):
        if not arg or re.search(r"\s", arg):
            raise InputError(f"firmware arguments must be non-empty and free of spaces, got {arg!r}")
        parts.append("arg=" + arg.replace(",", ",,"))
    return ",".join(parts)


def qemu_command(elf: Path, args: Sequence[str] = (), *, platform: str = "cortex-m4") -> list[str]:
    target = get_platform(platform)
    return [
        QEMU,
        "-M",
        target.machine,
        "-nographic",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-semihosting-config",
        _semihosting_config(Path(elf).name, [str(a) for a in args]),
        "-icount",
        "shift=0",
        "-kernel",
        str(elf),
    ]


def run_firmware(
    elf: Path,
    args: Sequence[str | Path] = (),
    *,
    platform: str = "cortex-m4",
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> QemuResult:
    """Run an ELF in QEMU until it exits; `args` become its argv[1:] (file paths reach the host).

    Relative file paths are resolved by QEMU against `cwd`. Raises QemuError
    when QEMU is missing or the firmware does not exit within `timeout` seconds.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise InputError(f"{elf}: no such firmware file")
    cmd = qemu_command(elf, [str(a) for a in args], platform=platform)
    try:
        done = subprocess.run(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise QemuError(f"{QEMU} not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise QemuError(f"{elf.name} did not exit within {timeout} s in {QEMU}") from None
    return QemuResult(stdout=done.stdout, stderr=done.stderr, exit_code=done.returncode)
