"""`tinykws train --distribute mirrored` on two logical CPU devices: the replicas train one model that learns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import FAST_RECIPE, make_tone_dataset

SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tinykws.cli import app
    from tinykws.model.train import distribution_strategy
    print(json.dumps({"replicas": distribution_strategy("mirrored").num_replicas_in_sync}))
    sys.argv = ["tinykws"] + sys.argv[1:]
    app()
""")


def test_mirrored_strategy_on_two_logical_cpus_learns(tmp_path):
    data = make_tone_dataset(tmp_path / "data", speakers=8, takes=2, seed=3)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps(FAST_RECIPE))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "train", "--data-dir", str(data), "--out", str(tmp_path / "run"),
                           "--epochs", "10", "--width", "0.5", "--batch-size", "16", "--seed", "1",
                           "--recipe", str(recipe), "--distribute", "mirrored"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.splitlines()[0]) == {"replicas": 2}
    rows = (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    val = [float(r.split(",")[-1]) for r in rows]
    loss = [float(r.split(",")[2]) for r in rows]
    assert len(rows) == 10 and loss[-1] < loss[0] - 0.5 and max(val) >= 0.5  # chance is 1/12


def test_multiworker_without_tf_config_is_a_clear_error(tone_data, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tinykws.cli import app

    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["train", "--data-dir", str(tone_data), "--out", str(tmp_path / "run"),
                                      "--epochs", "1", "--distribute", "multiworker"])
    assert result.exit_code == 2 and "TF_CONFIG" in result.output
