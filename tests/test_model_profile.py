import json

import pytest
from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.config import FeatureConfig
from tinykws.model.build import PRESETS, build_model, preset
from tinykws.model.profile import conv_macs, profile_config, separable_macs, separable_ratio_formula

REFERENCE = {"ds-cnn-s": (22_604, 2_656_768), "ds-cnn-m": (135_032, 9_816_384), "ds-cnn-l": (410_700, 28_327_812)}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_presets_match_published_params_and_macs(name):
    prof = profile_config(PRESETS[name], FeatureConfig(), 12)
    assert (prof.params, prof.macs) == REFERENCE[name]


def test_worked_example_of_the_reference():
    # 7x7x3 input, 128 filters 3x3, stride 1, VALID -> 5x5x128
    assert conv_macs(3, 3, 3, 128, 5, 5) == 86_400
    assert separable_macs(3, 3, 3, 128, 5, 5) == 675 + 9_600 == 10_275
    assert 10_275 / 86_400 == pytest.approx(separable_ratio_formula(128, 3, 3))


def folded_params(model) -> int:
    """Parameters of the Keras model after folding each batch norm into a bias."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            total += sum(int(w.size) for w in layer.get_weights())
        elif kind == "BatchNormalization":
            total += int(layer.get_weights()[0].size)  # one bias per channel after folding
    return total


@pytest.mark.parametrize("name", ["ds-cnn-s", "ds-cnn-m", "mobilenetv2-s"])
def test_keras_model_agrees_with_profile(name):
    model = build_model(PRESETS[name], FeatureConfig(), 12)
    assert folded_params(model) == profile_config(PRESETS[name], FeatureConfig(), 12).params
    assert model.output_shape == (None, 12)


def test_mobilenetv2_preset_within_ds_cnn_s_mac_budget():
    prof = profile_config(PRESETS["mobilenetv2-s"], FeatureConfig(), 12)
    assert 0.9 * REFERENCE["ds-cnn-s"][1] <= prof.macs <= REFERENCE["ds-cnn-s"][1]
    assert [l.op for l in prof.layers].count("ADD") == 4


def test_width_and_depth_options():
    cfg = preset("ds-cnn-s", width=0.5, depth=6)
    assert cfg.first.filters == 32 and cfg.ds_filters == (32,) * 6
    with pytest.raises(Exception, match="unknown preset"):
        preset("ds-cnn-xl")


def test_profile_cli_json_and_table():
    runner = CliRunner()
    result = runner.invoke(app, ["profile", "--preset", "ds-cnn-s", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"] == 22_604 and data["macs"] == 2_656_768
    assert data["separable"][0]["ratio"] == pytest.approx(data["separable"][0]["formula"])
    table = runner.invoke(app, ["profile", "--preset", "ds-cnn-m"])
    assert table.exit_code == 0 and "9,816,384" in table.output
    bad = runner.invoke(app, ["profile"])
    assert bad.exit_code == 2
