import json

from typer.testing import CliRunner

from tinykws.cli import app

runner = CliRunner()


def test_check_reports_contract_fields(run_copy, tone_data, tmp_path):
    result = runner.invoke(app, ["check", str(run_copy), "--data-dir", str(tone_data), "--max-drop", "100",
                                 "--min-agreement", "0", "--json", str(tmp_path / "c.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((run_copy / "check" / "check.json").read_text())
    assert json.loads((tmp_path / "c.json").read_text()) == report
    assert report["n_clips"] > 0 and report["passed"] is True
    for name in ("float", "tflite-float", "int8", "tflm"):
        assert 0.0 <= report["engines"][name]["accuracy"] <= 1.0
    assert 0.0 <= report["agreement"]["float_vs_int8"] <= 1.0
    assert isinstance(report["int8_drop_pp"], float)
    assert set(report["score_error_int8_vs_float"]) >= {"rmse", "mae", "max_abs", "cosine_similarity", "l2_relative"}
    assert sum(report["litert_vs_tflm"]["lsb_histogram"].values()) == report["n_clips"] * 12
    assert (run_copy / "check" / "check.md").read_text().startswith("# tinykws check")
    assert (run_copy / "check" / "confusion_int8.png").stat().st_size > 1000
    # the float engines agree with each other exactly in top-1 on the same clips
    assert report["engines"]["float"]["accuracy"] == report["engines"]["tflite-float"]["accuracy"]


# exit 1 when int8 falls short: tests/test_learning.py breaks the int8 model of a run that has learnt
# (a negative --max-drop is refused at parse time now)


def test_labels_not_matching_model_output_is_exit_2(run_copy, tone_data):
    cfg = json.loads((run_copy / "config.json").read_text())
    cfg["labels"] = cfg["labels"] + ["extra"]
    (run_copy / "config.json").write_text(json.dumps(cfg))
    result = runner.invoke(app, ["check", str(run_copy), "--data-dir", str(tone_data), "--engines", "int8",
                                 "--split", "all"])
    assert result.exit_code == 2
    assert "13 labels" in result.output and "12 outputs" in result.output


def test_empty_data_folder_is_exit_2(run_copy, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["check", str(run_copy), "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no audio clips" in result.output


def test_not_a_run_is_exit_2(tmp_path, tone_data):
    result = runner.invoke(app, ["check", str(tmp_path), "--data-dir", str(tone_data)])
    assert result.exit_code == 2 and "config.json" in result.output


def test_predict_prints_label_and_top3(trained_run, tone_data):
    wav = sorted((tone_data / "yes").glob("*.wav"))[0]
    result = runner.invoke(app, ["predict", str(trained_run), str(wav)])
    assert result.exit_code == 0, result.output
    assert wav.name in result.output and result.output.count(" 0.") + result.output.count(" 1.0") >= 3


def test_check_engine_c_is_bit_exact_with_tflm(run_copy, tone_data):
    result = runner.invoke(app, ["check", str(run_copy), "--data-dir", str(tone_data), "--engines", "int8,tflm,c",
                                 "--split", "all"])
    assert result.exit_code == 0, result.output
    report = json.loads((run_copy / "check" / "check.json").read_text())
    assert report["bitexact"]["c_vs_tflm"] == 1.0
    assert report["engines"]["c"]["accuracy"] == report["engines"]["tflm"]["accuracy"]
