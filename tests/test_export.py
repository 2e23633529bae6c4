import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from tinykws.cli import app
from tinykws.config import load_config
from tinykws.export.artifacts import render_settings, QuantParams

runner = CliRunner()
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"]


def parse_c_array(text: str) -> bytes:
    body = text.split("[] = {", 1)[1].split("};", 1)[0]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def test_c_array_round_trips_to_tflite(trained_run):
    source = (trained_run / "c" / "model_data.c").read_text()
    assert parse_c_array(source) == (trained_run / "int8.tflite").read_bytes()
    lines = [l for l in source.splitlines() if l.strip().startswith("0x")]
    assert all(l.count("0x") == 12 for l in lines[:-1])
    header = (trained_run / "c" / "model_data.h").read_text()
    assert "extern const unsigned char g_tinykws_model_data[];" in header
    assert f"{len((trained_run / 'int8.tflite').read_bytes())}u" in header


@pytest.mark.parametrize("compiler,flags", [("gcc", CFLAGS), ("g++", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-c", "-x", "c++"]),
                                            ("arm-none-eabi-gcc", CFLAGS + ["-mcpu=cortex-m4", "-mthumb"])])
def test_c_files_compile_warning_free(trained_run, tmp_path, compiler, flags):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    c_dir = trained_run / "c"
    (tmp_path / "use.c").write_text('#include "model_settings.h"\n#include "model_data.h"\n'
                                    "static const char *const labels[] = TINYKWS_LABELS;\n"
                                    "static const float mean[] = TINYKWS_NORM_MEAN;\n"
                                    "int first(void) { return (int)g_tinykws_model_data[4] + (int)labels[0][0] "
                                    "+ (int)mean[0] + TINYKWS_LABEL_YES + TINYKWS_N_FRAMES; }\n")
    for src in (c_dir / "model_data.c", tmp_path / "use.c"):
        out = tmp_path / (src.stem + ".o")
        subprocess.run([compiler, *flags, "-I", str(c_dir), str(src), "-o", str(out)], check=True,
                       capture_output=True, text=True)


def test_settings_header_escapes_labels_that_are_not_identifiers(trained_run, tmp_path):
    cfg = load_config(trained_run / "config.json")
    labels = ("_silence_", 'say "hi"', "3-dogs", "naïve\\x", "if") + cfg.labels[5:]
    text = render_settings(cfg.replace(labels=labels), QuantParams(0.1, -3, 1 / 256, -128))
    assert '"say \\"hi\\""' in text and "TINYKWS_LABEL__3_DOGS" in text and "TINYKWS_LABEL_IF" in text
    (tmp_path / "s.h").write_text(text)
    (tmp_path / "u.c").write_text('#include <string.h>\n#include "s.h"\n'
                                  "static const char *const l[] = TINYKWS_LABELS;\n"
                                  "int f(void) { return (int)strlen(l[1]) + TINYKWS_LABEL__3_DOGS; }\n")
    subprocess.run(["gcc", *CFLAGS, str(tmp_path / "u.c"), "-o", str(tmp_path / "u.o")], check=True)
    prog = tmp_path / "p.c"
    prog.write_text('#include <stdio.h>\n#include "s.h"\nint main(void){const char *const l[] = TINYKWS_LABELS;'
                    'printf("%s|%s|%s", l[1], l[2], l[3]); return 0;}\n')
    subprocess.run(["gcc", "-std=c99", str(prog), "-o", str(tmp_path / "p")], check=True)
    out = subprocess.run([str(tmp_path / "p")], capture_output=True).stdout.decode("utf-8")
    assert out == 'say "hi"|3-dogs|naïve\\x'


def test_settings_come_from_config_and_tflite(trained_run):
    text = (trained_run / "c" / "model_settings.h").read_text()
    from tinykws.verify.engines import LiteRTEngine

    engine = LiteRTEngine((trained_run / "int8.tflite").read_bytes())
    assert f"#define TINYKWS_INPUT_ZERO_POINT {engine.input.zero_point}" in text
    assert "#define TINYKWS_N_FRAMES 49" in text and "#define TINYKWS_WINDOW_SAMPLES 480" in text
    scale = float(re.search(r"TINYKWS_INPUT_SCALE ([0-9.e+-]+)f", text).group(1))
    assert np.float32(scale) == np.float32(engine.input.scale)


def test_manifest_lists_hashes_ops_and_arena(trained_run):
    m = json.loads((trained_run / "manifest.json").read_text())
    import hashlib

    for name, entry in m["artifacts"].items():
        assert hashlib.sha256((trained_run / name).read_bytes()).hexdigest() == entry["sha256"]
    ops = {o["op"] for o in m["ops"]}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= ops
    assert m["tflm_arena_bytes"] > 1000 and m["versions"]["tensorflow"].startswith("2.21")


def test_int8_model_is_fully_integer(trained_run):
    from tinykws.export.tflite_info import read_model_info

    info = read_model_info((trained_run / "int8.tflite").read_bytes(), "int8.tflite")
    assert {t.type for t in info.tensors} <= {"INT8", "INT32"}


def test_export_twice_is_byte_identical(run_copy):
    names = ["int8.tflite", "float.tflite", "c/model_data.c", "c/model_settings.h", "manifest.json"]
    before = {n: (run_copy / n).read_bytes() for n in names}
    result = runner.invoke(app, ["export", str(run_copy)])
    assert result.exit_code == 0, result.output
    assert {n: (run_copy / n).read_bytes() for n in names} == before


def test_float_model_refused_where_int8_needed(trained_run):
    from tinykws.errors import ModelError
    from tinykws.export.quantize import verify_int8

    with pytest.raises(ModelError, match="float.tflite.*float model"):
        verify_int8((trained_run / "float.tflite").read_bytes(), "float.tflite")


def test_hybrid_model_refused(trained_run, tmp_path):
    import keras
    import tensorflow as tf

    from tinykws.errors import ModelError
    from tinykws.export.quantize import verify_int8

    model = keras.models.load_model(trained_run / "model.keras")
    model.export(str(tmp_path / "sm"), verbose=False)
    conv = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "sm"))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float activations
    with pytest.raises(ModelError, match="hybrid"):
        verify_int8(bytes(conv.convert()), "hybrid.tflite")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_tflite_is_exit_2_and_names_file(run_copy, tone_data, damage):
    path = run_copy / "int8.tflite"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncate" else b"\0" * 64)
    result = runner.invoke(app, ["check", str(run_copy), "--data-dir", str(tone_data)])
    assert result.exit_code == 2
    assert "int8.tflite" in result.output


def test_export_failure_leaves_no_partial_artifacts(run_copy):
    for name in ("int8.tflite", "float.tflite", "manifest.json"):
        (run_copy / name).unlink()
    shutil.rmtree(run_copy / "c")
    (run_copy / "model.keras").write_bytes(b"not a keras file")
    result = runner.invoke(app, ["export", str(run_copy)])
    assert result.exit_code != 0
    assert not (run_copy / "int8.tflite").exists() and not (run_copy / "c").exists()
    assert not list(run_copy.glob(".*tmp*"))
