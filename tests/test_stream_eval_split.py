"""stream-eval chooses its operating point on a validation stream of other speakers than the test stream."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.data.speech_commands import speaker_of
from tinykws.stream.evaluate import ClipPool, EvalOptions, choose, split_speakers


def _pool(speakers: list[str]) -> ClipPool:
    paths = tuple(Path(f"yes/{s}_nohash_{i}.wav") for i, s in enumerate(speakers))
    return ClipPool(np.zeros((len(speakers), 4), np.float32), np.full(len(speakers), 2), paths)


def test_split_speakers_is_disjoint_and_keeps_every_clip():
    speakers = [f"{i:08x}" for i in range(40) for _ in range(3)]
    tune, test, disjoint = split_speakers(_pool(speakers), 0.5)
    a, b = {speaker_of(p) for p in tune.paths}, {speaker_of(p) for p in test.paths}
    assert disjoint and a and b and not a & b and len(a | b) == 40
    assert len(tune.y) + len(test.y) == len(speakers)
    assert 10 <= len(a) <= 30  # about half of 40
    again = split_speakers(_pool(speakers), 0.5)[0]
    assert again.paths == tune.paths  # a stable hash, not a random draw


def test_split_speakers_with_one_or_two_speakers():
    tune, test, disjoint = split_speakers(_pool(["aa", "aa"]), 0.5)
    assert not disjoint and tune.paths == test.paths
    tune, test, disjoint = split_speakers(_pool(["aa", "bb"]), 0.5)
    assert disjoint and {speaker_of(p) for p in tune.paths} != {speaker_of(p) for p in test.paths}


def test_stream_eval_chooses_on_validation_and_reports_the_test_stream(trained_run, tone_data, tmp_path):
    other = tmp_path / "other"  # a folder the run did not train on: every speaker is held out
    shutil.copytree(tone_data, other)
    out = tmp_path / "se"
    result = CliRunner().invoke(app, ["stream-eval", str(trained_run), "--data-dir", str(other), "--minutes", "0.4",
                                      "--validation-minutes", "0.3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "stream_eval.json").read_text())
    assert report["operating_point"] == {"chosen_on": "validation stream", "speakers_disjoint": True}
    assert report["speakers"]["validation"] >= 1 and report["speakers"]["test"] >= 1
    validation_curve = {c["threshold"]: c for c in report["validation"]["curve"]}
    chosen = choose(validation_curve, EvalOptions())
    assert report["threshold"] == chosen
    test_point = next(c for c in report["curve"] if c["threshold"] == chosen)
    assert report["false_reject_rate"] == test_point["false_reject_rate"]
    assert set(report["clean"]) >= {"false_reject_rate", "false_accepts_per_hour"}
    assert report["minutes"] == 0.4 and report["validation"]["minutes"] == 0.3
    assert "chosen on the validation stream" in " ".join(result.output.split())


def test_choose_smoothing_takes_the_lowest_frr_within_the_false_accept_budget():
    from tinykws.stream.evaluate import choose_smoothing

    def m(frr, fa):
        return {"false_reject_rate": frr, "false_accepts_per_hour": fa}

    opts = EvalOptions(max_false_accepts_per_hour=0.5)
    curves = {(2, 2): {100: m(0.30, 0.5), 120: m(0.50, 0.0)},
              (4, 2): {90: m(0.20, 0.5), 110: m(0.25, 0.0)},
              (1, 1): {127: m(0.01, 3.0)}}
    assert choose_smoothing(curves, opts) == (4, 2, 90)
    # nothing within the budget: the fewest false accepts, then the lowest FRR
    loud = {(2, 2): {100: m(0.3, 2.0)}, (3, 2): {100: m(0.2, 2.0), 110: m(0.4, 1.0)}}
    assert choose_smoothing(loud, opts) == (3, 2, 110)
