"""Training learns, and the check passes with its default thresholds, and fails when int8 is broken.

Chance on the 12 tone classes is 1/12 = 8.3%; the bounds below are far above it, so a training loop that
stops learning (or a data pipeline that feeds it noise) fails here instead of passing silently.
"""

from __future__ import annotations

import csv
import json
import shutil

from typer.testing import CliRunner

from tinykws.cli import app

MIN_ACCURACY = 0.8  # held-out speaker; the run reached 0.958 (11 times chance) when this was written


def test_training_learns_the_tone_classes(learned_run):
    run, _ = learned_run
    with open(run / "history.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"]) - 0.5
    assert max(float(r["val_accuracy"]) for r in rows) >= MIN_ACCURACY


def test_check_passes_with_default_thresholds(learned_run, tmp_path):
    run, data = learned_run
    result = CliRunner().invoke(app, ["check", str(run), "--data-dir", str(data), "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["passed"] is True
    for name in ("float", "tflite-float", "int8", "tflm"):
        assert report["engines"][name]["accuracy"] >= MIN_ACCURACY, name
    assert report["int8_drop_pp"] <= 1.0 and report["agreement"]["float_vs_int8"] >= 0.95


def _zero_last_dense_layer(model: bytes) -> bytes:
    """The same int8 model with the weights and bias of its FULLY_CONNECTED layer set to zero."""
    import tflite

    from tinykws.codegen.graph import parse_graph

    graph = parse_graph(model)
    fc = next(op for op in graph.operators if op.opcode == "FULLY_CONNECTED")
    sub = tflite.Model.GetRootAsModel(model, 0)
    root = sub.Subgraphs(0)
    out = bytearray(model)
    for t in (i for i in fc.inputs[1:] if i >= 0):
        buf = sub.Buffers(root.Tensors(t).Buffer())
        start = buf._tab.Vector(buf._tab.Offset(4))
        out[start:start + buf.DataLength()] = bytes(buf.DataLength())
    return bytes(out)


def test_check_fails_with_exit_1_when_int8_is_broken(learned_run, tmp_path):
    run, data = learned_run
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    (broken / "int8.tflite").write_bytes(_zero_last_dense_layer((run / "int8.tflite").read_bytes()))
    result = CliRunner().invoke(app, ["check", str(broken), "--data-dir", str(data), "--engines", "float,int8"])
    assert result.exit_code == 1, result.output
    assert "drop" in result.output
    report = json.loads((broken / "check" / "check.json").read_text())
    assert report["passed"] is False and report["int8_drop_pp"] > 20
