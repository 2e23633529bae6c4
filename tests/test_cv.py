import json

from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.config import DEFAULT_LABELS
from tinykws.model.cv import fold_dataset
from tinykws.data.speech_commands import TEST, TRAIN, discover, speaker_folds


def test_fold_dataset_holds_out_speakers_and_keeps_extra_in_training(tone_data, tmp_path):
    from conftest import make_tone_dataset

    extra_dir = make_tone_dataset(tmp_path / "extra", speakers=2, takes=1, seed=5)
    evaluation = discover([tone_data], DEFAULT_LABELS)
    extra = discover([extra_dir], DEFAULT_LABELS)
    _, held = speaker_folds(evaluation.clips, 3)[1]
    ds = fold_dataset(evaluation, extra, held)
    from_extra = [c for c in ds.clips if str(c.path).startswith(str(extra_dir))]
    from_eval = [c for c in ds.clips if not str(c.path).startswith(str(extra_dir))]
    assert len(from_extra) == len(extra.clips) and all(c.split == TRAIN for c in from_extra)
    assert {c.speaker for c in from_eval if c.split == TEST} == held
    assert not {c.speaker for c in from_eval if c.split != TEST} & held


def test_cv_cli_writes_mean_and_spread(tone_data, tmp_path):
    result = CliRunner().invoke(app, ["cv", "--data-dir", str(tone_data), "--out", str(tmp_path / "cv"), "-k", "3",
                                      "--fold", "0", "--fold", "2", "--epochs", "1", "--width", "0.25"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert [f["fold"] for f in report["folds"]] == [0, 2]
    assert set(report["int8_accuracy"]) == {"mean", "std", "min", "max"}
    assert report["k"] == 3 and report["folds"][0]["n_test"] > 0

    # a second run resumes: the finished folds are read back, not trained again; another recipe is refused
    model = tmp_path / "cv" / "fold0" / "model.keras"
    stamp = model.stat().st_mtime_ns
    again = CliRunner().invoke(app, ["cv", "--data-dir", str(tone_data), "--out", str(tmp_path / "cv"), "-k", "3",
                                     "--fold", "0", "--fold", "2", "--epochs", "1", "--width", "0.25"])
    assert again.exit_code == 0, again.output
    assert model.stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "cv" / "cv.json").read_text())["int8_accuracy"] == report["int8_accuracy"]
    # a run of one fold keeps the folder's other finished folds in cv.json
    one = CliRunner().invoke(app, ["cv", "--data-dir", str(tone_data), "--out", str(tmp_path / "cv"), "-k", "3",
                                   "--fold", "2", "--epochs", "1", "--width", "0.25"])
    assert one.exit_code == 0, one.output
    assert json.loads((tmp_path / "cv" / "cv.json").read_text())["folds"] == report["folds"]
    other = CliRunner().invoke(app, ["cv", "--data-dir", str(tone_data), "--out", str(tmp_path / "cv"), "-k", "3",
                                     "--fold", "0", "--epochs", "2", "--width", "0.25"])
    assert other.exit_code == 2 and "another recipe" in other.output and model.stat().st_mtime_ns == stamp

    shipped = tmp_path / "models" / "tiny-kws12"
    result = CliRunner().invoke(app, ["ship", str(tmp_path / "cv" / "fold0"), "--cv", str(tmp_path / "cv"),
                                      "--out", str(shipped)])
    assert result.exit_code == 0, result.output
    card = (shipped / "README.md").read_text()
    mean = report["int8_accuracy"]["mean"]
    assert f"{100 * mean:.2f}%" in card and "22," not in card.split("## Model")[0]
    assert (shipped / "confusion_cv_int8.png").exists() and (shipped / "int8.tflite").exists()
    wav = next((tone_data / "yes").glob("*.wav"))
    predicted = CliRunner().invoke(app, ["predict", str(shipped), str(wav)])
    assert predicted.exit_code == 0 and wav.name in predicted.output
    bundle = CliRunner().invoke(app, ["firmware", str(shipped), "--target", "host", "--out", str(tmp_path / "fw")])
    assert bundle.exit_code == 0, bundle.output
    assert (tmp_path / "fw" / "Makefile").exists()
