"""Incremental inference (tinykws.codegen.incremental) is bit-identical to the full window.

A long random feature stream is cut into windows that slide by the hop; at
every hop position the incremental schedule (Python reference, and the
generated C on the host, also under ASan/UBSan) must give exactly what the
full-window computation gives: LiteRT's reference kernels (the MEAN tensor,
the last one that depends on time, and the model output) and the C engine's
own full-window invoke. Models whose time padding does not allow it are
refused with IncrementalError naming the layer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import codegen_models as cm
from tinykws.cli import app
from tinykws.codegen import IncrementalError, generate_engine
from tinykws.codegen.graph import parse_graph
from tinykws.codegen.host import CEngine, build_program, cortex_m4_flash_bytes, run_program
from tinykws.codegen.incremental import IncrementalReference, plan_incremental
from tinykws.codegen.lower import lower
from tinykws.toolchain import toolchain_available

HOP = 4  # frames per inference of the ds-cnn-s-stream preset (stream.infer_every_hops of its runs)
POSITIONS = 400


def train_stream_run(tone_data: Path, out: Path, width: str = "0.25") -> Path:
    """A ds-cnn-s-stream run (VALID in time) trained 2 epochs on the tone data and exported."""
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data-dir", str(tone_data), "--out", str(out), "--epochs", "2",
                                 "--width", width, "--batch-size", "32", "--preset", "ds-cnn-s-stream"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["export", str(out)])
    assert result.exit_code == 0, result.output
    return out


def valid_variety(seed: int = 3):
    """VALID in time with what the preset lacks: a stride 2 after the first layer, time dilation,
    a depth multiplier, a 1x3 SAME conv (width padding only)."""
    keras = cm._keras()
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((33, 8, 1), batch_size=1)
    x = L.ZeroPadding2D(((0, 0), (1, 1)))(x)
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(6, (5, 3))(x)))
    x = L.ZeroPadding2D(((0, 0), (1, 1)))(x)
    x = L.DepthwiseConv2D((3, 3), strides=(2, 1), depth_multiplier=2, activation="relu")(x)
    x = L.DepthwiseConv2D((2, 3), dilation_rate=(2, 1), padding="valid", activation="relu6")(x)
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(5, (1, 3), padding="same")(x)))
    out = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, L.Softmax()(out))
    cm.randomize_batchnorm(model, seed)
    return model


@pytest.fixture(scope="module")
def stream_model(tone_data: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    run = train_stream_run(tone_data, tmp_path_factory.mktemp("stream-preset") / "run")
    return (run / "int8.tflite").read_bytes()


@pytest.fixture(scope="module")
def variety_model() -> bytes:
    return cm.to_int8_tflite(valid_variety(), (33, 8, 1), rep_scale=2.0)


def windows_of_stream(n_frames: int, n_mfcc: int, hop: int, positions: int, seed: int) -> np.ndarray:
    """Every hop position of one random int8 feature stream, as flattened windows."""
    frames = np.random.default_rng(seed).integers(-128, 128, (n_frames + hop * (positions - 1), n_mfcc),
                                                  dtype=np.int8)
    return np.stack([frames[hop * p:hop * p + n_frames].reshape(-1) for p in range(positions)])


def litert_tensors(model: bytes, windows: np.ndarray, tensor: int) -> tuple[np.ndarray, np.ndarray]:
    """Full-window LiteRT reference kernels: the given intermediate tensor and the output, per window."""
    from ai_edge_litert import interpreter as litert

    it = litert.Interpreter(model_content=model, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
                            experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    inner, outputs = [], []
    for w in windows:
        it.set_tensor(inp["index"], w.reshape(inp["shape"]))
        it.invoke()
        inner.append(it.get_tensor(tensor).reshape(-1).copy())
        outputs.append(it.get_tensor(out["index"]).reshape(-1).copy())
    return np.stack(inner), np.stack(outputs)


def _plan(model: bytes, hop: int):
    return plan_incremental(lower(parse_graph(model, "m.tflite"), "tinykws"), hop)


def _shape(model: bytes) -> tuple[int, int]:
    graph = parse_graph(model, "m.tflite")
    return graph.tensor(graph.inputs[0]).shape[1], graph.tensor(graph.inputs[0]).shape[2]


CASES = [("stream_model", HOP), ("variety_model", 2), ("variety_model", 6)]


@pytest.mark.parametrize(("name", "hop"), CASES)
def test_python_reference_is_bit_identical_at_every_hop_position(request, name: str, hop: int) -> None:
    model = request.getfixturevalue(name)
    plan = _plan(model, hop)
    windows = windows_of_stream(*_shape(model), hop, POSITIONS, seed=hop)
    want_mean, _ = litert_tensors(model, windows, plan.mean.layer.output)
    reference = IncrementalReference(plan)
    got = np.stack([reference.invoke(w) for w in windows])
    assert np.array_equal(got, want_mean)
    assert len(np.unique(want_mean, axis=0)) > 10  # the pooled features do change
    reference.reset()  # and a reset starts a new stream
    assert np.array_equal(np.stack([reference.invoke(w) for w in windows[7:40]]), want_mean[7:40])


@pytest.mark.parametrize(("name", "hop"), CASES)
def test_c_engine_incremental_equals_full_window(request, name: str, hop: int, tmp_path: Path) -> None:
    model = request.getfixturevalue(name)
    engine = CEngine(model, tmp_path, incremental_hop=hop)
    windows = windows_of_stream(*_shape(model), hop, POSITIONS, seed=10 + hop)
    _, litert = litert_tensors(model, windows[:100], engine.engine.incremental.mean.layer.output)
    full = engine.run(windows)
    assert np.array_equal(engine.run_stream(windows), full)
    assert np.array_equal(engine.run_stream(windows[3:50]), full[3:50])  # after a reset
    assert np.abs(full[:100].astype(int) - litert).max() <= 1  # the C engine is TFLM's, LiteRT within 1 LSB
    # the briefly trained preset's softmax hardly moves on random features; the random-weight model's does
    assert name == "stream_model" or len(np.unique(full, axis=0)) > 10


@pytest.mark.parametrize(("name", "hop"), CASES[:2])
def test_c_engine_incremental_clean_under_sanitizers(request, name: str, hop: int, tmp_path: Path) -> None:
    model = request.getfixturevalue(name)
    engine = generate_engine(model, incremental_hop=hop)
    exe = build_program(engine, tmp_path, sanitize=True)
    windows = windows_of_stream(*_shape(model), hop, 150, seed=20 + hop)
    assert np.array_equal(run_program(exe, engine, windows, stream=True), run_program(exe, engine, windows))


def test_generated_stream_code_and_state_bytes(stream_model: bytes, tmp_path: Path) -> None:
    engine = generate_engine(stream_model, incremental_hop=HOP)
    plan = engine.incremental
    header, source = engine.files["tinykws.h"], engine.files["tinykws.c"]
    assert f"#define TINYKWS_STREAM_STATE_BYTES {plan.state_bytes}\n" in header
    assert f"#define TINYKWS_STREAM_HOP_FRAMES {HOP}\n" in header
    assert plan.state_bytes == plan.persistent_bytes + plan.transient_bytes + plan.sums_bytes
    channels = plan.mean.layer.field("channels")
    assert plan.sums_bytes == 4 * channels * (plan.mean.window_rows + 1)
    # per hop every layer computes 2 of its rows (the hop is 4 frames, the first conv strides 2 in time)
    assert [s.new_rows for s in plan.stages] == [HOP] + [2] * (len(plan.stages) - 1)
    assert [s.window_rows for s in plan.stages if s.kind == "depthwise"] == [18, 16, 14, 12]
    assert "tkw_stream.c" in engine.files and "tkw_stream.c" not in generate_engine(stream_model).files
    assert "_stream_invoke" not in generate_engine(stream_model).files["tinykws.c"]
    if shutil.which("arm-none-eabi-gcc") and shutil.which("arm-none-eabi-size"):
        assert cortex_m4_flash_bytes(engine, tmp_path) > 0  # -std=c99 -Wall -Wextra -Werror


def test_refuses_same_padding_in_time(trained_run: Path) -> None:
    with pytest.raises(IncrementalError, match=r"layer \d+ \(CONV_2D\): SAME padding in time.*VALID in time"):
        generate_engine((trained_run / "int8.tflite").read_bytes(), incremental_hop=HOP)


def test_refuses_residual_and_bad_hops(variety_model: bytes) -> None:
    residual = cm.to_int8_tflite(cm.residual(), (10, 8, 4))
    with pytest.raises(IncrementalError, match="branch or residual"):
        generate_engine(residual, incremental_hop=1)
    with pytest.raises(IncrementalError, match="not a multiple of the time stride 2"):
        generate_engine(variety_model, incremental_hop=3)
    with pytest.raises(IncrementalError, match="not shorter than the 33-frame window"):
        generate_engine(variety_model, incremental_hop=34)


@pytest.mark.qemu
@pytest.mark.parametrize("platform", ["cortex-m4", "cortex-m55"])
@pytest.mark.parametrize(("name", "hop"), CASES[:2])
def test_device_incremental_equals_full_window(request, name: str, hop: int, platform: str,
                                               tmp_path: Path) -> None:
    """In QEMU with the optimized kernels (DSP on the M4, Helium on the M55): the same bytes."""
    from tinykws.codegen.device import build_device_program, run_device_program

    ok, why = toolchain_available(platform)
    if not ok:
        pytest.skip(why)
    model = request.getfixturevalue(name)
    engine = generate_engine(model, incremental_hop=hop)
    elf = build_device_program(engine, tmp_path, platform=platform)
    windows = windows_of_stream(*_shape(model), hop, 80, seed=30 + hop)
    full = run_device_program(elf, engine, windows, platform=platform)
    stream = run_device_program(elf, engine, windows, platform=platform, stream=True)
    assert np.array_equal(stream.outputs, full.outputs)
    assert stream.instructions_min < full.instructions_min  # a hop costs less than a window
