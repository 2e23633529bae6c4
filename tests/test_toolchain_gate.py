"""TINYKWS_REQUIRE_TOOLCHAIN=1 (set by .ci/run): a skip for a missing toolchain becomes a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SAMPLE = '''
import pytest

def test_cross_gcc_missing():
    pytest.skip("arm-none-eabi-gcc not found on PATH")

@pytest.mark.skipif(True, reason="qemu-system-arm does not provide the machine mps2-an386")
def test_qemu_machine_missing():
    pass

def test_multilib_missing():
    pytest.skip("gcc -m32 with ASan/UBSan does not work here (install gcc-multilib)")

def test_no_real_data():
    pytest.skip("real speech clips not present")

@pytest.mark.xfail(reason="arm-none-eabi-gcc", strict=True)
def test_expected_failure():
    assert False
'''


def run_sample(tmp_path: Path, require: str | None) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != "TINYKWS_REQUIRE_TOOLCHAIN"}
    if require is not None:
        env["TINYKWS_REQUIRE_TOOLCHAIN"] = require
    env["PYTHONPATH"] = str(TESTS) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "conftest", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False)
    return f"exit={done.returncode}\n" + done.stdout + done.stderr


@pytest.mark.parametrize("require", [None, "0"])
def test_toolchain_skips_stay_skips_without_the_flag(tmp_path: Path, require: str | None) -> None:
    out = run_sample(tmp_path, require)
    assert "exit=0" in out and "4 skipped, 1 xfailed" in out, out


def test_toolchain_skips_fail_under_the_flag(tmp_path: Path) -> None:
    out = run_sample(tmp_path, "1")
    assert "exit=1" in out and "2 failed, 1 skipped, 1 xfailed, 1 error" in out, out  # a skipif fails in setup
    assert "TINYKWS_REQUIRE_TOOLCHAIN=1 but this test would skip: qemu-system-arm does not provide" in out
    for name in ("FAILED test_sample.py::test_cross_gcc_missing", "ERROR test_sample.py::test_qemu_machine_missing",
                 "FAILED test_sample.py::test_multilib_missing", "SKIPPED [1] test_sample.py:15: real speech"):
        assert name in out, out


def test_ci_script_sets_the_flag_and_runs_make_test() -> None:
    script = (TESTS.parent / ".ci" / "run").read_text()
    assert "export TINYKWS_REQUIRE_TOOLCHAIN=1" in script
    assert script.index("TINYKWS_REQUIRE_TOOLCHAIN=1") < script.index("make test")
    assert '"$rc" -eq 5' in script
