"""Figures only as measured: README regions and model cards come from results files.

- the committed README's generated regions are what `python -m tinykws.docs`
  makes from the committed results files (docs/results/bench.json, models/*/);
- the generator fills, detects stale regions and refuses unknown ones;
- the model card takes classes, architecture and data from the run's config,
  and the shipped model's figures from its check.json and stream_eval.json;
- `ship` refuses a cv.json made from another recipe (exit 2, fields named).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinykws import docs
from tinykws.cli import app
from tinykws.config import config_to_dict, load_config
from tinykws.model.card import model_card, recipe_differences
from tinykws.run import open_run

REPO = Path(__file__).resolve().parents[1]


def test_committed_readme_matches_the_committed_results() -> None:
    text = (REPO / "README.md").read_text()
    assert docs.REGION.search(text), "README.md has no generated regions"
    assert docs.stale_regions(text, REPO) == [], "README.md is stale: run `make docs` and commit it"
    assert docs.main(["--root", str(REPO), "--check"]) == 0


# ---------------------------------------------------------------- the generator


def fake_cv(config: dict, labels: list[str], mean: float = 0.7125, k: int = 3) -> dict:
    stats = {"mean": mean, "std": 0.02, "min": mean - 0.03, "max": mean + 0.03}
    folds = [{"fold": i, "n_test": 40 + i, "recall": {label: 0.5 for label in labels}, "float_accuracy": mean,
              "int8_accuracy": mean, "agreement": 1.0, "seconds": 10.0} for i in range(k)]
    return {"config": config, "k": k, "folds": folds, "float_accuracy": stats, "int8_accuracy": stats,
            "int8_drop_pp": 0.37, "train_seconds": 600.0, "note": ""}


BENCH = {"facts": {"date_utc": "2026-12-01 20:00:00", "machine": "x86_64", "python": "3.11.7",
                   "device_skipped": "no QEMU"},
         "presets": ["ds-cnn-s"],
         "rows": [{"section": "Memory", "figure": "ds-cnn-s arena", "ours": 6400, "baseline": 24240,
                   "baseline_name": "TFLite Micro runtime arena", "unit": "bytes", "ratio": 3.7875}]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository in miniature: a README with both kinds of region, one shipped model folder."""
    model = tmp_path / "models" / "m1"
    model.mkdir(parents=True)
    for name in ("config.json", "manifest.json"):
        shutil.copy2(REPO / "models" / "ds-cnn-s-kws12" / name, model / name)
    config = json.loads((model / "config.json").read_text())
    (model / "cv.json").write_text(json.dumps(fake_cv(config, config["labels"])))
    (tmp_path / "README.md").write_text("# x\n\n<!-- generated: model:m1 -->\nhand-typed 99.9%\n<!-- end -->\n\ntext kept\n\n"
                                        "<!-- generated: bench -->\n<!-- end -->\n")
    return tmp_path


def test_regions_are_generated_from_the_results_files(repo: Path) -> None:
    assert docs.main(["--root", str(repo), "--check"]) == 1
    (repo / "bench").mkdir()
    (repo / "bench" / "results.json").write_text(json.dumps(BENCH))
    assert docs.main(["--root", str(repo)]) == 0
    text = (repo / "README.md").read_text()
    assert json.loads((repo / "docs" / "results" / "bench.json").read_text()) == BENCH  # committed copy
    assert "71.25% ± 2.00" in text and "3 of 3 folds, drop 0.37 points" in text and "hand-typed" not in text
    assert "Memory:\n\n| figure | ours | baseline | ratio |" in text
    assert "| ds-cnn-s arena | 6,400 bytes | 24,240 (TFLite Micro runtime arena) | 3.79x |" in text
    assert "not measured: check.json is missing" in text and "device_skipped: no QEMU" in text
    assert "text kept" in text
    assert docs.main(["--root", str(repo), "--check"]) == 0


def test_a_changed_results_file_makes_the_readme_stale(repo: Path) -> None:
    assert docs.main(["--root", str(repo)]) == 0
    cv = json.loads((repo / "models" / "m1" / "cv.json").read_text())
    cv["int8_accuracy"]["mean"] = 0.5
    (repo / "models" / "m1" / "cv.json").write_text(json.dumps(cv))
    assert docs.stale_regions((repo / "README.md").read_text(), repo) == ["model:m1"]
    assert docs.main(["--root", str(repo), "--check"]) == 1


def test_shipped_check_and_stream_results_are_quoted(repo: Path) -> None:
    model = repo / "models" / "m1"
    (model / "check.json").write_text(json.dumps({"n_clips": 269, "engines": {
        "float": {"accuracy": 0.8773}, "int8": {"accuracy": 0.8699}}, "agreement": {"float_vs_int8": 0.9926}}))
    (model / "stream_eval.json").write_text(json.dumps({"minutes": 120, "snr_db": 20, "threshold": 122,
                                                        "false_reject_rate": 0.793, "false_accepts_per_hour": 0.5}))
    assert docs.main(["--root", str(repo)]) == 0
    text = (repo / "README.md").read_text()
    assert "`tinykws check` on 269 held-out clips | float 87.73%, int8 86.99%; float/int8 agreement 99.26%" in text
    assert "threshold int8 122 | 79.3% false rejections at 0.5 false accepts per hour" in text


@pytest.mark.parametrize("readme", ["no markers\n", "<!-- generated: nonsense -->\n<!-- end -->\n",
                                    "<!-- generated: model:absent -->\n<!-- end -->\n"])
def test_bad_regions_are_exit_2(repo: Path, readme: str) -> None:
    (repo / "README.md").write_text(readme)
    assert docs.main(["--root", str(repo)]) == 2
    assert (repo / "README.md").read_text() == readme


# ---------------------------------------------------------------- the model card and ship


def write_cv(cv_dir: Path, config: dict, labels: list[str]) -> Path:
    cv_dir.mkdir(parents=True, exist_ok=True)
    (cv_dir / "cv.json").write_text(json.dumps(fake_cv(config, labels)))
    return cv_dir


def test_card_takes_classes_architecture_and_data_from_the_config(run_copy: Path, tone_data: Path) -> None:
    cfg = load_config(run_copy / "config.json")
    labels = list(cfg.labels)
    card = model_card(open_run(run_copy), fake_cv(config_to_dict(cfg), labels), None, "tones")
    assert f"keyword spotting, {len(labels)} classes, int8" in card
    assert f"A {cfg.model.name} (depthwise separable CNN) for {len(labels)} classes" in card
    assert str(tone_data) in card and "(123 clips in the 3 cross-validated folds)" in card
    assert "3,174" not in card and "Speech Commands v0.02" not in card and "2-core" not in card
    raw = json.loads((run_copy / "config.json").read_text())
    raw["model"]["kind"], raw["labels"], raw["data_dirs"] = "mobilenetv2", labels[:3], ["x/speech_commands_v0.02"]
    (run_copy / "config.json").write_text(json.dumps(raw))
    card = model_card(open_run(run_copy), fake_cv(raw, labels[:3]), None, "tones")
    assert "3 classes" in card and "MobileNetV2-style" in card and "CC BY 4.0" in card
    assert "No `tinykws check` of the shipped model was shipped" in card


def test_recipe_differences_ignore_data_seed_normalisation_and_stream(run_copy: Path) -> None:
    cfg = load_config(run_copy / "config.json")
    other = config_to_dict(cfg)
    other["data_dirs"], other["normalisation"] = ["elsewhere"], None
    other["train"]["seed"], other["stream"]["threshold"] = 99, 100
    assert recipe_differences(cfg, other) == []
    other["train"]["epochs"] += 1
    other["model"]["first"]["filters"] += 1
    assert recipe_differences(cfg, other) == ["model.first.filters", "train.epochs"]


def test_ship_refuses_a_cv_of_another_recipe(run_copy: Path, tmp_path: Path) -> None:
    cfg = config_to_dict(load_config(run_copy / "config.json"))
    cfg["train"]["epochs"] += 10
    cfg["train"]["label_smoothing"] = 0.0
    cv_dir = write_cv(tmp_path / "cv", cfg, cfg["labels"])
    out = tmp_path / "models" / "tones"
    result = CliRunner().invoke(app, ["ship", str(run_copy), "--cv", str(cv_dir), "--out", str(out)])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "cv.json" in message and "train.epochs" in message and "train.label_smoothing" in message
    assert not out.exists()


def test_ship_copies_and_quotes_the_run_results(run_copy: Path, tmp_path: Path) -> None:
    cfg = config_to_dict(load_config(run_copy / "config.json"))
    cfg["data_dirs"], cfg["train"]["seed"] = ["the/cv/data"], 7  # legitimately different
    cv_dir = write_cv(tmp_path / "cv", cfg, cfg["labels"])
    (run_copy / "check").mkdir(exist_ok=True)
    check = {"n_clips": 24, "engines": {"float": {"accuracy": 0.625}, "int8": {"accuracy": 0.5833}},
             "agreement": {"float_vs_int8": 0.9583}, "int8_drop_pp": 4.17}
    (run_copy / "check" / "check.json").write_text(json.dumps(check))
    out = tmp_path / "models" / "tones"
    result = CliRunner().invoke(app, ["ship", str(run_copy), "--cv", str(cv_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "check.json").read_text()) == check
    card = (out / "README.md").read_text()
    assert "`tinykws check` on 24 held-out clips" in card and "| int8 | 58.33% |" in card
    assert "float/int8 top-1 agreement 95.83%, int8 drop 4.17 points." in card
    assert "No `tinykws stream-eval` of the shipped model was shipped" in card
