"""Every command starts quietly: no absl, oneDNN or CUDA lines from TensorFlow's start-up on stderr."""

from __future__ import annotations

import os
import subprocess
import sys

NOISE = ("absl::InitializeLog", "cudart_stub", "cuInit", "oneDNN custom operations", "cuda_platform")


def _stderr(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_tensorflow_is_quiet_once_the_cli_is_loaded():
    err = _stderr("import tinykws.cli\nimport keras\nimport tensorflow as tf\nprint(int(tf.reduce_sum([1, 2])))")
    assert not [line for line in err.splitlines() if any(n in line for n in NOISE)], err


def test_without_the_cli_tensorflow_is_noisy_here():
    """The check above can fail: the same import without tinykws.cli prints the noise on this machine."""
    err = _stderr("import os\nos.environ['TF_ENABLE_ONEDNN_OPTS'] = '1'\nimport tensorflow as tf\nprint(int(tf.reduce_sum([1, 2])))")
    assert any(n in err for n in NOISE), err
