"""The whole pipeline on tiny synthesised data: synth -> train -> export -> check -> predict
(and, when the generated C engine and firmware bundles are available, codegen and firmware)."""

import json

from typer.testing import CliRunner

from tinykws.cli import app

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"tinykws {' '.join(args)} failed:\n{result.output}"
    return result


def test_synth_train_export_check_predict(tmp_path):
    data, run = tmp_path / "synth", tmp_path / "run"
    invoke("data", "synth", "--out", str(data), "--per-word", "4", "--seed", "1")
    result = invoke("train-and-export", "--data-dir", str(data), "--out", str(run), "--epochs", "2",
                    "--width", "0.25", "--batch-size", "32", "--max-drop", "100", "--min-agreement", "0")
    assert "summary" in result.output
    for name in ("config.json", "model.keras", "history.csv", "training.png", "labels.txt", "float.tflite",
                 "int8.tflite", "c/model_data.c", "c/model_data.h", "c/model_settings.h", "manifest.json",
                 "check/check.json", "check/check.md"):
        assert (run / name).is_file(), name
    report = json.loads((run / "check" / "check.json").read_text())
    assert report["passed"] is True and report["n_clips"] > 0
    assert set(report["engines"]) == {"float", "tflite-float", "int8", "tflm"}
    wav = next((data / "yes").glob("*.wav"))
    out = invoke("predict", str(run), str(wav)).output
    assert wav.name in out
